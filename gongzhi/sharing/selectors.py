"""Every read of sharing, scoped to the user. A resource is visible to its audience (residents of the regions
it opens to, staff of the organisations it opens to), to its owner's staff, and to staff overseeing its
region; to anyone else it does not exist (404)."""

import datetime
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from gongzhi.core.models import Region
from gongzhi.core.roles import Perm
from gongzhi.core.scope import acts_as_superuser, in_scope, scope_organisation_ids
from gongzhi.core.selectors import resident_record_of
from gongzhi.sharing import rules
from gongzhi.sharing.models import ACTIVE, Booking, Feed, Resource, Status


def _resident(user):
    if not user.is_authenticated or getattr(user, "token_organisation_id", None):
        return None
    if not hasattr(user, "_sharing_resident"):
        user._sharing_resident = resident_record_of(user)
    return user._sharing_resident


def _managed_q(user) -> Q:
    q = Q(organisation__isnull=True) & in_scope(user, Perm.MANAGE_SHARING, field="community")
    organisation_ids = scope_organisation_ids(user, Perm.ACT_FOR_ORGANISATION)
    if organisation_ids:
        q |= Q(organisation_id__in=organisation_ids)
    return q


def _audience_q(user) -> Q:
    """Listed resources open to the user: by where they live, or by the organisations they act for."""
    q = Q(pk__in=[])
    resident = _resident(user)
    if resident is not None:
        ancestors = resident.region.ancestor_ids()
        q |= Q(audience_regions__in=ancestors)
        q |= Q(community_id=resident.community_id, audience_regions=None, audience_organisations=None)
    organisation_ids = scope_organisation_ids(user, Perm.ACT_FOR_ORGANISATION)
    if organisation_ids:
        q |= Q(audience_organisations__in=organisation_ids)
    return Q(is_active=True) & q


def resources_bookable_by(user) -> QuerySet[Resource]:
    if not user.is_authenticated:
        return Resource.objects.none()
    ids = Resource.objects.filter(_audience_q(user)).values("pk")
    return Resource.objects.filter(pk__in=ids)


def resources_visible_to(user) -> QuerySet[Resource]:
    if acts_as_superuser(user):
        return Resource.objects.all()
    if not user.is_authenticated:
        return Resource.objects.none()
    ids = Resource.objects.filter(
        _audience_q(user) | _managed_q(user) | in_scope(user, Perm.VIEW_SHARING, field="community")
    ).values("pk")
    return Resource.objects.filter(pk__in=ids)


def access_resource(user, resource_id: int) -> Resource:
    return get_object_or_404(
        resources_visible_to(user).select_related("community", "region", "organisation"), pk=resource_id
    )


def resources_managed_by(user) -> QuerySet[Resource]:
    if acts_as_superuser(user):
        return Resource.objects.all()
    if not user.is_authenticated:
        return Resource.objects.none()
    return Resource.objects.filter(_managed_q(user))


def access_managed_resource(user, resource_id: int) -> Resource:
    return get_object_or_404(
        resources_managed_by(user).select_related("community", "region", "organisation"), pk=resource_id
    )


def may_run_sharing(user) -> bool:
    return user.is_authenticated and resources_managed_by(user).exists()


def bookings_visible_to(user) -> QuerySet[Booking]:
    """The user's own bookings, and those of resources the user manages or oversees."""
    if acts_as_superuser(user):
        return Booking.objects.all()
    if not user.is_authenticated:
        return Booking.objects.none()
    resources = Resource.objects.filter(
        _managed_q(user) | in_scope(user, Perm.VIEW_SHARING, field="community")
    ).values("pk")
    return Booking.objects.filter(Q(booked_by=user) | Q(resource__in=resources))


def access_booking(user, booking_id: int) -> Booking:
    return get_object_or_404(
        bookings_visible_to(user).select_related("resource", "resident", "organisation", "booked_by"),
        pk=booking_id,
    )


def access_managed_booking(user, booking_id: int) -> Booking:
    return get_object_or_404(
        Booking.objects.filter(resource__in=resources_managed_by(user).values("pk")).select_related(
            "resource", "resident", "organisation", "booked_by"
        ),
        pk=booking_id,
    )


def bookings_of(user) -> QuerySet[Booking]:
    return Booking.objects.filter(booked_by=user).select_related("resource").order_by("-starts_at", "-pk")


def bookings_pending_for(user) -> QuerySet[Booking]:
    return (
        Booking.objects.filter(status=Status.PENDING, resource__in=resources_managed_by(user).values("pk"))
        .select_related("resource", "resident", "organisation")
        .order_by("starts_at", "pk")
    )


