"""The owner's pages: the resources the user runs with the requests awaiting them, the resource form with its
weekly hours, and each resource's desk: the day's bookings (check in, cancel, approve, decline), blackout
days, photos, the printed check-in code and the resource's calendar link.

Thin: parse a form, call one service or selector, render. A resource the user does not run is a 404, and
so is every manage page for someone who runs none and may list none."""

import base64
import copy
import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from gongzhi.core.exceptions import ServiceError
from gongzhi.core.forms import add_service_error
from gongzhi.core.qr import qr_png
from gongzhi.core.views.workbench import htmx_swap
from gongzhi.sharing import rules, selectors, services
from gongzhi.sharing.forms_owner import (
    BlackoutForm,
    ButtonForm,
    CancelForm,
    DayForm,
    DecideForm,
    EveryDayForm,
    Owners,
    PhotoForm,
    ResourceForm,
    hours_formset,
    hours_rows_redrawn,
    may_list_resources,
)
from gongzhi.sharing.models import ACTIVE, Status

PAGE_SIZE = 30
PENDING_SHOWN = 50


def _require_owner_pages(user) -> None:
    if not (may_list_resources(user) or selectors.may_run_sharing(user)):
        raise Http404


# ---------------------------------------------------------------------------------------------------------
# The resources the user runs, and the requests awaiting a decision
# ---------------------------------------------------------------------------------------------------------


@login_required
@require_GET
@never_cache
def manage(request):
    user = request.user
    _require_owner_pages(user)
    today = timezone.localdate()
    day = (rules.at(today, datetime.time()), rules.at(today + rules.DAY, datetime.time()))
    # One query for the page's resources with both counts.
    resources = (
        selectors.resources_managed_by(user)
        .select_related("organisation", "region__parent")
        .annotate(
            pending=Count("bookings", filter=Q(bookings__status=Status.PENDING)),
            today=Count(
                "bookings",
                filter=Q(
                    bookings__status__in=ACTIVE,
                    bookings__starts_at__lt=day[1],
                    bookings__ends_at__gt=day[0],
                ),
            ),
        )
        .order_by("name", "pk")
    )
    page = Paginator(resources, PAGE_SIZE).get_page(request.GET.get("page"))
    pending = list(selectors.bookings_pending_for(user)[: PENDING_SHOWN + 1])
    context = {
        "page": page,
        "pending": pending[:PENDING_SHOWN],
        "more_pending": len(pending) > PENDING_SHOWN,
        "may_list": may_list_resources(user),
    }
    return render(request, "sharing/manage.html", context)


# ---------------------------------------------------------------------------------------------------------
# Listing a resource and changing it
# ---------------------------------------------------------------------------------------------------------


def _resource_form_page(request, resource=None):
    """The form for a new resource (resource None) or a change. "Add a row" and "Same hours every day"
    draw the form again from what was submitted, saving nothing (with HTMX only the hours are swapped)."""
    user = request.user
    owners = Owners.of(user)
    if resource is None and not owners:
        raise Http404
    # The form works on a copy: a refused change must not show up in the page's heading.
    instance = copy.copy(resource) if resource is not None else None
    periods = services.hours_of(resource) if resource is not None else []
    hours_action = request.POST.get("hours_action") if request.method == "POST" else None
    every_day = None
    if hours_action:
        form = ResourceForm(
            user=user, owners=owners, instance=instance, initial=ResourceForm.initial_from(request.POST)
        )
        hours, every_day = hours_rows_redrawn(request.POST, hours_action)
    else:
        data = request.POST if request.method == "POST" else None
        form = ResourceForm(data, user=user, owners=owners, instance=instance)
        hours = hours_formset(data, periods=periods, blank_rows=1 if periods else 7)
    if request.method == "POST" and not hours_action:
        form_valid, hours_valid = form.is_valid(), hours.is_valid()
        if form_valid and hours_valid:
            try:
                saved = services.resource_save(
                    resource=form.instance,
                    by=user,
                    hours=hours.periods(),
                    audience_regions=list(form.cleaned_data["audience_regions"]),
                    audience_organisations=list(form.cleaned_data["audience_organisations"]),
                )
            except ServiceError as error:
                if error.field == "hours":
                    hours.non_form_errors().append(error.message)
                else:
                    add_service_error(form, error)
            else:
                messages.success(request, _("The resource is saved."))
                return redirect("sharing:manage_resource", saved.pk)
    if every_day is None:
        every_day = EveryDayForm(prefix="every")
    failed = request.method == "POST" and not hours_action
    context = {"form": form, "hours": hours, "every_day": every_day, "resource": resource}
    return render(request, "sharing/manage_form.html", context, status=400 if failed else 200)


@login_required
@require_http_methods(["GET", "POST"])
def resource_new(request):
    _require_owner_pages(request.user)
    return _resource_form_page(request)


@login_required
@require_http_methods(["GET", "POST"])
def resource_edit(request, resource_id: int):
    return _resource_form_page(request, selectors.access_managed_resource(request.user, resource_id))


