"""Residents' and organisations' pages: find a resource, see its week, book, check in, cancel, feeds.

Thin: parse a form, call one service or selector, render. A resource not open to the viewer, or a booking
not theirs, is a 404. Every rule of booking is the services'; their refusal is shown on the form."""

import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import prefetch_related_objects
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, re_path, reverse
from django.utils import timezone
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST, require_safe

from gongzhi.core.crypto import mask_name
from gongzhi.core.exceptions import ServiceError
from gongzhi.core.forms import add_service_error
from gongzhi.core.selectors import organisations_acted_for, resident_record_of
from gongzhi.core.views.workbench import htmx_swap
from gongzhi.sharing import feeds as ical
from gongzhi.sharing import rules, selectors, services
from gongzhi.sharing.forms import SERVICE_FIELDS, BookingForm, ResourceSearchForm
from gongzhi.sharing.models import ACTIVE, Status

PAGE_SIZE = 20
# A week with no more slots than this shows every day unfolded (a canteen's lunches, not a hall's half-hours).
OPEN_ALL_SLOTS = 42


# ---------------------------------------------------------------------------------------------------------
# Finding a resource
# ---------------------------------------------------------------------------------------------------------


def _search(resources, filters: dict):
    if filters.get("kind"):
        resources = resources.filter(kind=filters["kind"])
    if filters.get("q"):
        resources = resources.filter(name__icontains=filters["q"])
    return resources.select_related("organisation", "community")


@login_required
@require_GET
def resources(request):
    """What the user may book, and apart from it what they run; both searched by the same filters."""
    user = request.user
    form = ResourceSearchForm(request.GET)
    filters = form.filters()
    bookable = Paginator(_search(selectors.resources_bookable_by(user), filters), PAGE_SIZE)
    managed = Paginator(_search(selectors.resources_managed_by(user), filters), PAGE_SIZE)
    context = {
        "form": form,
        "filtered": bool(filters.get("kind") or filters.get("q")),
        "page": bookable.get_page(request.GET.get("page")),
        "managed_page": managed.get_page(request.GET.get("managed_page")),
    }
    if htmx_swap(request, "resource-results"):
        return render(request, "sharing/_resource_results.html", context)
    return render(request, "sharing/resources.html", context)


# ---------------------------------------------------------------------------------------------------------
# A resource and its week
# ---------------------------------------------------------------------------------------------------------


def _week_asked(value: str | None, resource, today: datetime.date) -> datetime.date:
    """The Monday of the week asked for (any day of it will do), from this week to the last one open for
    booking; this week when none, nonsense or out of that range."""
    this_monday = rules.week_start(today)
    try:
        monday = rules.week_start(datetime.date.fromisoformat(value or ""))
    except ValueError:
        return this_monday
    last_monday = rules.week_start(today + datetime.timedelta(days=resource.book_ahead_days))
    return monday if this_monday <= monday <= last_monday else this_monday


def _period_label(opens: datetime.time, closes: datetime.time) -> str:
    if opens == closes == datetime.time():
        return _("All day")
    label = f"{opens:%H:%M}–{closes:%H:%M}"
    if closes <= opens:
        return _("%(period)s (next day)") % {"period": label}
    return label


def _opening_hours(resource) -> list[tuple[str, list[str]]]:
    """Each weekday the resource opens, with its periods."""
    by_day: dict[int, list[str]] = {}
    for period in resource.hours.all():
        by_day.setdefault(period.weekday, []).append(_period_label(period.opens, period.closes))
    return [(WEEKDAYS[day], periods) for day, periods in sorted(by_day.items())]


