"""The sharing router (共享): resources that work units, communities and organisations open to residents,
their week's availability, bookings (one, or weekly), cancelling, approving and checking in, through the
same selectors and services as the pages, so that every booking rule lives in gongzhi.sharing.

Scope: a resource is reached through `resources_visible_to` (its audience, its owner's staff, staff
overseeing its region), a booking through `bookings_visible_to` (the booker's own, and those of resources the
caller manages or oversees); what only the owner's staff may do (approve, decline, the desk's day list) goes
through `access_managed_booking` and `access_managed_resource`. Anything outside answers 404 exactly like
something that does not exist. Within what one can see, what the caller may not do (book a resource not open
to them, check in someone else's booking) is the service's refusal: 400 with its reason.

Errors: a refused booking is the service's ServiceError, answered 400 with its translated message and the
payload's field it concerns; the shape of the input is checked by the schemas (422), as everywhere in this
API (gongzhi/api/errors.py). A refusal changes nothing: each service is one transaction, and a weekly
booking that stops on a date books none of its weeks.

Idempotency: a booking carries the client's `request_token`, so a request repeated after a lost answer books
once and answers with the booking made the first time.
"""

import datetime

from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet
from django.utils import timezone
from django.utils.text import get_text_list
from django.utils.translation import gettext as _
from ninja import Router, Status
from ninja.pagination import paginate

from gongzhi.api.pagination import LimitOffset
from gongzhi.api.schemas import ErrorOut, ServiceErrorOut
from gongzhi.api.sharing_schemas import (
    BookingIn,
    BookingOut,
    CheckInIn,
    ReasonIn,
    ResourceDetailOut,
    ResourceOut,
    ScanIn,
    SeriesOut,
    WeekOut,
)
from gongzhi.core import selectors as core_selectors
from gongzhi.sharing import rules, selectors, services
from gongzhi.sharing.models import Booking, Resource, ResourceKind, Series

router = Router(tags=["sharing"])

BOOKING_RESPONSES = {200: BookingOut, 400: ServiceErrorOut, 404: ErrorOut}


def scanned_token(text: str) -> str:
    """What a scanner reads from the posted QR code: the token, or a link ending in it (…/abc or …?t=abc)."""
    return (text or "").strip().rstrip("/").rsplit("/", 1)[-1].split("=")[-1]


def with_caller_flags(resources: QuerySet[Resource], user) -> QuerySet[Resource]:
    """Whether the caller may book and may manage each resource, read with the page in one query."""
    return resources.annotate(
        may_book_for_caller=ExpressionWrapper(
            Q(pk__in=selectors.resources_bookable_by(user).values("pk")), output_field=BooleanField()
        ),
        may_manage_for_caller=ExpressionWrapper(
            Q(pk__in=selectors.resources_managed_by(user).values("pk")), output_field=BooleanField()
        ),
    )


def audience_of(resource: Resource) -> dict:
    regions = list(resource.audience_regions.order_by("path"))
    organisations = list(resource.audience_organisations.order_by("name"))
    phrases = []
    if not regions and not organisations:
        phrases.append(_("Residents of %(regions)s") % {"regions": resource.community.name})
    if regions:
        names = get_text_list([region.name for region in regions], _("and"))
        phrases.append(_("Residents of %(regions)s") % {"regions": names})
    if organisations:
        names = get_text_list([organisation.name for organisation in organisations], _("and"))
        phrases.append(_("Staff of %(organisations)s") % {"organisations": names})
    return {"regions": regions, "organisations": organisations, "summary": "; ".join(phrases)}


def resource_detail_for(user, resource_id: int) -> Resource:
    """The resource as the detail schema reads it: hours, closed days ahead, audience, and what the caller
    may do there."""
    resource = selectors.access_resource(user, resource_id)
    resource.may_book_for_caller = selectors.resources_bookable_by(user).filter(pk=resource.pk).exists()
    resource.may_manage_for_caller = services.may_manage(user, resource)
    resource.opening_hours_for_caller = list(resource.hours.all())
    resource.blackouts_for_caller = list(resource.blackouts.filter(last_day__gte=timezone.localdate()))
    resource.audience_for_caller = audience_of(resource)
    return resource


