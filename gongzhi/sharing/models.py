"""Sharing (共享): resources that work units, communities and organisations open to residents, and bookings
that can never collide.

A Resource is owned by an organisation (a work unit's canteen, an innovation centre's desks) or, with no
organisation, by its community. It opens by weekly hours (a period may cross midnight), closes on blackout
dates, and holds either one booking at a time (capacity 1) or a pool of places. A Booking occupies the
half-open interval [starts_at, blocked_until), where blocked_until is its end plus the resource's buffer time.
For an exclusive resource, PostgreSQL refuses two overlapping active bookings by an exclusion constraint
(migration 0002); for a pooled one the services count the places with the resource row locked.
"""

import secrets

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from gongzhi.core.models import Organisation, Region, Resident


class ResourceKind(models.TextChoices):
    CANTEEN = "canteen", _("Canteen")
    PARKING = "parking", _("Parking")
    HALL = "hall", _("Meeting hall")
    GYM = "gym", _("Gym")
    ACTIVITY_ROOM = "activity_room", _("Activity room")
    DESK = "desk", _("Co-working desk")
    HOT_SEAT = "hot_seat", _("Hot seat")
    OTHER = "other", _("Other")


class PriceKind(models.TextChoices):
    FREE = "free", _("Free")
    CASH = "cash", _("Low-cost (paid on site)")
    POINTS = "points", _("Points")


class PricePer(models.TextChoices):
    BOOKING = "booking", _("per booking")
    HOUR = "hour", _("per hour")


def new_token() -> str:
    return secrets.token_urlsafe(24)


