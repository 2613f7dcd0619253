"""Volunteering: the points ledger (积分), double entry and append-only.

Every movement of points is a LedgerTransaction whose LedgerEntry legs sum to zero. Entries and transactions
are never updated or deleted (database triggers, migration 0002); a correction is a reversing transaction that
points to what it reverses, at most once. Each account caches its balance, updated under a row lock in the
same database transaction as the entries; the database refuses a negative balance except on a community's
"issued" account, the source every point comes from.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from gongzhi.core.models import Organisation, Region, Resident


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


# ---------------------------------------------------------------------------------------------------------
# Volunteers, activities, sign-ups and verified hours
# ---------------------------------------------------------------------------------------------------------


class VolunteeringSettings(models.Model):
    """A community's own settings: when points expire, and who signs its volunteer certificates."""

    community = models.OneToOneField(
        Region, on_delete=models.PROTECT, related_name="+", verbose_name=_("community")
    )
    # Blank: points never expire. Hours never expire in any case.
    points_expire_after_years = models.PositiveSmallIntegerField(
        _("points expire after (years)"), null=True, blank=True
    )
    person_in_charge = models.CharField(_("person in charge"), max_length=50, blank=True)
    handler_name = models.CharField(_("certificate handler"), max_length=50, blank=True)
    handler_contact = models.CharField(_("handler's contact"), max_length=50, blank=True)

    class Meta:
        verbose_name = _("volunteering settings")
        verbose_name_plural = _("volunteering settings")
        constraints = [
            models.CheckConstraint(
                condition=Q(points_expire_after_years__isnull=True) | Q(points_expire_after_years__gte=1),
                name="volunteering_settings_expiry_at_least_a_year",
            )
        ]

    def __str__(self):
        return str(self.community_id)


class VolunteerProfile(models.Model):
    """A resident who volunteers: their volunteer number, personal QR token, skills and honour-roll choice.
    Hours are cached here (updated under a row lock on verification) and never expire."""

    resident = models.OneToOneField(
        Resident, on_delete=models.PROTECT, related_name="volunteer", verbose_name=_("resident")
    )
    number = models.CharField(_("volunteer number"), max_length=20, unique=True)
    qr_token = models.CharField(max_length=40, unique=True)
    skills = models.CharField(_("skills"), max_length=200, blank=True)
    on_honour_roll = models.BooleanField(_("show me on the honour roll"), default=False)
    hours = models.DecimalField(_("verified hours"), max_digits=9, decimal_places=2, default=0)
    no_shows = models.PositiveIntegerField(_("no-shows"), default=0)
    joined_at = models.DateTimeField(_("joined"), default=timezone.now)

    class Meta:
        verbose_name = _("volunteer")
        verbose_name_plural = _("volunteers")
        constraints = [models.CheckConstraint(condition=Q(hours__gte=0), name="volunteer_hours_not_negative")]

    def __str__(self):
        return self.number