def series_for(user, series: Series) -> Series:
    series.bookings_for_caller = list(
        selectors.bookings_visible_to(user)
        .filter(series=series)
        .select_related("resource", "resident", "organisation")
        .order_by("starts_at", "pk")
    )
    return series


# -------------------------------------------------------------------------------------------------- resources


@router.get("/resources", response={200: list[ResourceOut]}, summary="Resources the caller can see")
@paginate(LimitOffset)
def resource_list(request, kind: ResourceKind | None = None, bookable: bool = False, managed: bool = False):
    """Those open to the caller, those the caller's unit or community owns, and, for staff overseeing a
    region, those in it; by name. `bookable` keeps those the caller may book, `managed` those the caller
    runs, `kind` one kind."""
    user = request.auth
    resources = with_caller_flags(selectors.resources_visible_to(user), user).select_related(
        "community", "region", "organisation"
    )
    if kind:
        resources = resources.filter(kind=kind)
    if bookable:
        resources = resources.filter(may_book_for_caller=True)
    if managed:
        resources = resources.filter(may_manage_for_caller=True)
    return resources.order_by("name", "pk")


@router.get(
    "/resources/{resource_id}",
    response={200: ResourceDetailOut, 404: ErrorOut},
    summary="One resource: opening hours, closed days ahead, price, rules and who may book",
)
def resource_detail(request, resource_id: int):
    return resource_detail_for(request.auth, resource_id)


@router.get(
    "/resources/{resource_id}/availability",
    response={200: WeekOut, 404: ErrorOut},
    summary="A week's slots with the places left",
)
def resource_availability(request, resource_id: int, week: datetime.date | None = None):
    """`week` is any day of the week wanted (YYYY-MM-DD), by default today's; the week runs Monday to
    Sunday. Times are in China Standard Time with their offset. A slot is bookable when it is free, not past
    and within the days one may book ahead; whether the resource is open to the caller is the resource's
    `may_book`."""
    resource = selectors.access_resource(request.auth, resource_id)
    monday = rules.week_start(week or timezone.localdate())
    return {
        "resource_id": resource.pk,
        "week": monday,
        "days": selectors.week_availability(resource, monday),
    }


# --------------------------------------------------------------------------------------------------- bookings


@router.post(
    "/bookings",
    response={201: BookingOut | SeriesOut, 400: ServiceErrorOut, 404: ErrorOut},
    summary="Book a resource, once or weekly",
)
def booking_create(request, payload: BookingIn):
    """For yourself as a resident, or for an organisation you act for. A resource that needs approval answers
    "pending" until its owner decides. With `weeks`, the same hours every week: the answer is the series, its
    bookings and the dates skipped (with `skip_conflicts`); without it, one date that cannot be booked books
    none."""
    user = request.auth
    resource = selectors.access_resource(user, payload.resource_id)
    organisation_id = (
        payload.organisation_id
        if payload.organisation_id is not None
        else getattr(user, "token_organisation_id", None)
    )
    organisation = (
        core_selectors.access_organisation(user, organisation_id) if organisation_id is not None else None
    )
    fields = {
        "resource": resource,
        "by": user,
        "starts_at": payload.starts_at,
        "ends_at": payload.ends_at,
        "request_token": payload.request_token,
        "party_size": payload.party_size,
        "plate": payload.plate,
        "note": payload.note,
        "organisation": organisation,
    }
    if payload.weeks is not None:
        series = services.booking_series_create(
            weeks=payload.weeks, skip_conflicts=payload.skip_conflicts, **fields
        )
        return Status(201, series_for(user, series))
    booking = services.booking_create(**fields)
    return Status(201, selectors.access_booking(user, booking.pk))


