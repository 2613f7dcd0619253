"""Reading the points ledger."""

from django.db.models import F, QuerySet, Sum, Window

from gongzhi.core.models import Resident
from gongzhi.volunteering.models import AccountKind, LedgerEntry


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