class RiskLevel(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")


class PointsRule(models.TextChoices):
    PER_HOUR = "per_hour", _("Points per verified hour")
    FIXED = "fixed", _("A fixed number of points")


class ActivityStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    OPEN = "open", _("Open")
    CANCELLED = "cancelled", _("Cancelled")


class Activity(models.Model):
    """A volunteer activity published by a community or a provider organisation. Its points are paid out of
    the community's award budget, so that the community decides how many points exist."""

    Status = ActivityStatus

    community = models.ForeignKey(
        Region, on_delete=models.PROTECT, related_name="+", verbose_name=_("community")
    )
    # The audience: residents of this region's subtree (or everyone, when open_to_everyone).
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+", verbose_name=_("region"))
    open_to_everyone = models.BooleanField(_("open to residents of other communities"), default=False)
    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("organising organisation"),
    )
    title = models.CharField(_("title"), max_length=100)
    description = models.TextField(_("description"), blank=True)
    place = models.CharField(_("place"), max_length=200)
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    cancel_deadline = models.DateTimeField(_("cancel by"))
    capacity = models.PositiveIntegerField(_("places"))
    skills_wanted = models.CharField(_("skills wanted"), max_length=200, blank=True)
    min_age = models.PositiveSmallIntegerField(_("minimum age"), default=0)
    risk_level = models.CharField(_("risk level"), max_length=8, choices=RiskLevel.choices, default="low")
    insurance_confirmed_at = models.DateTimeField(_("insurance confirmed"), null=True, blank=True)
    insurance_note = models.CharField(_("insurance policy"), max_length=200, blank=True)
    points_rule = models.CharField(
        _("points rule"), max_length=8, choices=PointsRule.choices, default=PointsRule.PER_HOUR
    )
    points = models.PositiveIntegerField(_("points"), default=0)
    status = models.CharField(_("status"), max_length=12, choices=ActivityStatus.choices, default="draft")
    # The seed of the rotating check-in code; never shown.
    code_secret = models.CharField(max_length=40)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="activity_ends_after_start"),
            models.CheckConstraint(
                condition=Q(cancel_deadline__lte=F("starts_at")), name="activity_cancel_by_start"
            ),
            models.CheckConstraint(condition=Q(capacity__gte=1), name="activity_has_places"),
            models.CheckConstraint(
                condition=Q(status__in=ActivityStatus.values), name="activity_status_valid"
            ),
            models.CheckConstraint(condition=Q(risk_level__in=RiskLevel.values), name="activity_risk_valid"),
            models.CheckConstraint(
                condition=Q(points_rule__in=PointsRule.values), name="activity_rule_valid"
            ),
            # A risky activity cannot open until its insurance is confirmed.
            models.CheckConstraint(
                condition=~Q(status=ActivityStatus.OPEN)
                | Q(risk_level=RiskLevel.LOW)
                | Q(insurance_confirmed_at__isnull=False),
                name="activity_risky_open_insured",
            ),
        ]
        indexes = [models.Index(fields=["community", "starts_at"], name="activity_community_start")]

    def __str__(self):
        return self.title


class SignUpStatus(models.TextChoices):
    CONFIRMED = "confirmed", _("Signed up")
    WAITLISTED = "waitlisted", _("On the waiting list")
    CANCELLED = "cancelled", _("Cancelled")
    NO_SHOW = "no_show", _("Did not come")


class Verification(models.TextChoices):
    PENDING = "pending", _("Awaiting verification")
    APPROVED = "approved", _("Approved")
    ADJUSTED = "adjusted", _("Adjusted")
    REJECTED = "rejected", _("Rejected")


class CheckMethod(models.TextChoices):
    PERSONAL_CODE = "personal_code", _("Organiser scanned the volunteer's code")
    ACTIVITY_CODE = "activity_code", _("Volunteer scanned the activity's code")
    BY_HAND = "by_hand", _("Ticked off by the organiser")


