"""Every write of the points ledger.

ledger_post is the only way points move. In one database transaction it records the transaction row (whose
unique idempotency key makes a retried or doubled request post once), locks the accounts it touches in
primary-key order (so two postings never deadlock), refuses a balance going below zero, updates the cached
balances and appends the entries. Corrections are reversing transactions (ledger_reverse), at most one per
transaction.
"""

import datetime
import secrets
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum

from django.db import IntegrityError, transaction
from django.db.models import F, Q, Sum
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from gongzhi.core.codes import rotating_code, rotating_code_valid
from gongzhi.core.exceptions import ServiceError
from gongzhi.core.models import Organisation, Region, RegionLevel, Resident, User
from gongzhi.core.notifications import Channel, notify
from gongzhi.core.roles import Perm
from gongzhi.core.scope import has_perm_in, scope_organisation_ids
from gongzhi.core.services import clean_text, community_of, validate_or_raise
from gongzhi.core.workdays import years_before
from gongzhi.volunteering.models import (
    MAY_GO_NEGATIVE,
    AccountKind,
    Activity,
    ActivityStatus,
    Certificate,
    CheckMethod,
    Item,
    LedgerEntry,
    LedgerTransaction,
    LimitPeriod,
    Outlet,
    PointsAccount,
    PointsRule,
    RecordNote,
    Redemption,
    RedemptionStatus,
    RiskLevel,
    SignUp,
    SignUpStatus,
    Verification,
    VolunteeringSettings,
    VolunteerProfile,
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
    now: datetime.datetime | None = None,
) -> LedgerTransaction:
    """Posts a balanced transaction, or returns the one already posted under the same key. `now` is the
    moment of its source (the verification, the redemption), so a passbook shows when points moved."""
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
        return _same_posting(existing, deltas)

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
                    created_at=now or timezone.now(),
                )
        except IntegrityError:
            # Someone else posted under this key (or reversed the same transaction) and committed first.
            winner = LedgerTransaction.objects.filter(idempotency_key=idempotency_key).first()
            if winner is not None:
                return _same_posting(winner, deltas)
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


def _same_posting(posted: LedgerTransaction, deltas: dict[int, int]) -> LedgerTransaction:
    """A retry under a key already used must ask for the same movement; anything else is a bug in the caller
    (two different sources sharing a key), refused rather than silently swallowed."""
    recorded: dict[int, int] = defaultdict(int)
    for account_id, amount in posted.entries.values_list("account_id", "amount"):
        recorded[account_id] += amount
    if dict(recorded) != dict(deltas):
        raise ServiceError(_("This idempotency key was already used for a different transaction."))
    return posted


