"""Schemas of the sharing router (共享). Times go out in China Standard Time with their offset
(2026-12-01T11:30:00+08:00), as a phone's calendar grid shows them; times coming in may carry any offset, and
those without one are read as Asia/Shanghai wall-clock time. A booker's name is masked (张*民) for the
resource's staff: the plate and the masked name are enough to recognise a booking at the desk."""

import datetime
from decimal import Decimal
from typing import Annotated

from django.utils import timezone
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext
from ninja import Field, Schema
from pydantic import AfterValidator

from gongzhi.api.schemas import OrganisationRef, RegionRef
from gongzhi.core.crypto import mask_name
from gongzhi.sharing.models import Booking, PriceKind
from gongzhi.sharing.services import MAX_SERIES_WEEKS, REQUEST_TOKEN_MAX_LENGTH


def _in_site_zone(moment: datetime.datetime) -> datetime.datetime:
    if timezone.is_naive(moment):
        return timezone.make_aware(moment, timezone.get_default_timezone())
    return moment


# Out: the stored instant, shown on Chinese wall-clock time. In: an instant, naive ones read as Asia/Shanghai.
LocalTime = Annotated[datetime.datetime, AfterValidator(timezone.localtime)]
WallClockTime = Annotated[datetime.datetime, AfterValidator(_in_site_zone)]

WHEN = (
    "ISO 8601, e.g. 2026-12-01T11:30:00+08:00; without an offset (2026-12-01T11:30:00) it is read as "
    "China Standard Time (Asia/Shanghai)."
)


def _max_length(model, field: str) -> int:
    return model._meta.get_field(field).max_length


def price_label(price_kind: str, amount: Decimal, per: str = "") -> str:
    """¥12 per booking, paid on site; 5 points per hour; Free. Without `per`, a booking's total."""
    figures = {
        "amount": f"{amount:.0f}" if amount == amount.to_integral_value() else f"{amount:.2f}",
        "per": per,
    }
    if price_kind == PriceKind.CASH:
        text = gettext("¥%(amount)s %(per)s, paid on site") if per else gettext("¥%(amount)s, paid on site")
        return text % figures
    if price_kind == PriceKind.POINTS:
        return (gettext("%(amount)s points %(per)s") if per else gettext("%(amount)s points")) % figures
    return gettext("Free")


# ------------------------------------------------------------------------------------------------- resources


class ResourceOut(Schema):
    id: int
    name: str
    kind: str = Field(
        description='"canteen", "parking", "hall", "gym", "activity_room", "desk", "hot_seat" or "other".'
    )
    kind_label: str
    address: str
    community: RegionRef
    region: RegionRef = Field(description="Where it is: the community, or a compound or building in it.")
    organisation: OrganisationRef | None = Field(
        description="The work unit or organisation that opens it; none: the community's own."
    )
    capacity: int = Field(description="1: booked whole; more: pooled places such as seats or spaces.")
    needs_approval: bool = Field(description="Bookings wait for the owner's approval.")
    needs_plate: bool = Field(description="A booking gives the vehicle plate.")
    price_kind: str = Field(description='"free", "cash" (paid on site) or "points".')
    price_per: str = Field(description='"booking" or "hour", for each place booked.')
    price_amount: Decimal
    price_label: str = Field(
        description="The price as a person reads it, e.g. ¥12 per booking, paid on site."
    )
    is_active: bool = Field(description="Listed and taking bookings.")
    may_book: bool = Field(
        description="Whether it is open to the caller (as a resident or for an organisation)."
    )
    may_manage: bool = Field(description="Whether the caller is on the owner's staff.")

    @staticmethod
    def resolve_kind_label(resource) -> str:
        return str(resource.get_kind_display())

    @staticmethod
    def resolve_price_label(resource) -> str:
        return price_label(resource.price_kind, resource.price_amount, str(resource.get_price_per_display()))

    # The router annotates these on the query, for a whole page at once.
    @staticmethod
    def resolve_may_book(resource) -> bool:
        return resource.may_book_for_caller

    @staticmethod
    def resolve_may_manage(resource) -> bool:
        return resource.may_manage_for_caller


