"""Reading the points ledger."""

from dataclasses import dataclass

from django.db.models import F, QuerySet, Sum, Window
from django.db.models.functions import Coalesce

from gongzhi.core.models import Resident
from gongzhi.volunteering.models import AccountKind, LedgerEntry, LedgerTransaction, PointsAccount


def passbook(resident: Resident) -> QuerySet[LedgerEntry]:
    """The resident's passbook (积分存折), newest first, like the paper one: each entry carries `created_at`
    (the date), `memo`, `amount` (points in when positive, out when negative) and `balance_after`, the running
    balance, computed by the database in the same single query with a window function."""
    return (
        LedgerEntry.objects.filter(account__kind=AccountKind.RESIDENT, account__resident=resident)
        .annotate(
            memo=F("transaction__memo"),
            balance_after=Window(
                Sum("amount"), partition_by=[F("account_id")], order_by=[F("created_at").asc(), F("id").asc()]
            ),
        )
        .order_by("-created_at", "-id")
    )


@dataclass(frozen=True)
class Drift:
    """What `ledger_drift` found: accounts whose cached balance is not the sum of their entries, and
    transactions whose entries do not sum to zero. Both empty on a sound ledger."""

    accounts: list[dict]
    transactions: list[dict]

    def __bool__(self) -> bool:
        return bool(self.accounts or self.transactions)


def ledger_drift() -> Drift:
    """Recomputes every balance and every transaction's total from the entries, in two grouped queries."""
    entries_total = Coalesce(Sum("entries__amount"), 0)
    accounts = (
        PointsAccount.objects.annotate(entries_total=entries_total)
        .exclude(balance=F("entries_total"))
        .values("id", "kind", "community_id", "resident_id", "balance", "entries_total")
        .order_by("id")
    )
    transactions = (
        LedgerTransaction.objects.annotate(entries_total=entries_total)
        .exclude(entries_total=0)
        .values("id", "idempotency_key", "entries_total")
        .order_by("id")
    )
    return Drift(accounts=list(accounts), transactions=list(transactions))
