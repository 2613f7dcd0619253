"""Every write of sharing. A booking is checked against the resource's rules, then written with the resource
row locked: the places are counted and the person's quotas read under that lock, so two requests for the
last place queue and the second is told. On PostgreSQL an exclusion constraint refuses overlapping bookings
of an exclusive resource even if this code were wrong; on SQLite every transaction is immediate (settings),
which serialises writers the same way."""

import datetime
import re
from decimal import ROUND_CEILING, Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from gongzhi.core.exceptions import ServiceError
from gongzhi.core.images import image_clean
from gongzhi.core.models import Organisation, Region, RoleAssignment, User
from gongzhi.core.notifications import Channel, notify
from gongzhi.core.roles import Perm
from gongzhi.core.scope import acts_as_superuser, has_perm_in, scope_organisation_ids
from gongzhi.core.selectors import resident_record_of
from gongzhi.core.services import clean_text, community_of, validate_or_raise
from gongzhi.sharing import rules
from gongzhi.sharing.models import (
    ACTIVE,
    Blackout,
    Booking,
    Feed,
    OpeningHours,
    Photo,
    PriceKind,
    PricePer,
    Resource,
    Series,
    Status,
    new_token,
)
from gongzhi.volunteering import services as points

NO_SHOW_DAYS = 30
REMINDER_LEAD = datetime.timedelta(hours=2)
MAX_SERIES_WEEKS = 26
MAX_PHOTOS = 9
REQUEST_TOKEN_MAX_LENGTH = 64
# 京A12345, 川A·D12345 (new-energy plates have six characters after the letter).
PLATE_RE = re.compile(
    r"^[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼使领][A-Z][A-HJ-NP-Z0-9]{4,5}[A-HJ-NP-Z0-9挂学警港澳]$"
)


# Who may do what -----------------------------------------------------------------------------------------


def may_manage(user: User, resource: Resource) -> bool:
    """The owner's staff: the organisation's for its resources, the community's for the community's own."""
    if acts_as_superuser(user):
        return True
    if resource.organisation_id:
        return resource.organisation_id in scope_organisation_ids(user, Perm.ACT_FOR_ORGANISATION)
    return has_perm_in(user, Perm.MANAGE_SHARING, resource.community)


def _require_manager(user: User, resource: Resource) -> None:
    if not may_manage(user, resource):
        raise ServiceError(_("Only the resource's owner can do that."))


def _is_audience(resource: Resource, *, resident, organisation: Organisation | None) -> bool:
    if organisation is not None:
        return resource.audience_organisations.filter(pk=organisation.pk).exists()
    if resident is None:
        return False
    regions = list(resource.audience_regions.all())
    if not regions and not resource.audience_organisations.exists():
        return resident.community_id == resource.community_id
    return any(resident.region.path.startswith(region.path) for region in regions)


# Resources -----------------------------------------------------------------------------------------------


def resource_save(
    *,
    resource: Resource,
    by: User,
    hours: list[rules.Hours] | None = None,
    audience_regions: list[Region] | None = None,
    audience_organisations: list[Organisation] | None = None,
) -> Resource:
    """Lists a resource or changes it. The region fixes its community; an organisation lists only its own
    resources and only where it sits. Changing between exclusive and pooled is refused while bookings are
    ahead, since each booking was checked one way or the other."""
    if resource.region_id is None:
        raise ServiceError(_("Choose where the resource is."), field="region")
    resource.community = community_of(resource.region)
    organisation = resource.organisation
    # A unit registered in the street may open its canteen in any of the street's communities.
    if organisation is not None and not (
        resource.community.is_within(organisation.region) or organisation.region.is_within(resource.community)
    ):
        raise ServiceError(_("An organisation lists resources within its own area."), field="region")
    _require_manager(by, resource)
    try:
        resource.price_amount = Decimal(str(resource.price_amount or 0))
    except InvalidOperation:
        raise ServiceError(_("Give the price as a number."), field="price_amount") from None
    if resource.price_kind == PriceKind.FREE:
        resource.price_amount = Decimal(0)
    elif resource.price_amount <= 0:
        raise ServiceError(_("Give the price, or make it free."), field="price_amount")
    if (
        resource.price_kind == PriceKind.POINTS
        and resource.price_amount != resource.price_amount.to_integral()
    ):
        raise ServiceError(_("Points are whole numbers."), field="price_amount")
    if resource.created_by_id is None:
        resource.created_by = by
    validate_or_raise(resource)
    with transaction.atomic():
        if resource.pk is not None:
            before = Resource.objects.select_for_update().get(pk=resource.pk)
            if before.is_exclusive != resource.is_exclusive and _bookings_ahead(resource).exists():
                raise ServiceError(
                    _("Bookings lie ahead; exclusive and pooled use cannot be switched until they pass."),
                    field="capacity",
                )
        resource.save()
        if hours is not None:
            _hours_replace(resource, hours)
        if audience_regions is not None:
            resource.audience_regions.set(audience_regions)
        if audience_organisations is not None:
            resource.audience_organisations.set(audience_organisations)
    return resource