def _week_context(resource, monday: datetime.date, may_book: bool) -> dict:
    now = timezone.now()
    today = timezone.localdate(now)
    this_monday = rules.week_start(today)
    last_bookable_day = today + datetime.timedelta(days=resource.book_ahead_days)
    days = [
        {
            "day": day.day,
            "closed_reason": day.closed_reason,
            "past": day.day < today,
            "opens": bool(day.slots),
            # Slots already begun are left out: a phone's screen is for what can still be booked.
            "slots": [slot for slot in day.slots if slot.starts_at >= now],
            "free": sum(1 for slot in day.slots if slot.bookable),
        }
        for day in selectors.week_availability(resource, monday, now=now)
    ]
    # On a phone the days fold; the first day with a free slot is open, or every day in a short week.
    open_day = next((day["day"] for day in days if day["free"]), None)
    return {
        "resource": resource,
        "days": days,
        "open_all": sum(len(day["slots"]) for day in days) <= OPEN_ALL_SLOTS,
        "monday": monday,
        "sunday": monday + datetime.timedelta(days=6),
        "previous_week": monday - rules.DAY * 7 if monday > this_monday else None,
        "next_week": monday + rules.DAY * 7 if monday + rules.DAY * 7 <= last_bookable_day else None,
        "open_day": open_day,
        "today": today,
        "may_book": may_book,
    }


@login_required
@require_GET
def resource(request, resource_id: int):
    user = request.user
    resource = selectors.access_resource(user, resource_id)
    prefetch_related_objects([resource], "hours", "blackouts")
    today = timezone.localdate()
    monday = _week_asked(request.GET.get("week"), resource, today)
    may_book = selectors.resources_bookable_by(user).filter(pk=resource.pk).exists()
    week = _week_context(resource, monday, may_book)
    if htmx_swap(request, "week"):
        return render(request, "sharing/_week.html", week)
    prefetch_related_objects([resource], "photos", "audience_regions", "audience_organisations")
    context = {
        **week,
        "opening_hours": _opening_hours(resource),
        "blackouts": [b for b in resource.blackouts.all() if b.last_day >= today],
        "may_manage": services.may_manage(user, resource),
    }
    return render(request, "sharing/resource.html", context)


# ---------------------------------------------------------------------------------------------------------
# Booking
# ---------------------------------------------------------------------------------------------------------


def _open_until(resource, start: datetime.datetime | None) -> datetime.datetime | None:
    """When the open period holding `start` ends; None if it is not within the opening hours."""
    if start is None:
        return None
    day = rules.local_day(start)
    periods = rules.open_periods(services.hours_of(resource), day, day)
    return next((end for begin, end in periods if begin <= start < end), None)


def _booking_form(request, resource, data=None) -> BookingForm:
    user = request.user
    organisations = organisations_acted_for(user).filter(pk__in=resource.audience_organisations.values("pk"))
    initial = {"end": resource.min_minutes}
    for name in ("day", "start", "end"):
        if request.GET.get(name):
            initial[name] = request.GET[name]
    form = BookingForm(
        data,
        initial=initial,
        resource=resource,
        organisations=organisations,
        may_book_as_resident=resident_record_of(user) is not None,
    )
    form.set_end_choices(_open_until(resource, form.chosen_start()))
    return form


def _add_booking_error(form: BookingForm, error: ServiceError) -> None:
    add_service_error(form, ServiceError(error.message, field=SERVICE_FIELDS.get(error.field, error.field)))


@login_required
@require_http_methods(["GET", "POST"])
@never_cache
def book(request, resource_id: int):
    # never_cache: a page from the browser's cache would carry a request token already used.
    user = request.user
    resource = get_object_or_404(
        selectors.resources_bookable_by(user).select_related("organisation", "community"), pk=resource_id
    )
    form = _booking_form(request, resource, request.POST if request.method == "POST" else None)
    if request.method == "GET":
        if htmx_swap(request, "end-field"):
            return render(request, "sharing/_end_field.html", {"form": form})
        return render(request, "sharing/book.html", {"resource": resource, "form": form})
    if form.is_valid():
        data = form.cleaned_data
        starts_at, ends_at = form.interval()
        request_fields = {
            "resource": resource,
            "by": user,
            "starts_at": starts_at,
            "ends_at": ends_at,
            "request_token": data["request_token"],
            "party_size": data.get("party_size") or 1,
            "plate": data.get("plate", ""),
            "note": data["note"],
            "organisation": data.get("organisation"),
        }
        weeks = data["weeks"] or 1
        try:
            if weeks > 1:
                weekly = services.booking_series_create(
                    **request_fields, weeks=weeks, skip_conflicts=data["skip_conflicts"]
                )
                return redirect("sharing:series", weekly.pk)
            booking = services.booking_create(**request_fields)
        except ServiceError as error:
            _add_booking_error(form, error)
        else:
            if booking.status == Status.PENDING:
                messages.success(request, _("Requested. The owner will confirm or decline it."))
            else:
                messages.success(request, _("Booked."))
            return redirect("sharing:booking", booking.pk)
    return render(request, "sharing/book.html", {"resource": resource, "form": form}, status=400)