class OpeningHoursOut(Schema):
    weekday: int = Field(description="0 = Monday … 6 = Sunday.")
    weekday_label: str
    opens: datetime.time
    closes: datetime.time
    past_midnight: bool = Field(
        description="Closes the next day, e.g. 19:00–08:00; 00:00–00:00 is the whole day."
    )

    @staticmethod
    def resolve_weekday_label(hours) -> str:
        return str(WEEKDAYS[hours.weekday])

    @staticmethod
    def resolve_past_midnight(hours) -> bool:
        return hours.closes <= hours.opens


class BlackoutOut(Schema):
    first_day: datetime.date
    last_day: datetime.date = Field(description="Closed up to and including this day.")
    reason: str


class AudienceOut(Schema):
    """Who may book. No regions and no organisations: the residents of the resource's own community."""

    regions: list[RegionRef] = Field(
        description="Residents living in these regions (and everything in them)."
    )
    organisations: list[OrganisationRef] = Field(description="Staff booking for these organisations.")
    summary: str


class ResourceDetailOut(ResourceOut):
    description: str
    rules: str = Field(description="The rules of use the owner asks bookers to keep.")
    slot_minutes: int = Field(description="Bookings start and end on this grid, counted from midnight.")
    min_minutes: int
    max_minutes: int
    book_ahead_days: int = Field(description="How many days ahead one may book.")
    cancel_before_minutes: int = Field(description="The booker may cancel up to this many minutes before.")
    buffer_minutes: int = Field(
        description="Kept free after each booking (an exclusive resource's turnover)."
    )
    hours_per_week: int | None = Field(description="Hours a person may book in a week; none: no limit.")
    bookings_at_once: int | None = Field(description="Bookings a person may hold at once; none: no limit.")
    checkin_opens_minutes: int = Field(description="Check-in opens this many minutes before the start.")
    release_after_minutes: int = Field(
        description="A booking nobody checks in to is released this many minutes after its start."
    )
    opening_hours: list[OpeningHoursOut]
    blackouts: list[BlackoutOut] = Field(description="Closed days from today on.")
    audience: AudienceOut
    photos: list[str] = Field(description="Image URLs.")
    checkin_code: str | None = Field(
        description="For the owner's staff: the content of the QR code posted at the resource, which bookers "
        "scan to check in (POST /sharing/check-in)."
    )

    # The router reads these once per request (gongzhi.api.sharing.resource_detail_for).
    @staticmethod
    def resolve_opening_hours(resource) -> list:
        return resource.opening_hours_for_caller

    @staticmethod
    def resolve_blackouts(resource) -> list:
        return resource.blackouts_for_caller

    @staticmethod
    def resolve_audience(resource) -> dict:
        return resource.audience_for_caller

    @staticmethod
    def resolve_photos(resource) -> list[str]:
        return [photo.image.url for photo in resource.photos.order_by("added_at", "pk")]

    @staticmethod
    def resolve_checkin_code(resource) -> str | None:
        return resource.checkin_token if resource.may_manage_for_caller else None


# ---------------------------------------------------------------------------------------------- availability


class SlotOut(Schema):
    starts_at: datetime.datetime
    ends_at: datetime.datetime
    places_left: int = Field(description="Places free for the whole slot, its buffer included.")
    bookable: bool = Field(description="Free, not past, and within the days one may book ahead.")


class DayOut(Schema):
    day: datetime.date
    closed_reason: str | None = Field(
        description="Set (possibly empty) on a blackout day, which has no slots; none on other days."
    )
    slots: list[SlotOut] = Field(description="Empty on a day the resource does not open.")


class WeekOut(Schema):
    resource_id: int
    week: datetime.date = Field(description="The Monday the week starts on.")
    days: list[DayOut] = Field(description="Monday to Sunday.")


# -------------------------------------------------------------------------------------------------- bookings


class ResourceRef(Schema):
    id: int
    name: str
    kind: str
    address: str