def _hours_replace(resource: Resource, hours: list[rules.Hours]) -> None:
    seen = set()
    for period in hours:
        if not 0 <= period.weekday <= 6:
            raise ServiceError(_("A weekday is from Monday to Sunday."), field="hours")
        if (period.weekday, period.opens) in seen:
            raise ServiceError(_("Two periods start at the same time on the same day."), field="hours")
        seen.add((period.weekday, period.opens))
    OpeningHours.objects.filter(resource=resource).delete()
    OpeningHours.objects.bulk_create(
        OpeningHours(resource=resource, weekday=p.weekday, opens=p.opens, closes=p.closes) for p in hours
    )


def _bookings_ahead(resource: Resource):
    return Booking.objects.filter(resource=resource, status__in=ACTIVE, ends_at__gt=timezone.now())


def hours_of(resource: Resource) -> list[rules.Hours]:
    return [rules.Hours(h.weekday, h.opens, h.closes) for h in resource.hours.all()]


def blackout_add(
    *, resource: Resource, by: User, first_day: datetime.date, last_day: datetime.date, reason: str = ""
) -> Blackout:
    """Closes the resource on these days. Bookings already made for them are cancelled (points refunded) and
    their bookers told why: the owner decided, and the bookers must hear it at once."""
    _require_manager(by, resource)
    if last_day < first_day:
        raise ServiceError(_("The last day cannot be before the first."), field="last_day")
    reason = clean_text(reason, field="reason", max_length=200, required=False)
    closed = (rules.at(first_day, datetime.time()), rules.at(last_day + rules.DAY, datetime.time()))
    with transaction.atomic():
        resource = _lock(resource)
        blackout = Blackout.objects.create(
            resource=resource, first_day=first_day, last_day=last_day, reason=reason
        )
        hit = Booking.objects.filter(
            resource=resource, status__in=ACTIVE, starts_at__lt=closed[1], ends_at__gt=closed[0]
        )
        for booking in hit.select_related("resource"):
            _cancel(
                booking, by=by, reason=reason or _("The resource is closed that day."), now=timezone.now()
            )
    return blackout


def blackout_remove(*, blackout: Blackout, by: User) -> None:
    _require_manager(by, blackout.resource)
    blackout.delete()


def photo_add(*, resource: Resource, by: User, upload) -> Photo:
    _require_manager(by, resource)
    if resource.photos.count() >= MAX_PHOTOS:
        raise ServiceError(_("At most 9 photos."), field="photo")
    photo = Photo(resource=resource)
    photo.image.save(upload.name, image_clean(upload), save=False)
    photo.save()
    return photo


def checkin_token_renew(*, resource: Resource, by: User) -> Resource:
    """A new printed code: the old poster stops working."""
    _require_manager(by, resource)
    resource.checkin_token = new_token()
    resource.save(update_fields=["checkin_token"])
    return resource


# Booking -------------------------------------------------------------------------------------------------


def _lock(resource: Resource) -> Resource:
    return Resource.objects.select_for_update().get(pk=resource.pk)