def bookings_of_resource_on(resource: Resource, day: datetime.date) -> QuerySet[Booking]:
    """A day's bookings of a resource, for its staff at the desk."""
    start = rules.at(day, datetime.time())
    return (
        Booking.objects.filter(resource=resource, starts_at__lt=start + rules.DAY, ends_at__gt=start)
        .select_related("resident", "organisation")
        .order_by("starts_at", "pk")
    )


def feeds_of(user) -> QuerySet[Feed]:
    return Feed.objects.filter(created_by=user, revoked_at=None).select_related("resource")


def feed_by_token(token: str) -> Feed | None:
    return Feed.objects.filter(token=token, revoked_at=None).select_related("user", "resource").first()


def feed_bookings(feed: Feed) -> QuerySet[Booking]:
    """What a calendar feed shows: a person's bookings, or a resource's, from 30 days back on."""
    since = timezone.now() - datetime.timedelta(days=30)
    bookings = Booking.objects.filter(status__in=(*ACTIVE, Status.NO_SHOW), ends_at__gte=since)
    if feed.resource_id:
        bookings = bookings.filter(resource_id=feed.resource_id)
    else:
        bookings = bookings.filter(booked_by_id=feed.user_id)
    return bookings.select_related("resource").order_by("starts_at", "pk")


# Availability --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Slot:
    starts_at: datetime.datetime
    ends_at: datetime.datetime
    places_left: int
    bookable: bool  # free, not past, within the booking horizon


@dataclass(frozen=True)
class Day:
    day: datetime.date
    closed_reason: str | None
    slots: list[Slot]


def week_availability(
    resource: Resource, monday: datetime.date, *, now: datetime.datetime | None = None
) -> list[Day]:
    """The week's slot grid: each slot of the opening hours with the places left. Three queries whatever the
    number of bookings: hours, blackouts, and the bookings that touch the week."""
    now = now or timezone.now()
    hours = [rules.Hours(h.weekday, h.opens, h.closes) for h in resource.hours.all()]
    blackouts = list(resource.blackouts.all())
    week = (rules.at(monday, datetime.time()), rules.at(monday + 7 * rules.DAY, datetime.time()))
    buffer = datetime.timedelta(minutes=resource.buffer_minutes)
    held = list(
        Booking.objects.filter(
            resource=resource,
            status__in=ACTIVE,
            starts_at__lt=week[1] + buffer,
            blocked_until__gt=week[0] - buffer,
        ).values_list("starts_at", "blocked_until", "party_size")
    )
    horizon = now + datetime.timedelta(days=resource.book_ahead_days)
    days = []
    for offset in range(7):
        day = monday + offset * rules.DAY
        closed = next((b for b in blackouts if b.first_day <= day <= b.last_day), None)
        if closed is not None:
            days.append(Day(day, closed.reason or "", []))
            continue
        day_span = (rules.at(day, datetime.time()), rules.at(day + rules.DAY, datetime.time()))
        grid = []
        for period in rules.open_periods(hours, day, day):
            for start, end in rules.slots(period, resource.slot_minutes):
                if not day_span[0] <= start < day_span[1]:
                    continue
                # A slot is free if a booking of it (with its buffer) would fit.
                taken = rules.peak_occupancy((start, end + buffer), held)
                left = max(resource.capacity - taken, 0)
                grid.append(Slot(start, end, left, left > 0 and now <= start <= horizon))
        days.append(Day(day, None, grid))
    return days


def regions_reported_to(user) -> QuerySet[Region]:
    """Regions whose contribution report the user may read."""
    return Region.objects.filter(in_scope(user, Perm.VIEW_SHARING, field=None))


def resources_in_region(user, region: Region) -> QuerySet[Resource]:
    """The listed resources in a region's subtree that the user may see, with who opens them (the analysis
    app's asset map reads them here rather than copying them)."""
    return (
        resources_visible_to(user)
        .filter(region__path__startswith=region.path, is_active=True)
        .select_related("organisation", "region")
        .order_by("organisation__name", "name", "pk")
    )


def resources_count_by_kind(region: Region) -> dict[str, int]:
    """How many listed resources the region's subtree holds of each kind, for the community profile. One
    query; counts only, so no scope is needed beyond the region the caller already checked."""
    return dict(
        Resource.objects.filter(region__path__startswith=region.path, is_active=True)
        .values_list("kind")
        .annotate(n=Count("pk"))
        .order_by()
    )


def resident_ids_active(region: Region, start: datetime.datetime, end: datetime.datetime) -> QuerySet:
    """The ids of residents living in the region who booked a shared resource for a time starting in
    [start, end), whatever became of the booking except a cancellation or a refusal (the participation
    ladder's first step). A values query, so the caller may use it as a subquery."""
    return (
        Booking.objects.filter(
            resident__region__path__startswith=region.path, starts_at__gte=start, starts_at__lt=end
        )
        .exclude(status__in=[Status.CANCELLED, Status.DECLINED])
        .values("resident_id")
    )
