"""Matters (诉求): what residents report, who handles it at which tier, and the append-only timeline.

小事不出院落,大事不出社区: a matter enters at the lowest tier its category names (compound, community, street,
district), is handled by the role holders of its region at that tier and climbs only when it must.
"""

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from gongzhi.core.models import Organisation, Region, RegionLevel, Resident

DESCRIPTION_MAX_LENGTH = 4000
SUBMITTED_COVER = ["status", "first_response_at", "response_due", "response_seconds"]
CLOSED_COVER = ["confirmation", "rating"]
# A district's dashboard ranks its streets and a street's its communities: the child key rides along too.
DISTRICT_SUBMITTED_COVER = ["street", "community", *SUBMITTED_COVER]
STREET_SUBMITTED_COVER = ["community", *SUBMITTED_COVER]


class Tier(models.TextChoices):
    """The handling tiers, lowest first. Grids and buildings are places, not tiers: a grid worker reports."""

    COMPOUND = "compound", _("Compound")
    COMMUNITY = "community", _("Community")
    STREET = "street", _("Street")
    DISTRICT = "district", _("District")


TIER_ORDER = [Tier.COMPOUND, Tier.COMMUNITY, Tier.STREET, Tier.DISTRICT]


class DeadlineUnit(models.TextChoices):
    # Emergencies and outages run on the clock; ordinary matters count working days (China's calendar).
    HOURS = "hours", _("hours, every day")
    WORKING_DAYS = "working_days", _("working days")


class CategoryClass(models.TextChoices):
    """The 12345 hotline's classes, which set a category's default deadlines."""

    EMERGENCY = "emergency", _("Emergency")
    UTILITY = "utility", _("Water, power, gas or heating")
    GENERAL = "general", _("General")
    COMPLEX = "complex", _("Complex")