class SignUp(models.Model):
    """One resident at one activity, from sign-up through attendance to verified hours. A verified sign-up is
    a line of the volunteer's permanent record (志愿服务记录)."""

    Status = SignUpStatus

    activity = models.ForeignKey(Activity, on_delete=models.PROTECT, related_name="signups")
    volunteer = models.ForeignKey(VolunteerProfile, on_delete=models.PROTECT, related_name="signups")
    status = models.CharField(_("status"), max_length=12, choices=SignUpStatus.choices)
    signed_up_at = models.DateTimeField(_("signed up"), default=timezone.now)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    checked_in_at = models.DateTimeField(_("checked in"), null=True, blank=True)
    checked_out_at = models.DateTimeField(_("checked out"), null=True, blank=True)
    check_method = models.CharField(max_length=16, choices=CheckMethod.choices, blank=True)
    verification = models.CharField(
        _("verification"), max_length=10, choices=Verification.choices, default=Verification.PENDING
    )
    hours = models.DecimalField(_("verified hours"), max_digits=6, decimal_places=2, null=True, blank=True)
    verification_reason = models.CharField(_("reason"), max_length=200, blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    verified_at = models.DateTimeField(_("verified"), null=True, blank=True)
    points_transaction = models.OneToOneField(
        LedgerTransaction, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("sign-up")
        verbose_name_plural = _("sign-ups")
        constraints = [
            models.UniqueConstraint(fields=["activity", "volunteer"], name="signup_once_per_activity"),
            models.CheckConstraint(condition=Q(status__in=SignUpStatus.values), name="signup_status_valid"),
            models.CheckConstraint(
                condition=Q(verification=Verification.PENDING)
                | (Q(verified_at__isnull=False) & Q(hours__isnull=False)),
                name="signup_verified_has_hours",
            ),
            models.CheckConstraint(
                condition=Q(hours__isnull=True) | Q(hours__gte=0), name="signup_hours_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(checked_out_at__isnull=True)
                | (Q(checked_in_at__isnull=False) & Q(checked_out_at__gte=F("checked_in_at"))),
                name="signup_out_after_in",
            ),
        ]
        indexes = [
            models.Index(fields=["activity", "status", "signed_up_at"], name="signup_activity_queue"),
            models.Index(fields=["volunteer", "verified_at"], name="signup_volunteer_record"),
        ]

    def __str__(self):
        return f"{self.activity_id}:{self.volunteer_id}"


class RecordNote(models.Model):
    """The rest of a volunteer record besides service: training, honours and evaluations."""

    class Kind(models.TextChoices):
        TRAINING = "training", _("Training")
        HONOUR = "honour", _("Honour")
        EVALUATION = "evaluation", _("Evaluation")

    volunteer = models.ForeignKey(VolunteerProfile, on_delete=models.PROTECT, related_name="notes")
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    title = models.CharField(_("title"), max_length=100)
    detail = models.TextField(_("detail"), blank=True)
    on_date = models.DateField(_("date"))
    community = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("record note")
        verbose_name_plural = _("record notes")
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["training", "honour", "evaluation"]), name="record_note_kind_valid"
            )
        ]

    def __str__(self):
        return self.title


class Certificate(models.Model):
    """A volunteer service certificate (志愿服务记录证明) as issued: every field is a snapshot, so that
    verifying it later shows what was certified, whatever happens to the record afterwards."""

    number = models.CharField(_("certificate number"), max_length=24, unique=True)
    volunteer = models.ForeignKey(VolunteerProfile, on_delete=models.PROTECT, related_name="certificates")
    community = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(_("name"), max_length=50)
    id_type = models.CharField(_("ID type"), max_length=40)
    id_number_masked = models.CharField(_("ID number"), max_length=24)
    volunteer_number = models.CharField(_("volunteer number"), max_length=20)
    hours = models.DecimalField(_("hours"), max_digits=9, decimal_places=2)
    activities = models.PositiveIntegerField(_("activities"))
    content = models.TextField(_("service content"))
    period_start = models.DateField(_("from"))
    period_end = models.DateField(_("to"))
    issuer = models.CharField(_("issuing organisation"), max_length=200)
    person_in_charge = models.CharField(_("person in charge"), max_length=50)
    handler_name = models.CharField(_("handler"), max_length=50)
    handler_contact = models.CharField(_("handler's contact"), max_length=50)
    issued_at = models.DateTimeField(_("issued"), default=timezone.now)
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("certificate")
        verbose_name_plural = _("certificates")

    def __str__(self):
        return self.number


# ---------------------------------------------------------------------------------------------------------
# The points supermarket (积分超市)
# ---------------------------------------------------------------------------------------------------------


class Outlet(models.Model):
    """Where points are spent: the community office, a shop, the vegetable plot, a provider."""

    class Kind(models.TextChoices):
        OFFICE = "office", _("Community office")
        SHOP = "shop", _("Shop")
        PLOT = "plot", _("Vegetable plot")
        PROVIDER = "provider", _("Service provider")

    community = models.ForeignKey(
        Region, on_delete=models.PROTECT, related_name="+", verbose_name=_("community")
    )
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    # Staff of this organisation hand items over too (a shop or a provider running the outlet).
    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("run by"),
    )
    address = models.CharField(_("address"), max_length=200, blank=True)
    opening_hours = models.CharField(_("opening hours"), max_length=100, blank=True)
    is_active = models.BooleanField(_("open"), default=True)

    class Meta:
        verbose_name = _("outlet")
        verbose_name_plural = _("outlets")
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["office", "shop", "plot", "provider"]), name="outlet_kind_valid"
            )
        ]

    def __str__(self):
        return self.name


