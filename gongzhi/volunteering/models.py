"""Volunteering: the points ledger (积分), double entry and append-only.

Every movement of points is a LedgerTransaction whose LedgerEntry legs sum to zero. Entries and transactions
are never updated or deleted (database triggers, migration 0002); a correction is a reversing transaction that
points to what it reverses, at most once. Each account caches its balance, updated under a row lock in the
same database transaction as the entries; the database refuses a negative balance except on a community's
"issued" account, the source every point comes from.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from gongzhi.core.models import Region, Resident


class AccountKind(models.TextChoices):
    RESIDENT = "resident", _("Resident's passbook")
    AWARD_BUDGET = "award_budget", _("Community award budget")
    ISSUED = "issued", _("Points issued")
    REDEEMED = "redeemed", _("Points redeemed")


# Only the issuing account may go below zero: its negative balance is the points in circulation.
MAY_GO_NEGATIVE = (AccountKind.ISSUED,)


class PointsAccount(models.Model):
    """A resident's passbook (one per resident) or one of a community's system accounts (one per kind)."""

    Kind = AccountKind

    kind = models.CharField(_("kind"), max_length=16, choices=AccountKind.choices)
    community = models.ForeignKey(
        Region, on_delete=models.PROTECT, related_name="+", verbose_name=_("community")
    )
    resident = models.ForeignKey(
        Resident,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("resident"),
    )
    balance = models.BigIntegerField(_("balance"), default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("points account")
        verbose_name_plural = _("points accounts")
        constraints = [
            models.UniqueConstraint(
                fields=["resident"],
                condition=Q(resident__isnull=False),
                name="points_account_one_per_resident",
            ),
            models.UniqueConstraint(
                fields=["community", "kind"],
                condition=Q(resident__isnull=True),
                name="points_account_one_per_community_kind",
            ),
            models.CheckConstraint(
                condition=(Q(kind=AccountKind.RESIDENT) & Q(resident__isnull=False))
                | (~Q(kind=AccountKind.RESIDENT) & Q(resident__isnull=True)),
                name="points_account_resident_iff_passbook",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=MAY_GO_NEGATIVE) | Q(balance__gte=0),
                name="points_account_balance_not_negative",
            ),
        ]

    def __str__(self):
        return f"{self.kind}:{self.resident_id or self.community_id}"


class LedgerTransaction(models.Model):
    """One movement of points; its entries sum to zero. Append-only."""

    idempotency_key = models.CharField(max_length=200, unique=True)
    memo = models.CharField(_("memo"), max_length=200)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # One-to-one: a transaction is reversed at most once, and the database says so.
    reverses = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversal"
    )

    class Meta:
        verbose_name = _("ledger transaction")
        verbose_name_plural = _("ledger transactions")

    def __str__(self):
        return self.idempotency_key


class LedgerEntry(models.Model):
    """One leg of a transaction: points into (positive) or out of (negative) one account. Append-only."""

    transaction = models.ForeignKey(LedgerTransaction, on_delete=models.PROTECT, related_name="entries")
    account = models.ForeignKey(PointsAccount, on_delete=models.PROTECT, related_name="entries")
    amount = models.BigIntegerField(_("points"))
    # The transaction's time, copied so that a passbook reads from one index.
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="ledger_entry_amount_not_zero")]
        indexes = [models.Index(fields=["account", "created_at", "id"], name="ledger_entry_passbook")]

    def __str__(self):
        return f"{self.transaction_id}:{self.account_id} {self.amount:+d}"
