"""iCalendar feeds (RFC 5545) of a person's bookings or of a resource's. A feed's URL is secret but is handed
to calendar services outside the platform, so a resource's feed carries no resident's name and only a
masked plate: it tells the owner's staff when the resource is taken, not by whom."""

import datetime
from collections.abc import Iterable

import icalendar
from django.utils.translation import gettext as _

from gongzhi.sharing.models import Booking, Feed, PriceKind, Status

PRODID = "-//Gongzhi//Sharing//EN"
UID_DOMAIN = "gongzhi"
# How often a calendar app should fetch the feed again (RFC 7986 REFRESH-INTERVAL).
REFRESH = datetime.timedelta(hours=1)

EVENT_STATUS = {
    Status.PENDING: "TENTATIVE",
    Status.CONFIRMED: "CONFIRMED",
    Status.CHECKED_IN: "CONFIRMED",
    Status.CANCELLED: "CANCELLED",
    Status.DECLINED: "CANCELLED",
    Status.NO_SHOW: "CANCELLED",
}


def booking_uid(booking: Booking) -> str:
    """Stable across fetches, so a calendar app updates an event rather than adding it again."""
    return f"booking-{booking.pk}@{UID_DOMAIN}"


def mask_plate(plate: str) -> str:
    """川A12345 -> 川A***45: enough for staff to recognise a car they expect, not to identify its owner."""
    if len(plate) <= 4:
        return "*" * len(plate)
    return f"{plate[:2]}{'*' * (len(plate) - 4)}{plate[-2:]}"


def _utc(moment: datetime.datetime) -> datetime.datetime:
    return moment.astimezone(datetime.UTC)


def _last_changed(booking: Booking) -> datetime.datetime:
    moments = (booking.created_at, booking.decided_at, booking.checked_in_at, booking.cancelled_at)
    return max(moment for moment in moments if moment is not None)


def price_text(booking: Booking) -> str:
    if booking.price_kind == PriceKind.POINTS:
        return _("%(points)s points") % {"points": int(booking.price_due)}
    if booking.price_kind == PriceKind.CASH:
        return _("¥%(amount)s, paid on site") % {"amount": booking.price_due}
    return _("Free")


def _description(booking: Booking, *, for_resource: bool) -> str:
    lines = [str(booking.get_status_display())]
    if not booking.exclusive:
        lines.append(_("Places: %(places)s") % {"places": booking.party_size})
    if booking.plate:
        plate = mask_plate(booking.plate) if for_resource else booking.plate
        lines.append(_("Vehicle plate: %(plate)s") % {"plate": plate})
    if for_resource:
        if booking.organisation_id:
            lines.append(_("Booked for: %(organisation)s") % {"organisation": booking.organisation.name})
    else:
        if booking.price_kind != PriceKind.FREE:
            lines.append(_("Price: %(price)s") % {"price": price_text(booking)})
        if booking.note:
            lines.append(booking.note)
    return "\n".join(lines)


def feed_name(feed: Feed) -> str:
    if feed.resource_id:
        return _("Bookings of %(name)s") % {"name": feed.resource.name}
    return _("My bookings of shared resources")


def feed_calendar(feed: Feed, bookings: Iterable[Booking], *, booking_url=None) -> bytes:
    """The feed as an iCalendar file; `booking_url(booking)` gives each event's absolute link, which opens
    only for the booker or the resource's staff once signed in."""
    for_resource = bool(feed.resource_id)
    calendar = icalendar.Calendar.new(
        prodid=PRODID, uid=f"feed-{feed.pk}@{UID_DOMAIN}", name=feed_name(feed), refresh_interval=REFRESH
    )
    for booking in bookings:
        resource = booking.resource
        event = icalendar.Event.new(
            uid=booking_uid(booking),
            # Without a METHOD, DTSTAMP is when the event was last revised (RFC 5545 3.8.7.2).
            stamp=_utc(_last_changed(booking)),
            start=_utc(booking.starts_at),
            end=_utc(booking.ends_at),
            summary=resource.name,
            location=resource.address,
            description=_description(booking, for_resource=for_resource),
            status=EVENT_STATUS[booking.status],
            url=booking_url(booking) if booking_url else None,
        )
        calendar.add_component(event)
    return calendar.to_ical()