class BookingOut(Schema):
    id: int
    resource: ResourceRef
    status: str = Field(
        description='"pending" (awaiting approval), "confirmed", "checked_in", "cancelled", "declined" or '
        '"no_show" (released: nobody checked in).'
    )
    status_label: str
    starts_at: LocalTime
    ends_at: LocalTime
    party_size: int = Field(description="Places booked.")
    plate: str
    note: str
    booked_for: str = Field(description="The organisation's name, or the resident's, masked (张*民).")
    organisation: OrganisationRef | None = Field(description="The organisation it was booked for, if any.")
    series_id: int | None = Field(description="The weekly series it belongs to, if any.")
    price_kind: str
    price_due: Decimal = Field(description="Yuan paid on site, or points paid when booked.")
    price_label: str
    reason: str = Field(description="Why it was declined or cancelled by the owner, or the booker's reason.")
    created_at: LocalTime
    decided_at: LocalTime | None
    checked_in_at: LocalTime | None
    cancelled_at: LocalTime | None
    checkin_opens_at: LocalTime
    checkin_closes_at: LocalTime = Field(
        description="After this, a booking nobody checked in to is released."
    )

    @staticmethod
    def resolve_status_label(booking) -> str:
        return str(booking.get_status_display())

    @staticmethod
    def resolve_booked_for(booking) -> str:
        return booking.organisation.name if booking.organisation_id else mask_name(booking.resident.name)

    @staticmethod
    def resolve_price_label(booking) -> str:
        return price_label(booking.price_kind, booking.price_due)

    @staticmethod
    def resolve_checkin_opens_at(booking) -> datetime.datetime:
        return booking.starts_at - datetime.timedelta(minutes=booking.resource.checkin_opens_minutes)

    @staticmethod
    def resolve_checkin_closes_at(booking) -> datetime.datetime:
        return min(booking.release_at, booking.ends_at)


class SkippedOut(Schema):
    day: datetime.date
    reason: str = Field(description="Why that week could not be booked.")


class SeriesOut(Schema):
    """A weekly booking: the weeks booked, and the dates skipped because they could not be."""

    id: int
    weeks: int
    bookings: list[BookingOut]
    skipped: list[SkippedOut]

    @staticmethod
    def resolve_bookings(series) -> list:
        return series.bookings_for_caller


class BookingIn(Schema):
    resource_id: int
    starts_at: WallClockTime = Field(description=WHEN)
    ends_at: WallClockTime = Field(description=WHEN + " A night's parking ends the next morning.")
    party_size: int = Field(1, description="Places, for pooled resources; 1 for one booked whole.")
    plate: str = Field(
        "", max_length=20, description="The vehicle plate where the resource asks for it, e.g. 川A12345."
    )
    note: str = Field("", max_length=_max_length(Booking, "note"))
    organisation_id: int | None = Field(
        None,
        description="Book for an organisation you act for; by default an organisation's API token books for "
        "its organisation and a person's for themselves as a resident.",
    )
    request_token: str = Field(
        min_length=1,
        max_length=REQUEST_TOKEN_MAX_LENGTH,
        description="A fresh random string per booking: a request repeated with it books once and answers "
        "with that booking.",
    )
    weeks: int | None = Field(
        None,
        description=f"Book the same hours weekly for 2 to {MAX_SERIES_WEEKS} weeks; the answer is then the "
        "series.",
    )
    skip_conflicts: bool = Field(
        False,
        description="For a weekly booking: skip (and list) the weeks that cannot be booked, rather than book "
        "none. The first week must always be bookable.",
    )


class ReasonIn(Schema):
    reason: str = Field("", max_length=200, description="Needed when the owner's staff cancel or decline.")


class CheckInIn(Schema):
    token: str = Field(
        "",
        max_length=500,
        description="For the booker: the QR code posted at the resource, as scanned (a link around it is "
        "fine). The owner's staff leave it out: {}.",
    )


class ScanIn(Schema):
    token: str = Field(
        min_length=1,
        max_length=500,
        description="The QR code posted at the resource, as scanned (a link around it is fine).",
    )