# ---------------------------------------------------------------------------------------------------------
# A resource's desk
# ---------------------------------------------------------------------------------------------------------


def _day_asked(request) -> datetime.date:
    form = DayForm(request.GET)
    return form.cleaned_data["day"] if form.is_valid() else timezone.localdate()


def _feed_links(request, feed) -> dict | None:
    if feed is None:
        return None
    https = request.build_absolute_uri(reverse("sharing:feed", args=[feed.token]))
    return {"feed": feed, "https": https, "webcal": "webcal://" + https.split("://", 1)[1]}


def _hours_lines(resource) -> list[str]:
    """The weekly hours as lines to read: one line when every day is the same, else one per weekday."""
    by_day: dict[int, list[str]] = {}
    for period in resource.hours.all():
        label = f"{period.opens:%H:%M}–{period.closes:%H:%M}"
        if period.closes <= period.opens:
            label = _("%(period)s (next day)") % {"period": label}
        by_day.setdefault(period.weekday, []).append(label)
    days = [", ".join(by_day[day]) for day in sorted(by_day)]
    if len(days) == 7 and len(set(days)) == 1:
        return [_("Every day %(periods)s") % {"periods": days[0]}]
    return [f"{WEEKDAYS[day]} {', '.join(periods)}" for day, periods in sorted(by_day.items())]


def _desk_page(request, resource, *, day=None, blackout_form=None, photo_form=None):
    user = request.user
    today = timezone.localdate()
    day = day or _day_asked(request)
    bookings = list(selectors.bookings_of_resource_on(resource, day))
    pending = [
        booking
        for booking in selectors.bookings_pending_for(user).filter(resource=resource)[:PENDING_SHOWN]
        if booking not in bookings
    ]
    feed = selectors.feeds_of(user).filter(resource=resource).order_by("-created_at").first()
    context = {
        "resource": resource,
        "day": day,
        "today": today,
        "previous_day": day - rules.DAY,
        "next_day": day + rules.DAY,
        "bookings": bookings,
        "pending": pending,
        "hours": _hours_lines(resource),
        "blackouts": list(resource.blackouts.filter(last_day__gte=today)),
        "blackout_form": blackout_form or BlackoutForm(),
        "photos": list(resource.photos.all()),
        "photo_form": photo_form or PhotoForm(),
        "feed": _feed_links(request, feed),
    }
    failed = any(form is not None and form.errors for form in (blackout_form, photo_form))
    return render(request, "sharing/manage_resource.html", context, status=400 if failed else 200)


@login_required
@require_GET
@never_cache
def manage_resource(request, resource_id: int):
    return _desk_page(request, selectors.access_managed_resource(request.user, resource_id))


@login_required
@require_POST
def blackout_add(request, resource_id: int):
    resource = selectors.access_managed_resource(request.user, resource_id)
    form = BlackoutForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.blackout_add(
                resource=resource,
                by=request.user,
                first_day=data["first_day"],
                last_day=data["last_day"],
                reason=data["reason"],
            )
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(
                request, _("Closed on those days. Bookings on them are cancelled and their bookers told.")
            )
            return redirect("sharing:manage_resource", resource.pk)
    return _desk_page(request, resource, blackout_form=form)


@login_required
@require_POST
def blackout_remove(request, resource_id: int, blackout_id: int):
    resource = selectors.access_managed_resource(request.user, resource_id)
    blackout = get_object_or_404(resource.blackouts.all(), pk=blackout_id)
    blackout.resource = resource
    services.blackout_remove(blackout=blackout, by=request.user)
    messages.success(request, _("Open again on those days. Cancelled bookings stay cancelled."))
    return redirect("sharing:manage_resource", resource.pk)


@login_required
@require_POST
def photo_add(request, resource_id: int):
    resource = selectors.access_managed_resource(request.user, resource_id)
    form = PhotoForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.photo_add(resource=resource, by=request.user, upload=form.cleaned_data["photo"])
        except ServiceError as error:
            form.add_error("photo", error.message)
        else:
            messages.success(request, _("The photo is added."))
            return redirect("sharing:manage_resource", resource.pk)
    return _desk_page(request, resource, photo_form=form)


@login_required
@require_GET
def poster(request, resource_id: int):
    """The printable check-in poster: a large QR code of the resource's check-in link."""
    resource = selectors.access_managed_resource(request.user, resource_id)
    link = request.build_absolute_uri(reverse("sharing:checkin", args=[resource.checkin_token]))
    # A PNG rather than the SVG: an image scales to the sheet or the phone's screen, which segno's
    # fixed-size SVG does not.
    qr_code = "data:image/png;base64," + base64.b64encode(qr_png(link, scale=12)).decode()
    context = {"resource": resource, "link": link, "qr_code": qr_code}
    return render(request, "sharing/manage_poster.html", context)