class Category(models.Model):
    """What a matter is about. Categories with no community are the platform's defaults; a community
    configures its own by keeping a category with the same code, which then replaces the default there."""

    community = models.ForeignKey(
        Region,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("community"),
        limit_choices_to={"level": RegionLevel.COMMUNITY},
    )
    code = models.SlugField(_("code"), max_length=40)
    name = models.CharField(_("name"), max_length=60)
    group = models.CharField(_("group"), max_length=60, blank=True)
    description = models.CharField(_("description"), max_length=300, blank=True)
    category_class = models.CharField(_("class"), max_length=16, choices=CategoryClass.choices)
    first_tier = models.CharField(_("first tier"), max_length=16, choices=Tier.choices)
    response_amount = models.PositiveSmallIntegerField(_("response deadline"))
    response_unit = models.CharField(max_length=16, choices=DeadlineUnit.choices)
    resolution_amount = models.PositiveSmallIntegerField(_("resolution deadline"))
    resolution_unit = models.CharField(max_length=16, choices=DeadlineUnit.choices)
    # Neighbour disputes and the like: never on the public board nor in Open311.
    is_private = models.BooleanField(_("private"), default=False)
    is_active = models.BooleanField(_("in use"), default=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["position", "code"]
        constraints = [
            models.UniqueConstraint(fields=["community", "code"], name="matter_category_code_per_community"),
            models.UniqueConstraint(
                fields=["code"], condition=Q(community=None), name="matter_category_code_default"
            ),
            models.CheckConstraint(
                condition=Q(first_tier__in=Tier.values), name="matter_category_tier_valid"
            ),
            models.CheckConstraint(
                condition=Q(response_amount__gt=0) & Q(resolution_amount__gt=0),
                name="matter_category_deadlines_positive",
            ),
        ]

    def __str__(self):
        # Default categories are stored by their English msgid; a community's own name passes through.
        return gettext(self.name)


class Status(models.TextChoices):
    SUBMITTED = "submitted", _("Submitted")
    ACCEPTED = "accepted", _("Accepted")
    IN_PROGRESS = "in_progress", _("In progress")
    RESOLVED = "resolved", _("Resolved, awaiting confirmation")
    CLOSED = "closed", _("Closed")
    DUPLICATE = "duplicate", _("Duplicate")
    WITHDRAWN = "withdrawn", _("Withdrawn")


OPEN_STATUSES = [Status.SUBMITTED, Status.ACCEPTED, Status.IN_PROGRESS, Status.RESOLVED]
FINAL_STATUSES = [Status.CLOSED, Status.DUPLICATE, Status.WITHDRAWN]


class Urgency(models.TextChoices):
    NORMAL = "normal", _("Normal")
    URGENT = "urgent", _("Urgent")


class Confirmation(models.TextChoices):
    RESOLVED = "resolved", _("Confirmed resolved by the reporter")
    NOT_RESOLVED = "not_resolved", _("Reported not resolved by the reporter")
    AUTO = "auto", _("Auto-confirmed: no answer within 7 days")


class Matter(models.Model):
    """One reported problem. The region ancestors (community, street, district) are copied onto the row
    when it is reported, so that dashboards and the board filter and group by an indexed equality instead
    of joining the region tree (1M matters, bench/README.md)."""

    Status = Status

    token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    category = models.ForeignKey(
        Category, on_delete=models.PROTECT, related_name="+", verbose_name=_("category")
    )
    description = models.TextField(_("description"), max_length=DESCRIPTION_MAX_LENGTH)
    urgency = models.CharField(_("urgency"), max_length=8, choices=Urgency.choices, default=Urgency.NORMAL)
    is_private = models.BooleanField(default=False, editable=False)
    hide_name = models.BooleanField(_("hide my name from the public"), default=False)

    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+", verbose_name=_("location"))
    community = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    street = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    district = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    latitude = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6, null=True, blank=True)

    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # A grid worker or building leader reporting for a resident who is not online.
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    on_behalf_of = models.ForeignKey(
        Resident, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.SUBMITTED)
    entry_tier = models.CharField(max_length=16, choices=Tier.choices)
    tier = models.CharField(_("tier"), max_length=16, choices=Tier.choices)
    handling_region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    resolved_tier = models.CharField(max_length=16, choices=Tier.choices, blank=True)

    submitted_at = models.DateTimeField(_("reported"), default=timezone.now)
    response_due = models.DateTimeField(_("response due"))
    resolution_due = models.DateTimeField(_("resolution due"))
    # The current tier's own deadlines: they start afresh when a matter climbs, and drive the overdue
    # escalation; the reporter's promised deadlines above never move.
    tier_response_due = models.DateTimeField()
    tier_due = models.DateTimeField()
    first_response_at = models.DateTimeField(_("first response"), null=True, blank=True)
    # Working time to the first response, kept when it happens: dashboards take percentiles of it.
    response_seconds = models.PositiveIntegerField(null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    first_resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    confirmation = models.CharField(max_length=16, choices=Confirmation.choices, blank=True)
    rating = models.PositiveSmallIntegerField(
        _("rating"), null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    rating_comment = models.CharField(_("comment"), max_length=500, blank=True)
    reopen_count = models.PositiveSmallIntegerField(default=0)
    reopened_at = models.DateTimeField(null=True, blank=True)
    escalations_by_hand = models.PositiveSmallIntegerField(default=0)
    escalations_by_deadline = models.PositiveSmallIntegerField(default=0)
    deadline_reminded_at = models.DateTimeField(null=True, blank=True)
    duplicate_of = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    me_too_count = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("matter")
        verbose_name_plural = _("matters")
        ordering = ["-submitted_at", "-id"]
        # Each dashboard figure counts by its own date (reported, closed, due, resolved), so a district's
        # month combines these (region, date) indexes; the included columns let the trend and the percentiles
        # read the index alone on PostgreSQL (SQLite ignores INCLUDE). Measured in bench/README.md.
        indexes = [
            models.Index(
                fields=["district", "submitted_at"],
                include=DISTRICT_SUBMITTED_COVER,
                name="matter_district_submitted",
            ),
            models.Index(
                fields=["street", "submitted_at"], include=SUBMITTED_COVER, name="matter_street_submitted"
            ),
            models.Index(
                fields=["community", "submitted_at"],
                include=SUBMITTED_COVER,
                name="matter_community_submitted",
            ),
            models.Index(
                fields=["district", "closed_at"], include=CLOSED_COVER, name="matter_district_closed"
            ),
            models.Index(
                fields=["street", "closed_at"],
                include=["community", *CLOSED_COVER],
                name="matter_street_closed",
            ),
            models.Index(fields=["district", "resolution_due"], name="matter_district_due"),
            models.Index(fields=["street", "resolution_due"], name="matter_street_due"),
            models.Index(fields=["district", "first_resolved_at"], name="matter_district_resolved"),
            models.Index(fields=["street", "first_resolved_at"], name="matter_street_resolved"),
            models.Index(fields=["handling_region", "status"], name="matter_handling_status"),
            models.Index(fields=["status", "tier_due"], name="matter_status_tier_due"),
            models.Index(fields=["-submitted_at", "-id"], condition=Q(is_private=False), name="matter_board"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=Status.values), name="matter_status_valid"),
            models.CheckConstraint(condition=Q(tier__in=Tier.values), name="matter_tier_valid"),
            models.CheckConstraint(
                condition=Q(rating=None) | Q(rating__gte=1, rating__lte=5), name="matter_rating_1_to_5"
            ),
            models.CheckConstraint(
                condition=~Q(status=Status.CLOSED) | (Q(closed_at__isnull=False) & ~Q(confirmation="")),
                name="matter_closed_has_confirmation",
            ),
            models.CheckConstraint(
                condition=~Q(status=Status.DUPLICATE) | Q(duplicate_of__isnull=False),
                name="matter_duplicate_names_original",
            ),
            models.CheckConstraint(
                condition=Q(first_response_at=None) | Q(first_response_at__gte=models.F("submitted_at")),
                name="matter_response_after_report",
            ),
        ]

    def __str__(self):
        return f"#{self.pk} {self.category}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def summary(self) -> str:
        return summarise(self.description)


SUMMARY_LENGTH = 60


def summarise(description: str) -> str:
    """The first line of a description, cut to fit a list row."""
    first_line = description.strip().splitlines()[0] if description.strip() else ""
    return first_line if len(first_line) <= SUMMARY_LENGTH else first_line[: SUMMARY_LENGTH - 1] + "…"


class MatterPhoto(models.Model):
    class Stage(models.TextChoices):
        REPORT = "report", _("Reported")
        RESOLUTION = "resolution", _("Resolution")

    matter = models.ForeignKey(Matter, on_delete=models.CASCADE, related_name="photos")
    stage = models.CharField(max_length=16, choices=Stage.choices)
    image = models.ImageField(upload_to="matters/%Y/%m/")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["uploaded_at", "id"]

    def __str__(self):
        return self.image.name

    def get_absolute_url(self) -> str:
        # Through the matter's own access check, so that a private matter's photo stays private.
        return reverse("matters:photo", args=[self.matter_id, self.pk])


class Follower(models.Model):
    """Who hears of each change: the reporter and everyone who said "me too"."""

    matter = models.ForeignKey(Matter, on_delete=models.CASCADE, related_name="followers")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    me_too = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["matter", "user"], name="matter_follower_once")]

    def __str__(self):
        return f"{self.user} → #{self.matter_id}"