@login_required
@require_GET
def series(request, series_id: int):
    """What a weekly booking booked, and the weeks it skipped and why."""
    bookings = list(
        selectors.bookings_of(request.user)
        .filter(series_id=series_id)
        .select_related("series")
        .order_by("starts_at", "pk")
    )
    if not bookings:
        raise Http404
    weekly = bookings[0].series
    skipped = [
        {"day": datetime.date.fromisoformat(entry["day"]), "reason": entry["reason"]}
        for entry in weekly.skipped
    ]
    context = {"series": weekly, "resource": bookings[0].resource, "bookings": bookings, "skipped": skipped}
    return render(request, "sharing/series.html", context)


@login_required
@require_GET
def booking(request, booking_id: int):
    user = request.user
    booking = selectors.access_booking(user, booking_id)
    resource = booking.resource
    now = timezone.now()
    is_booker = booking.booked_by_id == user.pk
    may_manage = services.may_manage(user, resource)
    opens, closes = services.checkin_window(booking)
    cancel_deadline = booking.starts_at - datetime.timedelta(minutes=resource.cancel_before_minutes)
    cancellable = booking.status in ACTIVE and booking.status != Status.CHECKED_IN
    context = {
        "booking": booking,
        "resource": resource,
        "is_booker": is_booker,
        "booked_for": booking.organisation.name
        if booking.organisation_id
        else mask_name(booking.resident.name),
        "price": ical.price_text(booking),
        "checkin_opens": opens,
        "checkin_closes": closes,
        "checkin_open_now": booking.status == Status.CONFIRMED and opens <= now < closes,
        "cancel_deadline": cancel_deadline,
        # As the service decides: the booker up to the deadline, the owner's staff at any time with a reason.
        "may_cancel": cancellable and (now <= cancel_deadline if is_booker else may_manage),
        "cancel_needs_reason": not is_booker,
        "too_late_to_cancel": cancellable and is_booker and now > cancel_deadline,
    }
    return render(request, "sharing/booking.html", context)


@login_required
@require_POST
def booking_cancel(request, booking_id: int):
    booking = selectors.access_booking(request.user, booking_id)
    try:
        services.booking_cancel(booking=booking, by=request.user, reason=request.POST.get("reason", ""))
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("The booking is cancelled."))
    return redirect("sharing:booking", booking.pk)


@login_required
@require_GET
def my_bookings(request):
    when = "past" if request.GET.get("when") == "past" else "upcoming"
    now = timezone.now()
    bookings = selectors.bookings_of(request.user)
    if when == "past":
        bookings = bookings.filter(ends_at__lte=now)
    else:
        bookings = bookings.filter(ends_at__gt=now).order_by("starts_at", "pk")
    page = Paginator(bookings, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "sharing/my_bookings.html", {"when": when, "page": page})