@login_required
@require_POST
def checkin_renew(request, resource_id: int):
    resource = selectors.access_managed_resource(request.user, resource_id)
    services.checkin_token_renew(resource=resource, by=request.user)
    messages.success(
        request, _("A new code: print this poster and replace the old one, which no longer works.")
    )
    return redirect("sharing:manage_poster", resource.pk)


@login_required
@require_POST
def feed_create(request, resource_id: int):
    resource = selectors.access_managed_resource(request.user, resource_id)
    services.feed_create(by=request.user, resource=resource)
    messages.success(request, _("The calendar link is ready. A link you made before no longer works."))
    return redirect(reverse("sharing:manage_resource", args=[resource.pk]) + "#calendar")


@login_required
@require_POST
def feed_revoke(request, resource_id: int, feed_id: int):
    resource = selectors.access_managed_resource(request.user, resource_id)
    feed = get_object_or_404(selectors.feeds_of(request.user).filter(resource=resource), pk=feed_id)
    services.feed_revoke(feed=feed, by=request.user)
    messages.success(request, _("The link is revoked: calendars using it stop updating."))
    return redirect(reverse("sharing:manage_resource", args=[resource.pk]) + "#calendar")


# ---------------------------------------------------------------------------------------------------------
# A booking's actions, from the list of requests or from the desk
# ---------------------------------------------------------------------------------------------------------


def _booking_action(request, booking_id: int, form_class, perform):
    """With HTMX the booking's row comes back with the outcome or the refusal; without, the page it came
    from, with the outcome or refusal as a message."""
    booking = selectors.access_managed_booking(request.user, booking_id)
    form = form_class(request.POST)
    error = done = ""
    if not form.is_valid():
        error = " ".join(message for field_errors in form.errors.values() for message in field_errors)
    else:
        try:
            done = perform(booking, form.cleaned_data)
        except ServiceError as service_error:
            error = service_error.message
    came_from = "desk" if request.POST.get("from") == "desk" else "manage"
    if htmx_swap(request):
        row = selectors.access_managed_booking(request.user, booking_id)
        context = {"booking": row, "came_from": came_from, "row_error": error, "row_done": done}
        return render(request, "sharing/owner_booking_row.html", context)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, done)
    if came_from == "desk":
        day = rules.local_day(booking.starts_at).isoformat()
        return redirect(reverse("sharing:manage_resource", args=[booking.resource_id]) + f"?day={day}")
    return redirect("sharing:manage")


def _booker(booking) -> str:
    return booking.organisation.name if booking.organisation_id else booking.resident.name


@login_required
@require_POST
def booking_decide(request, booking_id: int):
    def perform(booking, data):
        approve = data["decision"] == "approve"
        services.booking_decide(booking=booking, by=request.user, approve=approve, reason=data["reason"])
        if approve:
            return _("Approved: %(name)s is told.") % {"name": _booker(booking)}
        return _("Declined: %(name)s is told why.") % {"name": _booker(booking)}

    return _booking_action(request, booking_id, DecideForm, perform)


@login_required
@require_POST
def booking_cancel(request, booking_id: int):
    def perform(booking, data):
        services.booking_cancel(booking=booking, by=request.user, reason=data["reason"])
        return _("Cancelled: %(name)s is told why.") % {"name": _booker(booking)}

    return _booking_action(request, booking_id, CancelForm, perform)


@login_required
@require_POST
def booking_check_in(request, booking_id: int):
    def perform(booking, data):
        services.booking_check_in(booking=booking, by=request.user)
        return _("%(name)s is checked in.") % {"name": _booker(booking)}

    return _booking_action(request, booking_id, ButtonForm, perform)


urls = [
    path("manage/", manage, name="manage"),
    path("manage/new/", resource_new, name="resource_new"),
    path("manage/<int:resource_id>/", manage_resource, name="manage_resource"),
    path("manage/<int:resource_id>/edit/", resource_edit, name="resource_edit"),
    path("manage/<int:resource_id>/blackouts/", blackout_add, name="manage_blackout_add"),
    path(
        "manage/<int:resource_id>/blackouts/<int:blackout_id>/remove/",
        blackout_remove,
        name="manage_blackout_remove",
    ),
    path("manage/<int:resource_id>/photos/", photo_add, name="manage_photo_add"),
    path("manage/<int:resource_id>/poster/", poster, name="manage_poster"),
    path("manage/<int:resource_id>/poster/renew/", checkin_renew, name="manage_checkin_renew"),
    path("manage/<int:resource_id>/feed/", feed_create, name="manage_feed_create"),
    path("manage/<int:resource_id>/feed/<int:feed_id>/revoke/", feed_revoke, name="manage_feed_revoke"),
    path("manage/bookings/<int:booking_id>/decide/", booking_decide, name="manage_booking_decide"),
    path("manage/bookings/<int:booking_id>/cancel/", booking_cancel, name="manage_booking_cancel"),
    path("manage/bookings/<int:booking_id>/check-in/", booking_check_in, name="manage_booking_check_in"),
]