class Resource(models.Model):
    Kind = ResourceKind

    community = models.ForeignKey(
        Region, on_delete=models.PROTECT, related_name="+", verbose_name=_("community")
    )
    # Where it is: the community itself or a compound or building within it.
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+", verbose_name=_("region"))
    # The owner; none means the community itself.
    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("opened by"),
    )
    kind = models.CharField(_("kind"), max_length=16, choices=ResourceKind.choices)
    name = models.CharField(_("name"), max_length=100)
    address = models.CharField(_("address"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    rules = models.TextField(_("rules of use"), blank=True)
    # Who may book: residents living in these regions' subtrees and staff of these organisations. Both empty
    # means the residents of the resource's own community.
    audience_regions = models.ManyToManyField(
        Region, blank=True, related_name="+", verbose_name=_("open to residents of")
    )
    audience_organisations = models.ManyToManyField(
        Organisation, blank=True, related_name="+", verbose_name=_("open to organisations")
    )
    capacity = models.PositiveIntegerField(
        _("places"), default=1, help_text=_("1 for exclusive use; more for pooled places such as seats.")
    )
    slot_minutes = models.PositiveSmallIntegerField(_("slot (minutes)"), default=30)
    min_minutes = models.PositiveSmallIntegerField(_("shortest booking (minutes)"), default=30)
    max_minutes = models.PositiveIntegerField(_("longest booking (minutes)"), default=240)
    book_ahead_days = models.PositiveSmallIntegerField(_("may book up to (days ahead)"), default=14)
    cancel_before_minutes = models.PositiveIntegerField(_("may cancel up to (minutes before)"), default=60)
    buffer_minutes = models.PositiveSmallIntegerField(_("buffer between bookings (minutes)"), default=0)
    needs_approval = models.BooleanField(_("bookings need approval"), default=False)
    hours_per_week = models.PositiveSmallIntegerField(
        _("hours per person per week"), null=True, blank=True, help_text=_("Empty: no limit.")
    )
    bookings_at_once = models.PositiveSmallIntegerField(
        _("bookings a person may hold at once"), null=True, blank=True, help_text=_("Empty: no limit.")
    )
    # No-shows in the last NO_SHOW_DAYS that stop a person booking this resource again.
    no_show_limit = models.PositiveSmallIntegerField(_("no-shows before booking is paused"), default=3)
    checkin_opens_minutes = models.PositiveSmallIntegerField(_("check-in opens (minutes before)"), default=15)
    release_after_minutes = models.PositiveSmallIntegerField(
        _("released if nobody checks in within (minutes)"), default=15
    )
    price_kind = models.CharField(_("price"), max_length=8, choices=PriceKind.choices, default=PriceKind.FREE)
    price_per = models.CharField(
        _("charged"), max_length=8, choices=PricePer.choices, default=PricePer.BOOKING
    )
    price_amount = models.DecimalField(_("amount"), max_digits=8, decimal_places=2, default=0)
    needs_plate = models.BooleanField(_("asks for a vehicle plate"), default=False)
    # The printed check-in QR code carries this token: a parking lot has a poster, not a screen, so the code
    # cannot rotate; the booking's own window and the booker's sign-in do the rest. The owner can renew it.
    checkin_token = models.CharField(max_length=40, unique=True, default=new_token, editable=False)
    is_active = models.BooleanField(_("listed"), default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("shared resource")
        verbose_name_plural = _("shared resources")
        ordering = ["name", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=ResourceKind.values), name="resource_kind_valid"),
            models.CheckConstraint(condition=Q(capacity__gte=1), name="resource_capacity_positive"),
            models.CheckConstraint(
                condition=Q(slot_minutes__gte=5) & Q(slot_minutes__lte=1440), name="resource_slot_valid"
            ),
            models.CheckConstraint(
                condition=Q(min_minutes__gte=F("slot_minutes")) & Q(max_minutes__gte=F("min_minutes")),
                name="resource_durations_ordered",
            ),
            models.CheckConstraint(condition=Q(price_amount__gte=0), name="resource_price_not_negative"),
            models.CheckConstraint(
                condition=Q(price_kind__in=PriceKind.values) & Q(price_per__in=PricePer.values),
                name="resource_price_valid",
            ),
            models.CheckConstraint(
                condition=~Q(price_kind=PriceKind.FREE) | Q(price_amount=0),
                name="resource_free_costs_nothing",
            ),
        ]
        indexes = [models.Index(fields=["community", "kind", "name"], name="resource_list")]

    def __str__(self):
        return self.name

    @property
    def is_exclusive(self) -> bool:
        return self.capacity == 1


class OpeningHours(models.Model):
    """One opening period on a weekday (0 = Monday). A period whose closing time is not after its opening
    time runs past midnight into the next day: 19:00-08:00 is the night; 00:00-00:00 is the whole day."""

    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="hours")
    weekday = models.PositiveSmallIntegerField(_("weekday"))
    opens = models.TimeField(_("opens"))
    closes = models.TimeField(_("closes"))

    class Meta:
        ordering = ["weekday", "opens"]
        constraints = [
            models.CheckConstraint(condition=Q(weekday__lte=6), name="opening_weekday_valid"),
            models.UniqueConstraint(fields=["resource", "weekday", "opens"], name="opening_once_per_start"),
        ]

    def __str__(self):
        return f"{self.weekday} {self.opens:%H:%M}-{self.closes:%H:%M}"


class Blackout(models.Model):
    """Days the resource is closed (inclusive), e.g. the unit's own event or a holiday."""

    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="blackouts")
    first_day = models.DateField(_("from"))
    last_day = models.DateField(_("to"))
    reason = models.CharField(_("reason"), max_length=200, blank=True)

    class Meta:
        ordering = ["first_day"]
        constraints = [
            models.CheckConstraint(condition=Q(last_day__gte=F("first_day")), name="blackout_days_ordered")
        ]

    def __str__(self):
        return f"{self.first_day}-{self.last_day}"


class Photo(models.Model):
    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="photos")
    image = models.ImageField(upload_to="sharing/%Y/%m/")
    added_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return self.image.name


class Status(models.TextChoices):
    PENDING = "pending", _("Awaiting approval")
    CONFIRMED = "confirmed", _("Confirmed")
    CHECKED_IN = "checked_in", _("Checked in")
    CANCELLED = "cancelled", _("Cancelled")
    DECLINED = "declined", _("Declined")
    NO_SHOW = "no_show", _("Released: nobody checked in")


