"""Every write of the points ledger.

ledger_post is the only way points move. In one database transaction it records the transaction row (whose
unique idempotency key makes a retried or doubled request post once), locks the accounts it touches in
primary-key order (so two postings never deadlock), refuses a balance going below zero, updates the cached
balances and appends the entries. Corrections are reversing transactions (ledger_reverse), at most one per
transaction.
"""

from collections import defaultdict

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from gongzhi.core.exceptions import ServiceError
from gongzhi.core.models import Region, RegionLevel, Resident, User
from gongzhi.volunteering.models import (
    MAY_GO_NEGATIVE,
    AccountKind,
    LedgerEntry,
    LedgerTransaction,
    PointsAccount,
)

MEMO_MAX_LENGTH = LedgerTransaction._meta.get_field("memo").max_length
KEY_MAX_LENGTH = LedgerTransaction._meta.get_field("idempotency_key").max_length


def ledger_post(
    *,
    idempotency_key: str,
    memo: str,
    entries: list[tuple[PointsAccount, int]],
    created_by: User | None = None,
    reverses: LedgerTransaction | None = None,
) -> LedgerTransaction:
    """Posts a balanced transaction, or returns the one already posted under the same key."""
    if not idempotency_key or len(idempotency_key) > KEY_MAX_LENGTH:
        raise ServiceError(_("A ledger transaction needs an idempotency key of at most 200 characters."))
    if len(entries) < 2:
        raise ServiceError(_("A ledger transaction needs at least two entries."))
    deltas: dict[int, int] = defaultdict(int)
    for account, amount in entries:
        if isinstance(amount, bool) or not isinstance(amount, int) or amount == 0:
            raise ServiceError(_("Every ledger entry must move a whole, non-zero number of points."))
        if account.pk is None:
            raise ServiceError(_("A ledger entry needs a saved account."))
        deltas[account.pk] += amount
    if sum(amount for _account, amount in entries) != 0:
        raise ServiceError(_("The entries of a ledger transaction must sum to zero."))

    existing = LedgerTransaction.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing

    with transaction.atomic():
        if reverses is not None:
            # Lock the original: two reversals at once queue here and the second is told.
            LedgerTransaction.objects.select_for_update().filter(pk=reverses.pk).get()
            if LedgerTransaction.objects.filter(reverses=reverses).exists():
                raise ServiceError(_("This transaction has already been reversed."))
        try:
            with transaction.atomic():
                posted = LedgerTransaction.objects.create(
                    idempotency_key=idempotency_key,
                    memo=memo[:MEMO_MAX_LENGTH],
                    created_by=created_by,
                    reverses=reverses,
                )
        except IntegrityError:
            # Someone else posted under this key (or reversed the same transaction) and committed first.
            winner = LedgerTransaction.objects.filter(idempotency_key=idempotency_key).first()
            if winner is not None:
                return winner
            if reverses is not None:
                raise ServiceError(_("This transaction has already been reversed.")) from None
            raise

        locked = {
            account.pk: account
            for account in PointsAccount.objects.select_for_update().filter(pk__in=deltas).order_by("pk")
        }
        for pk, delta in deltas.items():
            account = locked[pk]
            if account.kind not in MAY_GO_NEGATIVE and account.balance + delta < 0:
                if account.kind == AccountKind.RESIDENT:
                    raise ServiceError(_("Not enough points."))
                if account.kind == AccountKind.AWARD_BUDGET:
                    raise ServiceError(_("The community's award budget is not enough."))
                raise ServiceError(_("This account cannot go below zero."))
        for pk, delta in deltas.items():
            if delta:
                PointsAccount.objects.filter(pk=pk).update(balance=F("balance") + delta)
        LedgerEntry.objects.bulk_create(
            LedgerEntry(
                transaction=posted, account_id=account.pk, amount=amount, created_at=posted.created_at
            )
            for account, amount in entries
        )

    # The caller's account objects show the new balances.
    for account, _amount in entries:
        account.balance = locked[account.pk].balance + deltas[account.pk]
    return posted


def ledger_reverse(
    *, transaction: LedgerTransaction, idempotency_key: str, memo: str, created_by: User | None = None
) -> LedgerTransaction:
    """Posts the opposite of a transaction's entries, pointing back to it. A transaction is reversed once."""
    original = transaction
    entries = [(entry.account, -entry.amount) for entry in original.entries.select_related("account")]
    return ledger_post(
        idempotency_key=idempotency_key, memo=memo, entries=entries, created_by=created_by, reverses=original
    )


def points_account_for(*, resident: Resident) -> PointsAccount:
    """The resident's passbook account, created on first use."""
    account, _created = PointsAccount.objects.get_or_create(
        kind=AccountKind.RESIDENT, resident=resident, defaults={"community_id": resident.community_id}
    )
    return account


def community_account(*, community: Region, kind: str) -> PointsAccount:
    """One of a community's system accounts (award budget, issued, redeemed), created on first use."""
    if kind == AccountKind.RESIDENT or kind not in AccountKind.values:
        raise ServiceError(_("This is not a kind of community account."))
    if community.level != RegionLevel.COMMUNITY:
        raise ServiceError(_("Points accounts belong to a community."))
    account, _created = PointsAccount.objects.get_or_create(kind=kind, community=community, resident=None)
    return account


def _positive_points(amount: int) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise ServiceError(_("Enter a whole number of points greater than zero."), field="amount")


def budget_fund(*, community: Region, amount: int, by: User, idempotency_key: str) -> LedgerTransaction:
    """The community sets aside points it may award: from its issued account into its award budget."""
    _positive_points(amount)
    issued = community_account(community=community, kind=AccountKind.ISSUED)
    budget = community_account(community=community, kind=AccountKind.AWARD_BUDGET)
    return ledger_post(
        idempotency_key=idempotency_key,
        memo=gettext_noop("Award budget funded"),
        entries=[(issued, -amount), (budget, amount)],
        created_by=by,
    )


def points_award(
    *, community: Region, resident: Resident, amount: int, reason: str, awarded_by: User, idempotency_key: str
) -> LedgerTransaction:
    """Awards a resident points for a contribution, with a reason, out of the community's award budget."""
    _positive_points(amount)
    reason = reason.strip()
    if not reason:
        raise ServiceError(_("Give a reason for the award."), field="reason")
    if resident.community_id != community.pk:
        raise ServiceError(_("This resident does not live in this community."))
    budget = community_account(community=community, kind=AccountKind.AWARD_BUDGET)
    passbook = points_account_for(resident=resident)
    return ledger_post(
        idempotency_key=idempotency_key,
        memo=reason,
        entries=[(budget, -amount), (passbook, amount)],
        created_by=awarded_by,
    )