class CoHandler(models.Model):
    """A department or organisation called in at street tier (吹哨报到): it must accept and then report."""

    class State(models.TextChoices):
        CALLED = "called", _("Called in")
        ACCEPTED = "accepted", _("Accepted")
        REPORTED = "reported", _("Reported")

    matter = models.ForeignKey(Matter, on_delete=models.CASCADE, related_name="co_handlers")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=16, choices=State.choices, default=State.CALLED)
    called_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    called_at = models.DateTimeField(default=timezone.now)
    accepted_at = models.DateTimeField(null=True, blank=True)
    reported_at = models.DateTimeField(null=True, blank=True)
    report = models.TextField(_("report"), max_length=2000, blank=True)

    class Meta:
        ordering = ["called_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["matter", "organisation"], name="matter_cohandler_once"),
            models.CheckConstraint(
                condition=~Q(state="reported") | ~Q(report=""), name="matter_cohandler_report_written"
            ),
        ]

    def __str__(self):
        return f"{self.organisation} → #{self.matter_id}"


class Event(models.Model):
    """The timeline: one row per change, never updated or deleted (database triggers, migration 0002)."""

    class Kind(models.TextChoices):
        SUBMITTED = "submitted", _("Reported")
        ROUTED = "routed", _("Routed")
        ACCEPTED = "accepted", _("Accepted")
        STARTED = "started", _("Work started")
        RESOLVED = "resolved", _("Resolved")
        CONFIRMED = "confirmed", _("Confirmed resolved")
        REOPENED = "reopened", _("Reported not resolved; reopened")
        CLOSED_UNRESOLVED = "closed_unresolved", _("Closed as not resolved")
        AUTO_CONFIRMED = "auto_confirmed", _("Auto-confirmed")
        RETURNED = "returned", _("Returned: not ours")
        ESCALATED = "escalated", _("Escalated")
        ESCALATED_OVERDUE = "escalated_overdue", _("Escalated: overdue")
        DUPLICATE = "duplicate", _("Marked duplicate")
        WITHDRAWN = "withdrawn", _("Withdrawn")
        ME_TOO = "me_too", _("Someone else has this problem too")
        CALLED_IN = "called_in", _("Department called in")
        CO_ACCEPTED = "co_accepted", _("Department accepted")
        CO_REPORTED = "co_reported", _("Department reported")
        COMMENTED = "commented", _("Note")

    matter = models.ForeignKey(Matter, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices)
    tier = models.CharField(max_length=16, choices=Tier.choices)
    note = models.TextField(blank=True)
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, null=True, related_name="+")

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["matter", "at"], name="matter_event_timeline")]

    def __str__(self):
        return f"#{self.matter_id} {self.kind}"