def limits_of(resource: Resource) -> rules.Limits:
    return rules.Limits(
        slot_minutes=resource.slot_minutes,
        min_minutes=resource.min_minutes,
        max_minutes=resource.max_minutes,
        book_ahead_days=resource.book_ahead_days,
        buffer_minutes=resource.buffer_minutes,
    )


def _price(resource: Resource, start: datetime.datetime, end: datetime.datetime, party_size: int) -> Decimal:
    if resource.price_kind == PriceKind.FREE:
        return Decimal(0)
    amount = resource.price_amount * party_size
    if resource.price_per == PricePer.HOUR:
        amount *= Decimal((end - start) // datetime.timedelta(minutes=1)) / 60
    if resource.price_kind == PriceKind.POINTS:
        return amount.to_integral_value(rounding=ROUND_CEILING)
    return amount.quantize(Decimal("0.01"), rounding=ROUND_CEILING)


def normalise_plate(plate: str) -> str:
    return re.sub(r"[\s·.\-]", "", plate or "").upper()


def _check_request(resource: Resource, *, party_size: int, plate: str) -> str:
    if not resource.is_active:
        raise ServiceError(_("This resource is not taking bookings."))
    if isinstance(party_size, bool) or not isinstance(party_size, int) or party_size < 1:
        raise ServiceError(_("Book at least one place."), field="party_size")
    if resource.is_exclusive and party_size != 1:
        raise ServiceError(_("This resource is booked whole; leave the places at 1."), field="party_size")
    if party_size > resource.capacity:
        raise ServiceError(
            _("The resource has %(capacity)s places.") % {"capacity": resource.capacity}, field="party_size"
        )
    plate = normalise_plate(plate)
    if resource.needs_plate and not plate:
        raise ServiceError(_("Give the vehicle plate."), field="plate")
    if plate and not PLATE_RE.match(plate):
        raise ServiceError(_("This is not a vehicle plate, e.g. 川A12345."), field="plate")
    return plate


def _holder(*, resident, organisation) -> Q:
    """Bookings of the same person (or organisation), for quotas."""
    return Q(organisation=organisation) if organisation is not None else Q(resident=resident)


def _check_quotas(resource: Resource, holder: Q, start, end, now) -> None:
    theirs = Booking.objects.filter(holder, resource=resource)
    since = now - datetime.timedelta(days=NO_SHOW_DAYS)
    if resource.no_show_limit:
        no_shows = theirs.filter(status=Status.NO_SHOW, starts_at__gte=since).count()
        if no_shows >= resource.no_show_limit:
            raise ServiceError(
                _("Booking is paused: %(count)s bookings were not used in the last %(days)s days.")
                % {"count": no_shows, "days": NO_SHOW_DAYS}
            )
    if resource.bookings_at_once is not None:
        held = theirs.filter(status__in=ACTIVE, ends_at__gt=now).count()
        if held >= resource.bookings_at_once:
            raise ServiceError(
                _("You may hold %(limit)s bookings of this resource at once.")
                % {"limit": resource.bookings_at_once}
            )
    if resource.hours_per_week is not None:
        monday = rules.week_start(rules.local_day(start))
        week = (rules.at(monday, datetime.time()), rules.at(monday + 7 * rules.DAY, datetime.time()))
        # A no-show keeps counting: the hours were held from others.
        counted = theirs.filter(
            status__in=(*ACTIVE, Status.NO_SHOW), starts_at__lt=week[1], ends_at__gt=week[0]
        ).values_list("starts_at", "ends_at")
        used = rules.hours_in_week(list(counted) + [(start, end)], monday)
        if used > datetime.timedelta(hours=resource.hours_per_week):
            raise ServiceError(
                _("This goes over the %(hours)s hours a person may book in a week.")
                % {"hours": resource.hours_per_week},
                field="ends_at",
            )


def _check_room(resource: Resource, start, blocked_until, party_size: int) -> None:
    held = Booking.objects.filter(
        resource=resource, status__in=ACTIVE, starts_at__lt=blocked_until, blocked_until__gt=start
    )
    if resource.is_exclusive:
        if held.exists():
            raise ServiceError(_("This time is already booked."), field="starts_at")
        return
    taken = rules.peak_occupancy(
        (start, blocked_until), held.values_list("starts_at", "blocked_until", "party_size")
    )
    left = resource.capacity - taken
    if party_size > left:
        raise ServiceError(
            _("Fully booked at this time.")
            if left <= 0
            else _("Only %(left)s places are left at this time.") % {"left": left},
            field="party_size",
        )


def booking_create(
    *,
    resource: Resource,
    by: User,
    starts_at: datetime.datetime,
    ends_at: datetime.datetime,
    request_token: str,
    party_size: int = 1,
    plate: str = "",
    note: str = "",
    organisation: Organisation | None = None,
    series: Series | None = None,
    now: datetime.datetime | None = None,
) -> Booking:
    """Books the interval for the signed-in resident, or for `organisation` when its staff book. Everything
    is checked before anything is written; the room is checked again under the resource's lock."""
    now = now or timezone.now()
    if not request_token or len(request_token) > REQUEST_TOKEN_MAX_LENGTH:
        raise ServiceError(_("This request has no valid token; reload the page and try again."))
    request_key = f"{by.pk}:{request_token}"
    existing = Booking.objects.filter(request_key=request_key).first()
    if existing is not None:
        return existing
    if organisation is not None and organisation.pk not in scope_organisation_ids(
        by, Perm.ACT_FOR_ORGANISATION
    ):
        raise ServiceError(_("You do not act for this organisation."))
    resident = None if organisation is not None else resident_record_of(by)
    if organisation is None and resident is None:
        raise ServiceError(_("Claim your resident record before booking."))
    if not _is_audience(resource, resident=resident, organisation=organisation):
        raise ServiceError(_("This resource is not open to you."))
    plate = _check_request(resource, party_size=party_size, plate=plate)
    note = clean_text(note, field="note", max_length=200, required=False)
    rules.check_times(
        start=starts_at,
        end=ends_at,
        limits=limits_of(resource),
        hours=hours_of(resource),
        blackouts=resource.blackouts.values_list("first_day", "last_day"),
        now=now,
    )
    price = _price(resource, starts_at, ends_at, party_size)
    if resource.price_kind == PriceKind.POINTS and resident is None:
        raise ServiceError(_("Points are paid from a resident's passbook; book as a resident."))
    blocked_until = ends_at + datetime.timedelta(minutes=resource.buffer_minutes)
    with transaction.atomic():
        resource = _lock(resource)
        existing = Booking.objects.filter(request_key=request_key).first()
        if existing is not None:
            return existing
        _check_quotas(
            resource, _holder(resident=resident, organisation=organisation), starts_at, ends_at, now
        )
        _check_room(resource, starts_at, blocked_until, party_size)
        booking = Booking(
            resource=resource,
            booked_by=by,
            resident=resident,
            organisation=organisation,
            series=series,
            starts_at=starts_at,
            ends_at=ends_at,
            blocked_until=blocked_until,
            release_at=starts_at + datetime.timedelta(minutes=resource.release_after_minutes),
            exclusive=resource.is_exclusive,
            party_size=party_size,
            plate=plate,
            note=note,
            status=Status.PENDING if resource.needs_approval else Status.CONFIRMED,
            price_kind=resource.price_kind,
            price_due=price,
            request_key=request_key,
            created_at=now,
        )
        if resource.price_kind == PriceKind.POINTS:
            booking.points_transaction = points.ledger_post(
                idempotency_key=f"booking:{request_key}",
                memo=resource.name,
                entries=[
                    (points.points_account_for(resident=resident), -int(price)),
                    (points.community_account(community=resource.community, kind="redeemed"), int(price)),
                ],
                created_by=by,
                now=now,
            )
        try:
            with transaction.atomic():
                booking.save()
        except IntegrityError as error:
            # The exclusion constraint: another transaction took the interval (if the lock were bypassed).
            raise ServiceError(_("This time is already booked."), field="starts_at") from error
    if booking.status == Status.PENDING:
        _tell_managers(resource, _("A booking of %(name)s awaits approval") % {"name": resource.name})
    return booking


def booking_series_create(
    *,
    resource: Resource,
    by: User,
    starts_at: datetime.datetime,
    ends_at: datetime.datetime,
    weeks: int,
    skip_conflicts: bool,
    request_token: str,
    party_size: int = 1,
    plate: str = "",
    note: str = "",
    organisation: Organisation | None = None,
    now: datetime.datetime | None = None,
) -> Series:
    """Books the same hours every week for `weeks` weeks. A date that cannot be booked is skipped and listed
    if the booker chose so; otherwise one such date books nothing at all."""
    if isinstance(weeks, bool) or not isinstance(weeks, int) or not 2 <= weeks <= MAX_SERIES_WEEKS:
        raise ServiceError(
            _("A weekly booking runs for 2 to %(weeks)s weeks.") % {"weeks": MAX_SERIES_WEEKS}, field="weeks"
        )
    if not request_token or len(request_token) > REQUEST_TOKEN_MAX_LENGTH - 3:
        raise ServiceError(_("This request has no valid token; reload the page and try again."))
    # A doubled request finds the series by its first week, which every series books.
    first = Booking.objects.filter(request_key=f"{by.pk}:{request_token}:0").select_related("series").first()
    if first is not None and first.series is not None:
        return first.series
    try:
        return _series_book(
            resource=resource,
            by=by,
            starts_at=starts_at,
            ends_at=ends_at,
            weeks=weeks,
            skip_conflicts=skip_conflicts,
            request_token=request_token,
            fields={"party_size": party_size, "plate": plate, "note": note, "organisation": organisation},
            now=now,
        )
    except _DoubledSeries as doubled:
        return doubled.series


class _DoubledSeries(Exception):
    """The same request, sent twice at once, booked its first week in the other transaction."""

    def __init__(self, series: Series):
        self.series = series


def _series_book(
    *, resource, by, starts_at, ends_at, weeks, skip_conflicts, request_token, fields, now
) -> Series:
    skipped: list[dict] = []
    with transaction.atomic():
        series = Series.objects.create(resource=resource, booked_by=by, weeks=weeks)
        for week in range(weeks):
            # Local wall-clock arithmetic: the same hours each week (no daylight saving in Asia/Shanghai).
            start = rules.at(
                rules.local_day(starts_at) + week * 7 * rules.DAY, timezone.localtime(starts_at).time()
            )
            end = start + (ends_at - starts_at)
            try:
                with transaction.atomic():
                    booking = booking_create(
                        resource=resource,
                        by=by,
                        starts_at=start,
                        ends_at=end,
                        request_token=f"{request_token}:{week}",
                        series=series,
                        now=now,
                        **fields,
                    )
            except ServiceError as error:
                if week == 0 or not skip_conflicts:
                    raise ServiceError(
                        _("%(day)s cannot be booked: %(reason)s")
                        % {"day": start.date(), "reason": error.message},
                        field=error.field,
                    ) from error
                skipped.append({"day": rules.local_day(start).isoformat(), "reason": str(error.message)})
                continue
            if week == 0 and booking.series_id != series.pk:
                raise _DoubledSeries(booking.series)
        series.skipped = skipped
        series.save(update_fields=["skipped"])
    return series


def _lock_booking(booking: Booking) -> Booking:
    return Booking.objects.select_for_update(of=("self",)).select_related("resource").get(pk=booking.pk)


def _refund(booking: Booking, *, by: User, now: datetime.datetime) -> None:
    if booking.points_transaction_id:
        points.ledger_reverse(
            transaction=booking.points_transaction,
            idempotency_key=f"booking-refund:{booking.pk}",
            memo=booking.resource.name,
            created_by=by,
            now=now,
        )


def _cancel(booking: Booking, *, by: User, reason: str, now: datetime.datetime) -> None:
    _refund(booking, by=by, now=now)
    booking.status, booking.cancelled_at, booking.cancelled_by, booking.reason = (
        Status.CANCELLED,
        now,
        by,
        reason,
    )
    booking.save(update_fields=["status", "cancelled_at", "cancelled_by", "reason"])
    if by.pk != booking.booked_by_id:
        _tell_booker(
            booking, _("Your booking of %(name)s was cancelled") % {"name": booking.resource.name}, reason
        )


def booking_cancel(
    *, booking: Booking, by: User, reason: str = "", now: datetime.datetime | None = None
) -> Booking:
    """The booker cancels up to the resource's deadline, and gets any points back. The owner's staff can
    cancel at any time, with a reason the booker is told."""
    now = now or timezone.now()
    reason = clean_text(reason, field="reason", max_length=200, required=False)
    with transaction.atomic():
        booking = _lock_booking(booking)
        resource = booking.resource
        if booking.status not in ACTIVE or booking.status == Status.CHECKED_IN:
            raise ServiceError(_("Only a booking not yet used can be cancelled."))
        if may_manage(by, resource) and by.pk != booking.booked_by_id:
            if not reason:
                raise ServiceError(_("Tell the booker why."), field="reason")
        elif by.pk == booking.booked_by_id:
            deadline = booking.starts_at - datetime.timedelta(minutes=resource.cancel_before_minutes)
            if now > deadline:
                raise ServiceError(
                    _("Bookings can be cancelled up to %(minutes)s minutes before the start.")
                    % {"minutes": resource.cancel_before_minutes}
                )
        else:
            raise ServiceError(_("Only the booker or the resource's owner can cancel this."))
        _cancel(booking, by=by, reason=reason, now=now)
    return booking


def booking_decide(
    *, booking: Booking, by: User, approve: bool, reason: str = "", now: datetime.datetime | None = None
) -> Booking:
    now = now or timezone.now()
    reason = clean_text(reason, field="reason", max_length=200, required=not approve)
    with transaction.atomic():
        booking = _lock_booking(booking)
        _require_manager(by, booking.resource)
        if booking.status != Status.PENDING:
            raise ServiceError(_("This request has already been decided."))
        if not approve:
            _refund(booking, by=by, now=now)
        booking.status = Status.CONFIRMED if approve else Status.DECLINED
        booking.decided_by, booking.decided_at, booking.reason = by, now, reason
        booking.save(update_fields=["status", "decided_by", "decided_at", "reason"])
    name = booking.resource.name
    title = (
        _("Your booking of %(name)s is confirmed") if approve else _("Your booking of %(name)s was declined")
    ) % {"name": name}
    _tell_booker(booking, title, reason)
    return booking


def checkin_window(booking: Booking) -> rules.Interval:
    resource = booking.resource
    opens = booking.starts_at - datetime.timedelta(minutes=resource.checkin_opens_minutes)
    return opens, min(booking.release_at, booking.ends_at)


def booking_check_in(
    *, booking: Booking, by: User, token: str = "", now: datetime.datetime | None = None
) -> Booking:
    """The booker checks in by scanning the code posted at the resource, or the owner's staff check them in.
    Either way only within the window: from a little before the start until the booking would be released."""
    now = now or timezone.now()
    with transaction.atomic():
        booking = _lock_booking(booking)
        resource = booking.resource
        if by.pk == booking.booked_by_id and not may_manage(by, resource):
            if token != resource.checkin_token:
                raise ServiceError(_("Scan the code posted at the resource to check in."))
        elif not may_manage(by, resource):
            raise ServiceError(_("Only the booker or the resource's owner can check in."))
        if booking.status == Status.CHECKED_IN:
            raise ServiceError(_("Already checked in."))
        if booking.status != Status.CONFIRMED:
            raise ServiceError(_("Only a confirmed booking can be checked in."))
        opens, closes = checkin_window(booking)
        if now < opens:
            raise ServiceError(
                _("Check-in opens at %(time)s.") % {"time": f"{timezone.localtime(opens):%H:%M}"}
            )
        if now >= closes:
            raise ServiceError(_("Check-in has closed; the booking was released."))
        booking.status, booking.checked_in_at, booking.checked_in_by = Status.CHECKED_IN, now, by
        booking.save(update_fields=["status", "checked_in_at", "checked_in_by"])
    return booking


def booking_check_in_by_token(*, token: str, by: User, now: datetime.datetime | None = None) -> Booking:
    """The booker scanned a resource's posted code: check in their booking of it that is open for check-in."""
    now = now or timezone.now()
    resource = Resource.objects.filter(checkin_token=token or "-").first()
    if resource is None:
        raise ServiceError(_("This code is not a resource's check-in code, or it has been replaced."))
    candidates = Booking.objects.filter(
        resource=resource, booked_by=by, status=Status.CONFIRMED, ends_at__gt=now
    ).select_related("resource")
    for booking in candidates.order_by("starts_at")[:5]:
        opens, closes = checkin_window(booking)
        if opens <= now < closes:
            return booking_check_in(booking=booking, by=by, token=token, now=now)
    raise ServiceError(_("You have no booking here to check in to now."))


def bookings_release_no_shows(*, now: datetime.datetime | None = None) -> int:
    """Releases confirmed bookings nobody checked in to in time; each counts against its booker's no-shows.
    Points are not refunded: the place was held from others."""
    now = now or timezone.now()
    released = 0
    due = Booking.objects.filter(status=Status.CONFIRMED, release_at__lte=now).values_list("pk", flat=True)
    for pk in list(due[:1000]):
        with transaction.atomic():
            booking = Booking.objects.select_for_update().filter(pk=pk, status=Status.CONFIRMED).first()
            if booking is None:
                continue
            booking.status = Status.NO_SHOW
            booking.save(update_fields=["status"])
            released += 1
    return released


def bookings_remind(*, now: datetime.datetime | None = None) -> int:
    """Reminds each booker once, shortly before the start."""
    now = now or timezone.now()
    due = Booking.objects.filter(
        status=Status.CONFIRMED, reminded_at=None, starts_at__gt=now, starts_at__lte=now + REMINDER_LEAD
    ).select_related("resource", "booked_by")
    reminded = 0
    for booking in due[:1000]:
        if Booking.objects.filter(pk=booking.pk, reminded_at=None).update(reminded_at=now):
            start = timezone.localtime(booking.starts_at)
            _tell_booker(
                booking,
                _("Reminder: %(name)s at %(time)s")
                % {"name": booking.resource.name, "time": f"{start:%H:%M}"},
                booking.resource.address,
            )
            reminded += 1
    return reminded


# Telling people ------------------------------------------------------------------------------------------


def _booking_url(booking: Booking) -> str:
    return reverse("sharing:booking", args=[booking.pk])


def _tell_booker(booking: Booking, title: str, body: str = "") -> None:
    notify(
        users=[booking.booked_by],
        title=title,
        body=body,
        url=_booking_url(booking),
        channels=(Channel.IN_APP, Channel.SMS),
    )


def managers_of(resource: Resource) -> list[User]:
    """Who is told of a request awaiting approval: the owner's staff."""
    if resource.organisation_id:
        assignments = RoleAssignment.objects.filter(organisation_id=resource.organisation_id)
    else:
        assignments = RoleAssignment.objects.filter(region_id__in=resource.community.ancestor_ids())
    users = User.objects.filter(pk__in=assignments.values("user_id"), is_active=True)
    return [user for user in users if may_manage(user, resource)]


def _tell_managers(resource: Resource, title: str) -> None:
    notify(
        users=managers_of(resource), title=title, url=reverse("sharing:manage_resource", args=[resource.pk])
    )


# Calendar feeds ------------------------------------------------------------------------------------------


def feed_create(*, by: User, resource: Resource | None = None) -> Feed:
    """A new secret URL for the user's own bookings, or for a resource the user manages. The previous URL of
    the same calendar is revoked, so there is one live link to hand out."""
    if resource is not None:
        _require_manager(by, resource)
    with transaction.atomic():
        live = Feed.objects.filter(revoked_at=None, created_by=by)
        live = live.filter(resource=resource) if resource is not None else live.filter(user=by)
        live.update(revoked_at=timezone.now())
        return Feed.objects.create(user=None if resource else by, resource=resource, created_by=by)


def feed_revoke(*, feed: Feed, by: User) -> Feed:
    if feed.created_by_id != by.pk:
        raise ServiceError(_("Only who made this link can revoke it."))
    if feed.revoked_at is None:
        feed.revoked_at = timezone.now()
        feed.save(update_fields=["revoked_at"])
    return feed