# Bookings that hold their interval. A pending request holds it too, so approving never collides.
ACTIVE = (Status.PENDING, Status.CONFIRMED, Status.CHECKED_IN)


class Series(models.Model):
    """A weekly recurring booking: the same hours on the same weekday for a number of weeks."""

    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="+")
    booked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    weeks = models.PositiveSmallIntegerField()
    skipped = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"{self.resource_id}×{self.weeks}"


class Booking(models.Model):
    Status = Status

    resource = models.ForeignKey(Resource, on_delete=models.PROTECT, related_name="bookings")
    booked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # The resident it is for, or the organisation that booked it.
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    series = models.ForeignKey(
        Series, on_delete=models.SET_NULL, null=True, blank=True, related_name="bookings"
    )
    starts_at = models.DateTimeField(_("from"))
    ends_at = models.DateTimeField(_("to"))
    # ends_at plus the resource's buffer: the interval [starts_at, blocked_until) is what the booking holds.
    blocked_until = models.DateTimeField()
    # starts_at plus the resource's release time: a confirmed booking nobody checked in to is released then.
    release_at = models.DateTimeField()
    # Copied from the resource (capacity 1), so the exclusion constraint can name it.
    exclusive = models.BooleanField()
    party_size = models.PositiveSmallIntegerField(_("places"), default=1)
    plate = models.CharField(_("vehicle plate"), max_length=10, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices)
    price_kind = models.CharField(max_length=8, choices=PriceKind.choices, default=PriceKind.FREE)
    price_due = models.DecimalField(_("price"), max_digits=8, decimal_places=2, default=0)
    points_transaction = models.ForeignKey(
        "volunteering.LedgerTransaction", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The form's (or API client's) token, so a doubled request books once.
    request_key = models.CharField(max_length=120, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    checked_in_at = models.DateTimeField(null=True, blank=True)
    checked_in_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reminded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("booking")
        verbose_name_plural = _("bookings")
        ordering = ["starts_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=Status.values), name="booking_status_valid"),
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="booking_ends_after_start"),
            models.CheckConstraint(
                condition=Q(blocked_until__gte=F("ends_at")), name="booking_buffer_not_negative"
            ),
            models.CheckConstraint(condition=Q(party_size__gte=1), name="booking_party_positive"),
            models.CheckConstraint(
                condition=Q(exclusive=False) | Q(party_size=1), name="booking_exclusive_is_one_party"
            ),
            models.CheckConstraint(
                condition=Q(resident__isnull=False) | Q(organisation__isnull=False),
                name="booking_is_for_someone",
            ),
            models.CheckConstraint(
                condition=~Q(status=Status.CHECKED_IN) | Q(checked_in_at__isnull=False),
                name="booking_checked_in_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(price_kind=PriceKind.POINTS) | Q(points_transaction__isnull=False),
                name="booking_points_are_paid",
            ),
        ]
        indexes = [
            models.Index(fields=["resource", "starts_at"], name="booking_resource_time"),
            models.Index(fields=["booked_by", "starts_at"], name="booking_booker_time"),
            models.Index(fields=["status", "release_at"], name="booking_release"),
            models.Index(fields=["resident", "resource", "starts_at"], name="booking_resident_quota"),
        ]

    def __str__(self):
        return f"{self.resource_id} {self.starts_at:%Y-%m-%d %H:%M}"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE


class Feed(models.Model):
    """A secret iCalendar URL (RFC 5545) of a person's bookings or of a resource's. Revoking it kills the URL;
    a new one can be made."""

    token = models.CharField(max_length=40, unique=True, default=new_token, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False, resource__isnull=True)
                | Q(user__isnull=True, resource__isnull=False),
                name="feed_of_a_person_or_a_resource",
            )
        ]

    def __str__(self):
        return self.token[:6]