@router.get("/bookings", response={200: list[BookingOut]}, summary="Your bookings, latest first")
@paginate(LimitOffset)
def booking_list(request, status: Booking.Status | None = None, upcoming: bool = False):
    """What you booked, for yourself or for an organisation. `upcoming` keeps those not yet over; `status`
    those in one state."""
    bookings = selectors.bookings_of(request.auth).select_related("resident", "organisation")
    if status:
        bookings = bookings.filter(status=status)
    if upcoming:
        bookings = bookings.filter(ends_at__gt=timezone.now())
    return bookings


@router.get("/bookings/{booking_id}", response={200: BookingOut, 404: ErrorOut}, summary="One booking")
def booking_detail(request, booking_id: int):
    return selectors.access_booking(request.auth, booking_id)


@router.post("/bookings/{booking_id}/cancel", response=BOOKING_RESPONSES, summary="Cancel a booking")
def booking_cancel(request, booking_id: int, payload: ReasonIn):
    """The booker, up to the resource's deadline (points come back); the owner's staff at any time, with a
    reason the booker is told."""
    booking = selectors.access_booking(request.auth, booking_id)
    services.booking_cancel(booking=booking, by=request.auth, reason=payload.reason)
    return selectors.access_booking(request.auth, booking_id)


@router.post(
    "/bookings/{booking_id}/check-in",
    response=BOOKING_RESPONSES,
    summary="Check in: the booker with the posted QR code, the owner's staff without",
)
def booking_check_in(request, booking_id: int, payload: CheckInIn):
    """Within the check-in window (`checkin_opens_at` to `checkin_closes_at`); after it, a booking nobody
    checked in to is released."""
    booking = selectors.access_booking(request.auth, booking_id)
    services.booking_check_in(booking=booking, by=request.auth, token=scanned_token(payload.token))
    return selectors.access_booking(request.auth, booking_id)


@router.post(
    "/check-in",
    response=BOOKING_RESPONSES,
    summary="Check in by scanning the QR code posted at the resource",
)
def check_in_by_code(request, payload: ScanIn):
    """Checks in the caller's booking of that resource whose check-in window is open now."""
    booking = services.booking_check_in_by_token(token=scanned_token(payload.token), by=request.auth)
    return selectors.access_booking(request.auth, booking.pk)


# ---------------------------------------------------------------------------------------- the owner's staff


@router.post(
    "/bookings/{booking_id}/approve", response=BOOKING_RESPONSES, summary="Approve a pending request (owner)"
)
def booking_approve(request, booking_id: int, payload: ReasonIn):
    booking = selectors.access_managed_booking(request.auth, booking_id)
    services.booking_decide(booking=booking, by=request.auth, approve=True, reason=payload.reason)
    return selectors.access_booking(request.auth, booking_id)


@router.post(
    "/bookings/{booking_id}/decline",
    response=BOOKING_RESPONSES,
    summary="Decline a pending request, with a reason (owner)",
)
def booking_decline(request, booking_id: int, payload: ReasonIn):
    """The booker is told the reason; any points paid come back."""
    booking = selectors.access_managed_booking(request.auth, booking_id)
    services.booking_decide(booking=booking, by=request.auth, approve=False, reason=payload.reason)
    return selectors.access_booking(request.auth, booking_id)


@router.get(
    "/manage/pending",
    response={200: list[BookingOut]},
    summary="Requests awaiting your approval, soonest first",
)
@paginate(LimitOffset)
def pending_list(request):
    return selectors.bookings_pending_for(request.auth)


@router.get(
    "/manage/resources/{resource_id}/bookings",
    response={200: list[BookingOut], 404: ErrorOut},
    summary="A day's bookings of a resource you run, for the desk",
)
@paginate(LimitOffset)
def resource_day_bookings(request, resource_id: int, day: datetime.date | None = None):
    """`day` as YYYY-MM-DD, by default today; every booking touching it, whatever its state."""
    resource = selectors.access_managed_resource(request.auth, resource_id)
    return selectors.bookings_of_resource_on(resource, day or timezone.localdate()).select_related("resource")