class LimitPeriod(models.TextChoices):
    DAY = "day", _("per day")
    WEEK = "week", _("per week")
    MONTH = "month", _("per month")
    YEAR = "year", _("per year")


class Item(models.Model):
    """Something an outlet gives for points. Stock never goes below zero (a database constraint)."""

    outlet = models.ForeignKey(Outlet, on_delete=models.PROTECT, related_name="items")
    name = models.CharField(_("name"), max_length=100)
    description = models.CharField(_("description"), max_length=300, blank=True)
    unit = models.CharField(_("unit"), max_length=20, blank=True)
    price = models.PositiveIntegerField(_("price in points"))
    stock = models.PositiveIntegerField(_("in stock"))
    limit_per_person = models.PositiveSmallIntegerField(_("limit per person"), null=True, blank=True)
    limit_period = models.CharField(
        _("limit period"), max_length=8, choices=LimitPeriod.choices, default=LimitPeriod.MONTH
    )
    is_active = models.BooleanField(_("on sale"), default=True)

    class Meta:
        verbose_name = _("item")
        verbose_name_plural = _("items")
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=1), name="item_price_positive"),
            models.CheckConstraint(condition=Q(stock__gte=0), name="item_stock_not_negative"),
            models.CheckConstraint(
                condition=Q(limit_period__in=LimitPeriod.values), name="item_period_valid"
            ),
            models.CheckConstraint(
                condition=Q(limit_per_person__isnull=True) | Q(limit_per_person__gte=1),
                name="item_limit_positive",
            ),
        ]

    def __str__(self):
        return self.name


class RedemptionStatus(models.TextChoices):
    RESERVED = "reserved", _("Waiting to be collected")
    HANDED_OVER = "handed_over", _("Collected")
    CANCELLED = "cancelled", _("Cancelled")


class Redemption(models.Model):
    """A resident's purchase with points. Points and stock move together when it is made; the code (shown as
    a QR code) is scanned at the outlet to hand the item over; until then it can be cancelled, which reverses
    the points and restores the stock."""

    Status = RedemptionStatus

    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="redemptions")
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveSmallIntegerField(_("quantity"), default=1)
    points = models.PositiveIntegerField(_("points"))
    code = models.CharField(_("redemption code"), max_length=16, unique=True)
    # Idempotency: the request that made it (a form's one-time token), so a doubled submit redeems once.
    request_key = models.CharField(max_length=80, unique=True)
    status = models.CharField(
        _("status"), max_length=12, choices=RedemptionStatus.choices, default=RedemptionStatus.RESERVED
    )
    created_at = models.DateTimeField(_("redeemed"), default=timezone.now)
    handed_over_at = models.DateTimeField(_("collected"), null=True, blank=True)
    handed_over_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    cancelled_at = models.DateTimeField(_("cancelled"), null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    points_transaction = models.OneToOneField(LedgerTransaction, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("redemption")
        verbose_name_plural = _("redemptions")
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="redemption_quantity_positive"),
            models.CheckConstraint(
                condition=Q(status__in=RedemptionStatus.values), name="redemption_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status=RedemptionStatus.HANDED_OVER) | Q(handed_over_at__isnull=False),
                name="redemption_handed_over_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(status=RedemptionStatus.CANCELLED) | Q(cancelled_at__isnull=False),
                name="redemption_cancelled_has_time",
            ),
        ]
        indexes = [
            models.Index(fields=["item", "resident", "created_at"], name="redemption_limit"),
            models.Index(fields=["resident", "created_at"], name="redemption_mine"),
        ]

    def __str__(self):
        return self.code