def ledger_reverse(
    *,
    transaction: LedgerTransaction,
    idempotency_key: str,
    memo: str,
    created_by: User | None = None,
    now: datetime.datetime | None = None,
) -> LedgerTransaction:
    """Posts the opposite of a transaction's entries, pointing back to it. A transaction is reversed once."""
    original = transaction
    entries = [(entry.account, -entry.amount) for entry in original.entries.select_related("account")]
    return ledger_post(
        idempotency_key=idempotency_key,
        memo=memo,
        entries=entries,
        created_by=created_by,
        reverses=original,
        now=now,
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


def budget_fund(
    *, community: Region, amount: int, by: User, idempotency_key: str, now: datetime.datetime | None = None
) -> LedgerTransaction:
    """The community sets aside points it may award: from its issued account into its award budget."""
    if not has_perm_in(by, Perm.FUND_POINTS, community):
        raise ServiceError(_("Only the community secretary can fund the award budget."))
    _positive_points(amount)
    issued = community_account(community=community, kind=AccountKind.ISSUED)
    budget = community_account(community=community, kind=AccountKind.AWARD_BUDGET)
    return ledger_post(
        idempotency_key=idempotency_key,
        memo=gettext_noop("Award budget funded"),
        entries=[(issued, -amount), (budget, amount)],
        created_by=by,
        now=now,
    )


def points_award(
    *,
    community: Region,
    resident: Resident,
    amount: int,
    reason: str,
    awarded_by: User,
    idempotency_key: str,
    now: datetime.datetime | None = None,
) -> LedgerTransaction:
    """Awards a resident points for a contribution, with a reason, out of the community's award budget."""
    _positive_points(amount)
    reason = reason.strip()
    if not reason:
        raise ServiceError(_("Give a reason for the award."), field="reason")
    if not has_perm_in(awarded_by, Perm.AWARD_POINTS, community):
        raise ServiceError(_("Only the community's staff can award points."))
    if resident.community_id != community.pk:
        raise ServiceError(_("This resident does not live in this community."))
    budget = community_account(community=community, kind=AccountKind.AWARD_BUDGET)
    passbook = points_account_for(resident=resident)
    return ledger_post(
        idempotency_key=idempotency_key,
        memo=reason,
        entries=[(budget, -amount), (passbook, amount)],
        created_by=awarded_by,
        now=now,
    )


# ---------------------------------------------------------------------------------------------------------
# Volunteers and activities
# ---------------------------------------------------------------------------------------------------------

# A volunteer may check in this long before the start, and out this long after the end.
CHECK_IN_OPENS = datetime.timedelta(hours=1)
CHECK_OUT_CLOSES = datetime.timedelta(hours=3)
# No-shows are marked this long after the end, when nobody checked them in.
NO_SHOW_AFTER = datetime.timedelta(hours=3)
MAX_HOURS_PER_ACTIVITY = Decimal("24")
QUARTER_HOUR = Decimal("0.25")


def _random_code(length: int, alphabet: str = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789") -> str:
    # No 0/O, 1/I: staff type these codes in when a scan fails.
    return "".join(secrets.choice(alphabet) for _i in range(length))


def volunteer_profile_for(*, resident: Resident) -> VolunteerProfile:
    """The resident's volunteer profile, made with a volunteer number and a personal QR token on first use."""
    existing = VolunteerProfile.objects.filter(resident=resident).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return VolunteerProfile.objects.create(
                resident=resident,
                # The community's id, then the resident's: unique, stable, and says where someone is from.
                number=f"ZY{resident.community_id:05d}{resident.pk:08d}",
                qr_token=secrets.token_urlsafe(24),
            )
    except IntegrityError:
        return VolunteerProfile.objects.get(resident=resident)


def volunteer_profile_update(*, volunteer: VolunteerProfile, skills: str, on_honour_roll: bool) -> None:
    volunteer.skills = clean_text(skills, field="skills", max_length=200, required=False)
    volunteer.on_honour_roll = bool(on_honour_roll)
    volunteer.save(update_fields=["skills", "on_honour_roll"])


def may_organise(user: User, activity: Activity) -> bool:
    """Community staff of the activity's area, or staff of the organisation that runs it."""
    if has_perm_in(user, Perm.MANAGE_VOLUNTEERING, activity.region):
        return True
    return bool(activity.organisation_id) and activity.organisation_id in scope_organisation_ids(
        user, Perm.ACT_FOR_ORGANISATION
    )


def _require_organiser(user: User, activity: Activity) -> None:
    if not may_organise(user, activity):
        raise ServiceError(_("Only the activity's organisers can do that."))


ACTIVITY_FIELDS = (
    "title",
    "description",
    "place",
    "starts_at",
    "ends_at",
    "cancel_deadline",
    "capacity",
    "skills_wanted",
    "min_age",
    "risk_level",
    "points_rule",
    "points",
    "open_to_everyone",
)


def _check_activity(activity: Activity, *, now: datetime.datetime) -> None:
    for name in ("starts_at", "ends_at", "cancel_deadline", "capacity"):
        if getattr(activity, name) is None:
            raise ServiceError(_("This field is required."), field=name)
    if (
        activity.status == ActivityStatus.OPEN
        and activity.risk_level != RiskLevel.LOW
        and activity.insurance_confirmed_at is None
    ):
        raise ServiceError(
            _("Confirm the volunteers' insurance before opening a risky activity."), field="risk_level"
        )
    if activity.starts_at and activity.ends_at and activity.ends_at <= activity.starts_at:
        raise ServiceError(_("The activity must end after it starts."), field="ends_at")
    if activity.ends_at - activity.starts_at > datetime.timedelta(days=7):
        raise ServiceError(
            _("An activity lasts at most seven days; publish longer work as several."), field="ends_at"
        )
    if activity.cancel_deadline > activity.starts_at:
        raise ServiceError(_("The cancellation deadline must be before the start."), field="cancel_deadline")
    if activity.status == ActivityStatus.DRAFT and activity.starts_at <= now:
        raise ServiceError(_("The start must be in the future."), field="starts_at")
    if activity.community_id != community_of(activity.region).pk:
        raise ServiceError(_("Choose a region within one community."), field="region")
    validate_or_raise(activity)


def activity_create(
    *,
    created_by: User,
    region: Region,
    organisation: Organisation | None = None,
    now: datetime.datetime | None = None,
    **fields,
) -> Activity:
    """A draft activity in a region (its audience), run by the community or by a provider organisation."""
    now = now or timezone.now()
    unknown = set(fields) - set(ACTIVITY_FIELDS)
    if unknown:
        raise ServiceError(_("Unknown activity fields: %(fields)s") % {"fields": ", ".join(sorted(unknown))})
    if region.level in (RegionLevel.CITY, RegionLevel.DISTRICT, RegionLevel.STREET):
        raise ServiceError(_("Choose a community or a place within one."), field="region")
    fields.setdefault("cancel_deadline", fields.get("starts_at"))
    activity = Activity(
        community=community_of(region),
        region=region,
        organisation=organisation,
        created_by=created_by,
        code_secret=secrets.token_urlsafe(24),
        **fields,
    )
    _require_organiser(created_by, activity)
    if (
        organisation is not None
        and not region.is_within(organisation.region)
        and not has_perm_in(created_by, Perm.MANAGE_VOLUNTEERING, region)
    ):
        raise ServiceError(_("An organisation publishes activities within its own area."), field="region")
    _check_activity(activity, now=now)
    activity.save()
    return activity


def _lock_activity(activity: Activity) -> Activity:
    return (
        Activity.objects.select_for_update(of=("self",))
        .select_related("region", "community")
        .get(pk=activity.pk)
    )


def activity_update(
    *, activity: Activity, by: User, now: datetime.datetime | None = None, **fields
) -> Activity:
    """Changes an activity that has not started. Places cannot drop below those already taken."""
    now = now or timezone.now()
    unknown = set(fields) - set(ACTIVITY_FIELDS)
    if unknown:
        raise ServiceError(_("Unknown activity fields: %(fields)s") % {"fields": ", ".join(sorted(unknown))})
    with transaction.atomic():
        activity = _lock_activity(activity)
        _require_organiser(by, activity)
        if activity.status == ActivityStatus.CANCELLED or activity.starts_at <= now:
            raise ServiceError(_("An activity can be changed only before it starts."))
        for name, value in fields.items():
            setattr(activity, name, value)
        if activity.status == ActivityStatus.OPEN and activity.starts_at <= now:
            raise ServiceError(_("The start must be in the future."), field="starts_at")
        taken = activity.signups.filter(status=SignUpStatus.CONFIRMED).count()
        if activity.capacity < taken:
            raise ServiceError(
                _("%(taken)s people have already signed up; the places cannot be fewer.") % {"taken": taken},
                field="capacity",
            )
        _check_activity(activity, now=now)
        activity.save()
        _promote_waitlist(activity, now=now)
    return activity


def activity_confirm_insurance(*, activity: Activity, by: User, policy: str) -> Activity:
    """Records that the volunteers of a risky activity are insured (the policy number or insurer)."""
    policy = clean_text(policy, field="policy", max_length=200)
    with transaction.atomic():
        activity = _lock_activity(activity)
        _require_organiser(by, activity)
        activity.insurance_confirmed_at = timezone.now()
        activity.insurance_note = policy
        activity.save(update_fields=["insurance_confirmed_at", "insurance_note"])
    return activity


def activity_open(*, activity: Activity, by: User, now: datetime.datetime | None = None) -> Activity:
    """Publishes a draft for sign-up. A medium or high risk activity needs its insurance confirmed first."""
    now = now or timezone.now()
    with transaction.atomic():
        activity = _lock_activity(activity)
        _require_organiser(by, activity)
        if activity.status != ActivityStatus.DRAFT:
            raise ServiceError(_("Only a draft can be opened for sign-up."))
        if activity.starts_at <= now:
            raise ServiceError(_("This activity has already started."))
        if activity.risk_level != RiskLevel.LOW and activity.insurance_confirmed_at is None:
            raise ServiceError(_("Confirm the volunteers' insurance before opening a risky activity."))
        activity.status = ActivityStatus.OPEN
        activity.save(update_fields=["status"])
    return activity


def activity_cancel(
    *, activity: Activity, by: User, reason: str, now: datetime.datetime | None = None
) -> Activity:
    """Calls an activity off before it ends and tells everyone who signed up or waits."""
    now = now or timezone.now()
    reason = clean_text(reason, field="reason", max_length=200)
    with transaction.atomic():
        activity = _lock_activity(activity)
        _require_organiser(by, activity)
        if activity.status == ActivityStatus.CANCELLED:
            raise ServiceError(_("This activity is already cancelled."))
        if now > activity.ends_at:
            raise ServiceError(_("This activity has already ended."))
        if activity.signups.exclude(verification=Verification.PENDING).exists():
            raise ServiceError(_("Hours have been verified for this activity; it cannot be cancelled."))
        activity.status = ActivityStatus.CANCELLED
        activity.save(update_fields=["status"])
        active = activity.signups.filter(status__in=[SignUpStatus.CONFIRMED, SignUpStatus.WAITLISTED])
        users = list(
            User.objects.filter(
                resident__volunteer__signups__in=active.values("pk"), is_active=True
            ).distinct()
        )
        active.update(status=SignUpStatus.CANCELLED, cancelled_at=now)
        notify(
            users=users,
            title=_("Activity cancelled: %(title)s") % {"title": activity.title},
            body=reason,
            url=_activity_url(activity),
            channels=(Channel.IN_APP, Channel.SMS),
        )
    return activity


def _activity_url(activity: Activity) -> str:
    return reverse("volunteering:activity", args=[activity.pk])


def _age_on(birth_date: datetime.date, day: datetime.date) -> int:
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def may_join(resident: Resident, activity: Activity) -> bool:
    """Whether the activity is meant for this resident: everyone, or residents of its region's subtree."""
    return activity.open_to_everyone or activity.region_id in resident.region.ancestor_ids()


def signup_create(*, activity: Activity, resident: Resident, now: datetime.datetime | None = None) -> SignUp:
    """Signs a resident up: a place while there are places, else the waiting list. The activity row is locked
    while the places are counted, so that concurrent sign-ups never overfill it."""
    now = now or timezone.now()
    with transaction.atomic():
        activity = _lock_activity(activity)
        if activity.status != ActivityStatus.OPEN:
            raise ServiceError(_("This activity is not open for sign-up."))
        if activity.starts_at <= now:
            raise ServiceError(_("Sign-up closed when the activity started."))
        if not may_join(resident, activity):
            raise ServiceError(
                _("This activity is for residents of %(region)s.") % {"region": activity.region}
            )
        if activity.min_age:
            if resident.birth_date is None:
                raise ServiceError(
                    _("This activity has a minimum age; ask the community to record your date of birth.")
                )
            if _age_on(resident.birth_date, timezone.localtime(activity.starts_at).date()) < activity.min_age:
                raise ServiceError(
                    _("This activity is for volunteers aged %(age)s and over.") % {"age": activity.min_age}
                )
        volunteer = volunteer_profile_for(resident=resident)
        signup = SignUp.objects.select_for_update().filter(activity=activity, volunteer=volunteer).first()
        if signup is not None and signup.status in (SignUpStatus.CONFIRMED, SignUpStatus.WAITLISTED):
            raise ServiceError(_("You have already signed up for this activity."))
        if signup is not None and signup.status == SignUpStatus.NO_SHOW:
            raise ServiceError(_("You were marked absent from this activity."))
        taken = activity.signups.filter(status=SignUpStatus.CONFIRMED).count()
        status = SignUpStatus.CONFIRMED if taken < activity.capacity else SignUpStatus.WAITLISTED
        if signup is None:
            signup = SignUp.objects.create(
                activity=activity, volunteer=volunteer, status=status, signed_up_at=now
            )
        else:
            # Signing up again after cancelling: back of the queue.
            signup.status, signup.signed_up_at, signup.cancelled_at = status, now, None
            signup.save(update_fields=["status", "signed_up_at", "cancelled_at"])
    return signup


def signup_cancel(*, signup: SignUp, by: User, now: datetime.datetime | None = None) -> SignUp:
    """The volunteer withdraws. A place given up before the cancellation deadline goes to the first person
    waiting; after the deadline a place cannot be given up (the organiser marks a no-show instead)."""
    now = now or timezone.now()
    with transaction.atomic():
        activity = _lock_activity(signup.activity)
        signup = (
            SignUp.objects.select_for_update(of=("self",))
            .select_related("volunteer__resident")
            .get(pk=signup.pk)
        )
        if signup.volunteer.resident.user_id != by.pk and not may_organise(by, activity):
            raise ServiceError(_("Only the volunteer or the organisers can cancel a sign-up."))
        if signup.status not in (SignUpStatus.CONFIRMED, SignUpStatus.WAITLISTED):
            raise ServiceError(_("This sign-up is not active."))
        if signup.checked_in_at is not None:
            raise ServiceError(_("You have already checked in."))
        was_confirmed = signup.status == SignUpStatus.CONFIRMED
        if was_confirmed and now > activity.cancel_deadline:
            raise ServiceError(
                _("The cancellation deadline has passed (%(deadline)s); please tell the organiser.")
                % {"deadline": timezone.localtime(activity.cancel_deadline).strftime("%Y-%m-%d %H:%M")}
            )
        signup.status, signup.cancelled_at = SignUpStatus.CANCELLED, now
        signup.save(update_fields=["status", "cancelled_at"])
        if was_confirmed:
            _promote_waitlist(activity, now=now)
    return signup


def _promote_waitlist(activity: Activity, *, now: datetime.datetime) -> None:
    """Fills free places from the waiting list, first come first served (the activity row is locked)."""
    if activity.status != ActivityStatus.OPEN or now > activity.cancel_deadline:
        return
    free = activity.capacity - activity.signups.filter(status=SignUpStatus.CONFIRMED).count()
    if free <= 0:
        return
    promoted = list(
        activity.signups.filter(status=SignUpStatus.WAITLISTED)
        .select_related("volunteer__resident__user")
        .order_by("signed_up_at", "pk")[:free]
    )
    if not promoted:
        return
    SignUp.objects.filter(pk__in=[s.pk for s in promoted]).update(status=SignUpStatus.CONFIRMED)
    notify(
        users=[s.volunteer.resident.user for s in promoted if s.volunteer.resident.user],
        title=_("A place is yours: %(title)s") % {"title": activity.title},
        body=timezone.localtime(activity.starts_at).strftime("%Y-%m-%d %H:%M"),
        url=_activity_url(activity),
        channels=(Channel.IN_APP, Channel.SMS),
    )


# Attendance ---------------------------------------------------------------------------------------------


def activity_code(activity: Activity, *, now: datetime.datetime | None = None, window_offset: int = 0) -> str:
    """The activity's rotating check-in code (gongzhi.core.codes)."""
    return rotating_code(activity.code_secret, now=now, window_offset=window_offset)


def activity_code_valid(activity: Activity, code: str, *, now: datetime.datetime | None = None) -> bool:
    return rotating_code_valid(activity.code_secret, code, now=now)


def _attending(signup: SignUp, activity: Activity, now: datetime.datetime) -> None:
    if activity.status != ActivityStatus.OPEN:
        raise ServiceError(_("This activity is not open."))
    if now < activity.starts_at - CHECK_IN_OPENS:
        raise ServiceError(_("Check-in opens an hour before the start."))
    if now > activity.ends_at + CHECK_OUT_CLOSES:
        raise ServiceError(_("Check-in and check-out have closed for this activity."))
    if signup.status == SignUpStatus.WAITLISTED:
        raise ServiceError(
            _("%(name)s is on the waiting list, not signed up.") % {"name": signup.volunteer.resident.name}
        )
    if signup.status != SignUpStatus.CONFIRMED and signup.status != SignUpStatus.NO_SHOW:
        raise ServiceError(
            _("%(name)s has no place at this activity.") % {"name": signup.volunteer.resident.name}
        )
    if signup.verification != Verification.PENDING:
        raise ServiceError(_("These hours have already been verified."))


def _scan(signup: SignUp, activity: Activity, *, method: str, now: datetime.datetime) -> SignUp:
    """Checks in on the first scan, out on the next one. A late arrival first marked absent is checked in."""
    _attending(signup, activity, now)
    if signup.checked_in_at is None:
        if now > activity.ends_at:
            raise ServiceError(_("The activity has ended; check-in is closed."))
        if signup.status == SignUpStatus.NO_SHOW:
            # Marked absent, then turned up after all: the absence no longer counts against them.
            VolunteerProfile.objects.filter(pk=signup.volunteer_id).update(no_shows=F("no_shows") - 1)
        signup.status, signup.checked_in_at, signup.check_method = SignUpStatus.CONFIRMED, now, method
    elif signup.checked_out_at is None:
        signup.checked_out_at = now
    else:
        raise ServiceError(_("%(name)s has already checked out.") % {"name": signup.volunteer.resident.name})
    signup.save(update_fields=["status", "checked_in_at", "checked_out_at", "check_method"])
    return signup


def _lock_signup(**lookup) -> SignUp:
    return SignUp.objects.select_for_update(of=("self",)).select_related("volunteer__resident").get(**lookup)


def checkin_by_activity_code(
    *, activity: Activity, resident: Resident, code: str, now: datetime.datetime | None = None
) -> SignUp:
    """The volunteer scans the activity's rotating QR code (or types its six digits)."""
    now = now or timezone.now()
    with transaction.atomic():
        activity = _lock_activity(activity)
        if not activity_code_valid(activity, code, now=now):
            raise ServiceError(
                _("This code is not valid or has expired; scan the code shown now."), field="code"
            )
        try:
            signup = _lock_signup(activity=activity, volunteer__resident=resident)
        except SignUp.DoesNotExist:
            raise ServiceError(_("You have not signed up for this activity.")) from None
        return _scan(signup, activity, method=CheckMethod.ACTIVITY_CODE, now=now)


def checkin_by_personal_code(
    *, activity: Activity, token: str, by: User, now: datetime.datetime | None = None
) -> SignUp:
    """The organiser scans the volunteer's personal QR code. The scanned text may be the whole link."""
    now = now or timezone.now()
    token = (token or "").strip().rstrip("/").rsplit("/", 1)[-1].split("=")[-1]
    with transaction.atomic():
        activity = _lock_activity(activity)
        _require_organiser(by, activity)
        try:
            signup = _lock_signup(activity=activity, volunteer__qr_token=token)
        except SignUp.DoesNotExist:
            raise ServiceError(
                _("This code belongs to nobody signed up for this activity."), field="token"
            ) from None
        return _scan(signup, activity, method=CheckMethod.PERSONAL_CODE, now=now)


def attendance_mark(*, signup: SignUp, by: User, action: str, now: datetime.datetime | None = None) -> SignUp:
    """The organiser ticks a volunteer off by hand: check_in, check_out, or no_show."""
    now = now or timezone.now()
    with transaction.atomic():
        activity = _lock_activity(signup.activity)
        _require_organiser(by, activity)
        signup = _lock_signup(pk=signup.pk)
        name = {"name": signup.volunteer.resident.name}
        if action == "check_in" and signup.checked_in_at is not None:
            raise ServiceError(_("%(name)s has already checked in.") % name)
        if action == "check_out" and signup.checked_in_at is None:
            raise ServiceError(_("%(name)s has not checked in.") % name)
        if action in ("check_in", "check_out"):
            return _scan(signup, activity, method=CheckMethod.BY_HAND, now=now)
        if action == "no_show":
            _attending(signup, activity, now)
            if now < activity.starts_at:
                raise ServiceError(_("Absence can be marked once the activity has started."))
            if signup.checked_in_at is not None:
                raise ServiceError(_("%(name)s checked in.") % {"name": signup.volunteer.resident.name})
            _mark_no_show(signup)
            return signup
        raise ServiceError(_("Unknown attendance action."))


def _mark_no_show(signup: SignUp) -> None:
    if signup.status == SignUpStatus.NO_SHOW:
        raise ServiceError(_("%(name)s is already marked absent.") % {"name": signup.volunteer.resident.name})
    signup.status = SignUpStatus.NO_SHOW
    signup.save(update_fields=["status"])
    VolunteerProfile.objects.filter(pk=signup.volunteer_id).update(no_shows=F("no_shows") + 1)


def no_shows_mark(*, now: datetime.datetime | None = None) -> int:
    """Periodic: marks absent everyone with a place who never checked in at an activity that has ended."""
    now = now or timezone.now()
    stale = SignUp.objects.filter(
        status=SignUpStatus.CONFIRMED,
        checked_in_at=None,
        activity__status=ActivityStatus.OPEN,
        activity__ends_at__lt=now - NO_SHOW_AFTER,
    )
    marked = 0
    for pk in stale.values_list("pk", flat=True)[:1000]:
        with transaction.atomic():
            signup = _lock_signup(pk=pk)
            if signup.status == SignUpStatus.CONFIRMED and signup.checked_in_at is None:
                _mark_no_show(signup)
                marked += 1
    return marked


# Verification -------------------------------------------------------------------------------------------


def hours_proposed(signup: SignUp, activity: Activity) -> Decimal:
    """The hours the record suggests: the time checked in within the activity's hours (the planned length if
    the volunteer never checked out), rounded down to a quarter hour."""
    if signup.checked_in_at is None:
        return Decimal(0)
    start = max(signup.checked_in_at, activity.starts_at)
    end = min(signup.checked_out_at or activity.ends_at, activity.ends_at)
    seconds = max(0, int((end - start).total_seconds()))
    quarters = seconds // 900
    return min(Decimal(quarters) * QUARTER_HOUR, MAX_HOURS_PER_ACTIVITY)


def points_for(activity: Activity, hours: Decimal) -> int:
    if hours <= 0 or activity.points <= 0:
        return 0
    if activity.points_rule == PointsRule.FIXED:
        return activity.points
    return int((hours * activity.points).to_integral_value(rounding=ROUND_HALF_UP))


class Decision(StrEnum):
    APPROVE = "approve"
    ADJUST = "adjust"
    REJECT = "reject"


def hours_verify(
    *,
    signup: SignUp,
    by: User,
    decision: str,
    hours: Decimal | None = None,
    reason: str = "",
    now: datetime.datetime | None = None,
) -> SignUp:
    """The organiser approves the proposed hours, adjusts them or rejects them (both with a reason).
    Verification is final: the hours join the volunteer's permanent record, and the points are paid out of the
    community's award budget in the same transaction, under a key that credits each person's hours once."""
    now = now or timezone.now()
    if decision not in set(Decision):
        raise ServiceError(_("Choose approve, adjust or reject."), field="decision")
    reason = clean_text(reason, field="reason", max_length=200, required=decision != Decision.APPROVE)
    with transaction.atomic():
        activity = _lock_activity(signup.activity)
        _require_organiser(by, activity)
        signup = _lock_signup(pk=signup.pk)
        if signup.verification != Verification.PENDING:
            raise ServiceError(_("These hours have already been verified."))
        if now < activity.starts_at:
            raise ServiceError(_("Hours are verified once the activity has started."))
        if activity.status != ActivityStatus.OPEN or signup.status not in (
            SignUpStatus.CONFIRMED,
            SignUpStatus.NO_SHOW,
        ):
            raise ServiceError(_("This sign-up is not active."))
        if decision == Decision.REJECT:
            verified_hours = Decimal(0)
        else:
            if signup.checked_in_at is None:
                raise ServiceError(
                    _("%(name)s never checked in; check them in first or reject.")
                    % {"name": signup.volunteer.resident.name}
                )
            verified_hours = (
                hours_proposed(signup, activity) if decision == Decision.APPROVE else _hours(hours)
            )
        signup.verification = {
            Decision.APPROVE: Verification.APPROVED,
            Decision.ADJUST: Verification.ADJUSTED,
            Decision.REJECT: Verification.REJECTED,
        }[Decision(decision)]
        signup.hours, signup.verification_reason = verified_hours, reason
        signup.verified_by, signup.verified_at = by, now
        points = points_for(activity, verified_hours)
        if points:
            budget = community_account(community=activity.community, kind=AccountKind.AWARD_BUDGET)
            passbook = points_account_for(resident=signup.volunteer.resident)
            signup.points_transaction = ledger_post(
                idempotency_key=f"activity:{activity.pk}:volunteer:{signup.volunteer_id}:hours",
                memo=activity.title,
                entries=[(budget, -points), (passbook, points)],
                created_by=by,
                now=now,
            )
        signup.save()
        if verified_hours:
            VolunteerProfile.objects.filter(pk=signup.volunteer_id).update(hours=F("hours") + verified_hours)
    return signup


def _hours(value) -> Decimal:
    try:
        hours = Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, TypeError, ValueError):
        raise ServiceError(_("Enter the hours as a number."), field="hours") from None
    if not Decimal(0) < hours <= MAX_HOURS_PER_ACTIVITY:
        raise ServiceError(_("Hours must be more than 0 and at most 24."), field="hours")
    return hours


# The volunteer record: notes and certificates ----------------------------------------------------------


def record_note_add(
    *, volunteer: VolunteerProfile, by: User, kind: str, title: str, detail: str = "", on_date: datetime.date
) -> RecordNote:
    """Adds training, an honour or an evaluation to a volunteer's record, by staff of their community."""
    community = volunteer.resident.community
    if not has_perm_in(by, Perm.MANAGE_VOLUNTEERING, community):
        raise ServiceError(_("Only staff of the volunteer's community can add to their record."))
    note = RecordNote(
        volunteer=volunteer,
        kind=kind,
        title=clean_text(title, field="title", max_length=100),
        detail=clean_text(detail, field="detail", max_length=2000, required=False),
        on_date=on_date,
        community=community,
        recorded_by=by,
    )
    validate_or_raise(note)
    note.save()
    return note


def settings_for(community: Region) -> VolunteeringSettings:
    settings_row, _created = VolunteeringSettings.objects.get_or_create(community=community)
    return settings_row


def settings_update(
    *,
    community: Region,
    by: User,
    points_expire_after_years: int | None,
    person_in_charge: str,
    handler_name: str,
    handler_contact: str,
) -> VolunteeringSettings:
    if not has_perm_in(by, Perm.FUND_POINTS, community):
        raise ServiceError(_("Only the community secretary can change these settings."))
    row = settings_for(community)
    row.points_expire_after_years = points_expire_after_years or None
    row.person_in_charge = clean_text(
        person_in_charge, field="person_in_charge", max_length=50, required=False
    )
    row.handler_name = clean_text(handler_name, field="handler_name", max_length=50, required=False)
    row.handler_contact = clean_text(handler_contact, field="handler_contact", max_length=50, required=False)
    validate_or_raise(row)
    row.save()
    return row


def certificate_issue(
    *, volunteer: VolunteerProfile, by: User, now: datetime.datetime | None = None
) -> Certificate:
    """A certificate of the volunteer's verified service in their community, as the 志愿服务记录与证明出具办法
    requires: name, ID type and masked number, volunteer number, hours and content, the issuing organisation,
    its person in charge, the handler and contact, a number and a date. The volunteer asks for it themselves
    (self-service) or staff of the community issue it."""
    now = now or timezone.now()
    resident = volunteer.resident
    community = resident.community
    if resident.user_id != by.pk and not has_perm_in(by, Perm.MANAGE_VOLUNTEERING, community):
        raise ServiceError(_("Only the volunteer or their community's staff can issue a certificate."))
    served = list(
        SignUp.objects.filter(volunteer=volunteer, hours__gt=0)
        .exclude(verification__in=[Verification.PENDING, Verification.REJECTED])
        .select_related("activity__organisation")
        .order_by("activity__starts_at")
    )
    if not served:
        raise ServiceError(_("There are no verified hours to certify yet."))
    row = settings_for(community)
    if not (row.person_in_charge and row.handler_name and row.handler_contact):
        raise ServiceError(
            _("The community has not yet named who signs its certificates; please ask the community office.")
        )
    content = "\n".join(
        f"{timezone.localtime(s.activity.starts_at):%Y-%m-%d} {s.activity.title} "
        f"({s.activity.organisation.name if s.activity.organisation else community.name}) {s.hours}"
        for s in served
    )
    certificate = Certificate(
        volunteer=volunteer,
        community=community,
        name=resident.name,
        id_type=gettext_noop("Resident identity card"),
        id_number_masked=resident.id_number_masked,
        volunteer_number=volunteer.number,
        hours=sum((s.hours for s in served), Decimal(0)),
        activities=len(served),
        content=content,
        period_start=timezone.localtime(served[0].activity.starts_at).date(),
        period_end=timezone.localtime(served[-1].activity.starts_at).date(),
        issuer=community.name,
        person_in_charge=row.person_in_charge,
        handler_name=row.handler_name,
        handler_contact=row.handler_contact,
        issued_at=now,
        issued_by=by,
    )
    for _attempt in range(5):
        certificate.number = f"ZYZM-{timezone.localtime(now):%Y}-{_random_code(8)}"
        try:
            with transaction.atomic():
                certificate.save()
            return certificate
        except IntegrityError:
            certificate.pk = None
    raise ServiceError(_("Could not issue a certificate number; please try again."))


# ---------------------------------------------------------------------------------------------------------
# The points supermarket
# ---------------------------------------------------------------------------------------------------------


def may_serve(user: User, outlet: Outlet) -> bool:
    """Community staff, or staff of the organisation that runs the outlet, hand items over and run it."""
    if has_perm_in(user, Perm.MANAGE_VOLUNTEERING, outlet.community):
        return True
    return bool(outlet.organisation_id) and outlet.organisation_id in scope_organisation_ids(
        user, Perm.ACT_FOR_ORGANISATION
    )


def outlet_save(*, outlet: Outlet, by: User) -> Outlet:
    """Creates or changes an outlet; only its community's staff may."""
    if outlet.community.level != RegionLevel.COMMUNITY:
        raise ServiceError(_("An outlet belongs to a community."), field="community")
    if not has_perm_in(by, Perm.MANAGE_VOLUNTEERING, outlet.community):
        raise ServiceError(_("Only the community's staff can manage its outlets."))
    validate_or_raise(outlet)
    outlet.save()
    return outlet


def item_save(*, item: Item, by: User) -> Item:
    """Creates an item, or saves one the caller has locked (item_update, item_restock)."""
    if not may_serve(by, item.outlet):
        raise ServiceError(_("Only the outlet's staff can manage its items."))
    validate_or_raise(item)
    item.save()
    return item


def _lock_item(item: Item) -> Item:
    return Item.objects.select_for_update(of=("self",)).select_related("outlet__community").get(pk=item.pk)


def item_update(*, item: Item, by: User, fields: dict, stock_seen: int | None = None) -> Item:
    """Saves an edited item. The stock the form showed may be stale (residents redeem while staff type), so
    the change made to it is applied to the stock as it is now, read under the item's row lock."""
    with transaction.atomic():
        item = _lock_item(item)
        current = item.stock
        change = fields.get("stock", current) - (current if stock_seen is None else stock_seen)
        for field, value in fields.items():
            setattr(item, field, value)
        item.stock = current + change
        if item.stock < 0:
            raise ServiceError(
                _("Only %(stock)s are in stock now; the stock cannot go below zero.") % {"stock": current},
                field="stock",
            )
        return item_save(item=item, by=by)


def item_restock(*, item: Item, by: User, add: int) -> Item:
    """Adds stock, under the item's row lock so that redemptions running meanwhile are not undone."""
    if isinstance(add, bool) or not isinstance(add, int) or add < 1:
        raise ServiceError(_("Enter how many to add: a whole number from 1."), field="add")
    with transaction.atomic():
        item = _lock_item(item)
        item.stock += add
        return item_save(item=item, by=by)


def _period_start(period: str, now: datetime.datetime) -> datetime.datetime:
    today = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == LimitPeriod.DAY:
        return today
    if period == LimitPeriod.WEEK:
        return today - datetime.timedelta(days=today.weekday())
    if period == LimitPeriod.MONTH:
        return today.replace(day=1)
    return today.replace(month=1, day=1)


REQUEST_TOKEN_MAX_LENGTH = 64


def redemption_create(
    *,
    item: Item,
    resident: Resident,
    request_token: str,
    quantity: int = 1,
    by: User | None = None,
    now: datetime.datetime | None = None,
) -> Redemption:
    """Spends points on an item. With the item row locked, the limit and the stock are checked, the points
    move from the passbook to the community's redeemed account, and the stock goes down: all together, or
    nothing. `request_token` comes from the form (or the API client), so a doubled request redeems once."""
    now = now or timezone.now()
    if not request_token or len(request_token) > REQUEST_TOKEN_MAX_LENGTH:
        raise ServiceError(_("This request has no valid token; reload the page and try again."))
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= 99:
        raise ServiceError(_("Choose a quantity from 1 to 99."), field="quantity")
    request_key = f"{resident.pk}:{request_token}"
    existing = Redemption.objects.filter(request_key=request_key).first()
    if existing is not None:
        return existing
    with transaction.atomic():
        item = _lock_item(item)
        existing = Redemption.objects.filter(request_key=request_key).first()
        if existing is not None:
            return existing
        if not (item.is_active and item.outlet.is_active):
            raise ServiceError(_("This item is not on sale."))
        if item.outlet.community_id != resident.community_id:
            raise ServiceError(_("Points are spent in your own community's outlets."))
        if item.stock < quantity:
            raise ServiceError(
                _("Sold out.") if item.stock == 0 else _("Only %(stock)s left.") % {"stock": item.stock},
                field="quantity",
            )
        if item.limit_per_person:
            taken = (
                Redemption.objects.filter(
                    item=item, resident=resident, created_at__gte=_period_start(item.limit_period, now)
                )
                .exclude(status=RedemptionStatus.CANCELLED)
                .aggregate(total=Sum("quantity"))["total"]
                or 0
            )
            if taken + quantity > item.limit_per_person:
                raise ServiceError(
                    _("The limit is %(limit)s %(period)s; you have %(taken)s already.")
                    % {
                        "limit": item.limit_per_person,
                        "period": item.get_limit_period_display(),
                        "taken": taken,
                    },
                    field="quantity",
                )
        points = item.price * quantity
        passbook = points_account_for(resident=resident)
        redeemed = community_account(community=item.outlet.community, kind=AccountKind.REDEEMED)
        posted = ledger_post(
            idempotency_key=f"redeem:{request_key}",
            memo=f"{item.name} ×{quantity}" if quantity > 1 else item.name,
            entries=[(passbook, -points), (redeemed, points)],
            created_by=by,
            now=now,
        )
        Item.objects.filter(pk=item.pk).update(stock=F("stock") - quantity)
        redemption = Redemption(
            item=item,
            resident=resident,
            quantity=quantity,
            points=points,
            request_key=request_key,
            created_at=now,
            points_transaction=posted,
        )
        for _attempt in range(5):
            redemption.code = _random_code(10)
            try:
                with transaction.atomic():
                    redemption.save()
                break
            except IntegrityError:
                redemption.pk = None
        else:
            raise ServiceError(_("Could not make a redemption code; please try again."))
    return redemption


def redemption_cancel(
    *, redemption: Redemption, by: User, now: datetime.datetime | None = None
) -> Redemption:
    """Before hand-over the resident or the outlet's staff can cancel: a reversing entry gives the points
    back and the stock is restored, in one transaction."""
    now = now or timezone.now()
    with transaction.atomic():
        item = _lock_item(redemption.item)
        redemption = (
            Redemption.objects.select_for_update(of=("self",))
            .select_related("resident")
            .get(pk=redemption.pk)
        )
        if redemption.resident.user_id != by.pk and not may_serve(by, item.outlet):
            raise ServiceError(_("Only the resident or the outlet's staff can cancel this."))
        _require_reserved(redemption)
        ledger_reverse(
            transaction=redemption.points_transaction,
            idempotency_key=f"redeem-cancel:{redemption.pk}",
            memo=redemption.points_transaction.memo,
            created_by=by,
            now=now,
        )
        Item.objects.filter(pk=item.pk).update(stock=F("stock") + redemption.quantity)
        redemption.status, redemption.cancelled_at, redemption.cancelled_by = (
            RedemptionStatus.CANCELLED,
            now,
            by,
        )
        redemption.save(update_fields=["status", "cancelled_at", "cancelled_by"])
    return redemption


def _require_reserved(redemption: Redemption) -> None:
    if redemption.status == RedemptionStatus.HANDED_OVER:
        raise ServiceError(
            _("This code was already used: the item was collected on %(when)s.")
            % {"when": timezone.localtime(redemption.handed_over_at).strftime("%Y-%m-%d %H:%M")}
        )
    if redemption.status == RedemptionStatus.CANCELLED:
        raise ServiceError(_("This redemption was cancelled."))


def redemption_code_normalise(code: str) -> str:
    """What a person types or a scanner reads: spaces, dashes and a link around the code are dropped."""
    code = (code or "").strip().rstrip("/").rsplit("/", 1)[-1].split("=")[-1]
    return "".join(ch for ch in code.upper() if ch.isalnum())


def redemption_hand_over(*, code: str, by: User, now: datetime.datetime | None = None) -> Redemption:
    """Outlet staff scan the resident's code and hand the item over. A code that is unknown, or belongs to an
    outlet the staff member does not serve, is refused the same way."""
    now = now or timezone.now()
    code = redemption_code_normalise(code)
    with transaction.atomic():
        redemption = (
            Redemption.objects.select_for_update(of=("self",))
            .select_related("item__outlet", "resident")
            .filter(code=code)
            .first()
        )
        if redemption is None or not may_serve(by, redemption.item.outlet):
            raise ServiceError(_("No such redemption code at your outlets."), field="code")
        _require_reserved(redemption)
        redemption.status, redemption.handed_over_at, redemption.handed_over_by = (
            RedemptionStatus.HANDED_OVER,
            now,
            by,
        )
        redemption.save(update_fields=["status", "handed_over_at", "handed_over_by"])
    return redemption


# Expiry -------------------------------------------------------------------------------------------------


def points_expire(*, now: datetime.datetime | None = None) -> int:
    """Periodic: in communities whose points expire after N years, each passbook loses the points earned
    before the cut-off that have not been spent since, oldest first (spending uses the oldest points).
    Reversed postings and their reversals count on neither side: a cancelled redemption neither spends nor
    renews points. The cut-off moves once a day (from the start of the local day), and each expiry posts
    under a key of the account and the day, so that every run of the same day finds the same amount and
    expires it once. One grouped query per community; hours never expire."""
    today = timezone.localtime(now or timezone.now()).replace(hour=0, minute=0, second=0, microsecond=0)
    standing = Q(entries__transaction__reverses__isnull=True, entries__transaction__reversal__isnull=True)
    expired = 0
    for row in VolunteeringSettings.objects.filter(points_expire_after_years__isnull=False).select_related(
        "community"
    ):
        cutoff = years_before(today, row.points_expire_after_years)
        accounts = (
            PointsAccount.objects.filter(community=row.community, kind=AccountKind.RESIDENT, balance__gt=0)
            .annotate(
                old_credits=Coalesce(
                    Sum(
                        "entries__amount",
                        filter=standing & Q(entries__amount__gt=0, entries__created_at__lt=cutoff),
                    ),
                    0,
                ),
                debits=Coalesce(Sum("entries__amount", filter=standing & Q(entries__amount__lt=0)), 0),
            )
            .filter(old_credits__gt=-F("debits"))
        )
        issued = community_account(community=row.community, kind=AccountKind.ISSUED)
        for account in accounts:
            amount = min(account.old_credits + account.debits, account.balance)
            if amount <= 0:
                continue
            try:
                ledger_post(
                    idempotency_key=f"expiry:{account.pk}:{today:%Y-%m-%d}",
                    memo=gettext_noop("Points expired"),
                    entries=[(account, -amount), (issued, amount)],
                    now=now,
                )
            except ServiceError:
                # The resident spent meanwhile; tomorrow's run takes what is left. One account never stops
                # the others.
                continue
            expired += amount
    return expired