# ---------------------------------------------------------------------------------------------------------
# Checking in by the code posted at the resource
# ---------------------------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
@never_cache
def checkin(request, token: str):
    """The page the printed QR code opens. The booker confirms with a tap: a GET (a link preview, a
    prefetch) must not check anyone in."""
    user = request.user
    resource = (
        selectors.resources_visible_to(user)
        .select_related("organisation", "community")
        .filter(checkin_token=token)
        .first()
    )
    if resource is None:
        context = {
            "resource": None,
            "error": _("This code is not a resource's check-in code, or it has been replaced."),
        }
        return render(request, "sharing/checkin.html", context, status=404)
    error, status = "", 200
    if request.method == "POST":
        try:
            booking = services.booking_check_in_by_token(token=token, by=user)
        except ServiceError as service_error:
            error, status = service_error.message, 400
        else:
            messages.success(request, _("Checked in. Enjoy your time at %(name)s.") % {"name": resource.name})
            return redirect("sharing:booking", booking.pk)
    now = timezone.now()
    upcoming = list(
        selectors.bookings_of(user)
        .filter(resource=resource, status=Status.CONFIRMED, ends_at__gt=now)
        .order_by("starts_at", "pk")[:3]
    )
    for row in upcoming:
        row.checkin_opens, row.checkin_closes = services.checkin_window(row)
        row.checkin_open_now = row.checkin_opens <= now < row.checkin_closes
    context = {"resource": resource, "bookings": upcoming, "error": error}
    return render(request, "sharing/checkin.html", context, status=status)


# ---------------------------------------------------------------------------------------------------------
# Calendar feeds
# ---------------------------------------------------------------------------------------------------------


def _feed_urls(request, feed) -> dict:
    url = request.build_absolute_uri(reverse("sharing:feed", args=[feed.token]))
    return {"feed": feed, "url": url, "webcal": "webcal://" + url.split("://", 1)[1]}


@login_required
@require_http_methods(["GET", "POST"])
def feeds(request):
    """The user's secret calendar link (a new one revokes the old), and the resources' links they made."""
    user = request.user
    if request.method == "POST":
        services.feed_create(by=user)
        messages.success(request, _("Your calendar link is ready. Any link you made before no longer works."))
        return redirect("sharing:feeds")
    live = list(selectors.feeds_of(user))
    personal = next((feed for feed in live if feed.user_id), None)
    context = {
        "personal": _feed_urls(request, personal) if personal else None,
        "resource_feeds": [_feed_urls(request, feed) for feed in live if feed.resource_id],
    }
    return render(request, "sharing/feeds.html", context)


@login_required
@require_POST
def feed_revoke(request, feed_id: int):
    feed = get_object_or_404(selectors.feeds_of(request.user), pk=feed_id)
    services.feed_revoke(feed=feed, by=request.user)
    messages.success(request, _("The link is revoked: calendars using it stop updating."))
    return redirect("sharing:feeds")


@require_safe
def feed(request, token: str):
    """The .ics a calendar app fetches: no sign-in, the secret token is the key; revoked or unknown is 404."""
    found = selectors.feed_by_token(token)
    if found is None:
        raise Http404
    bookings = selectors.feed_bookings(found).select_related("organisation")
    body = ical.feed_calendar(
        found,
        bookings,
        booking_url=lambda booking: request.build_absolute_uri(reverse("sharing:booking", args=[booking.pk])),
    )
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="bookings.ics"'
    response["Cache-Control"] = "private, no-cache"
    response["X-Robots-Tag"] = "noindex"
    return response


urls = [
    path("", resources, name="resources"),
    path("<int:resource_id>/", resource, name="resource"),
    path("<int:resource_id>/book/", book, name="book"),
    path("bookings/<int:booking_id>/", booking, name="booking"),
    path("bookings/<int:booking_id>/cancel/", booking_cancel, name="booking_cancel"),
    path("series/<int:series_id>/", series, name="series"),
    path("mine/", my_bookings, name="my_bookings"),
    path("checkin/<str:token>/", checkin, name="checkin"),
    path("feeds/", feeds, name="feeds"),
    path("feeds/<int:feed_id>/revoke/", feed_revoke, name="feed_revoke"),
    re_path(r"^feeds/(?P<token>[A-Za-z0-9_-]+)\.ics$", feed, name="feed"),
]
