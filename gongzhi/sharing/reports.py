"""The contribution report: what each owner opened to residents in a year and how it was used, the
"community home" (社区之家) record a street office uses to thank and rank its work units.

It is read for a region (by staff who see sharing there, Perm.VIEW_SHARING: community workers, street and
district officers) or for an organisation (by its own staff), for a calendar year in Asia/Shanghai, per owner
(each organisation, and each community for its own resources) × kind of resource × month:

- hours opened: the place-hours the resource was open, its weekly opening hours less its blackout days,
  times its places: a canteen of 40 seats open 11:30-13:00 every day of a 30-day month opened
  1.5 × 30 × 40 = 1,800 place-hours;
- hours booked: the place-hours of the bookings that held their places: confirmed, checked in, or released
  as a no-show (the places were kept from others all the same). Pending, cancelled and declined bookings
  held nothing for use;
- utilisation: hours booked / hours opened;
- residents and organisations served: distinct residents (and organisations) with a booking checked in, or
  confirmed and over.

Hours count in the month, and on the day, in which they fall: a night's parking from 19:00 on 31 January to
08:00 on 1 February gives 5 hours to January and 8 to February, and a blackout day takes away whatever part
of any opening period falls on that day (the morning of one night, the evening of the next). Hours count
from the resource's listing (created_at) to the end of today, so this year's figures never include hours
not yet opened. An unlisted resource adds no hours opened: it is open to nobody, and the platform keeps no
record of when it was unlisted (an owner who closes for a while adds blackout days, which the report counts);
its bookings still count as booked. People served count in the month their booking starts; the residents of
a year, an owner or a kind are the distinct residents across it, not a sum of the months.

The report holds hours, counts and the names of owners, no person's name: exporting it is not an audited
export of personal data (like the volunteering and matters reports).

Five queries, whatever the number of resources and bookings: the resources; their opening hours; their
blackouts; the booked places grouped by resource and interval (the forty bookings of one canteen slot are one
row); and the distinct people served, grouped by resource and month. The intervals are split at day and month
boundaries in Python, exactly and alike on both databases.
"""

import bisect
import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import DateField, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _

from gongzhi.core.excel import Table
from gongzhi.core.models import Organisation, Region, RegionLevel
from gongzhi.core.roles import Perm
from gongzhi.core.scope import acts_as_superuser, has_perm_anywhere, scope_organisation_ids, scope_regions
from gongzhi.sharing import rules
from gongzhi.sharing.models import Blackout, Booking, OpeningHours, Resource, ResourceKind, Status
from gongzhi.sharing.selectors import regions_reported_to

# Bookings whose places were held for use: a no-show's places were kept from others all the same.
HELD = (Status.CONFIRMED, Status.CHECKED_IN, Status.NO_SHOW)
# Reports cover whole communities; the picker offers the user's regions and two levels below them.
REPORT_LEVELS = [RegionLevel.CITY, RegionLevel.DISTRICT, RegionLevel.STREET, RegionLevel.COMMUNITY]
PICKER_DEPTH = 2
HOUR = Decimal(3600)
HUNDREDTHS = Decimal("0.01")


# ------------------------------------------------------------------------------------------- pure rules


# Any Monday will do for the weekly pattern: Asia/Shanghai keeps no daylight saving time (rules.py).
REFERENCE_MONDAY = datetime.date(2024, 1, 8)
DAY_SECONDS = 24 * 3600


def weekly_pattern(hours: Iterable[rules.Hours]) -> list[list[tuple[int, int]]]:
    """What of each weekday (0 = Monday) is open, as stretches in seconds since its midnight: a night from
    19:00 to 08:00 every day gives each day [(0, 8 h), (19 h, 24 h)], the morning of one night and the evening
    of the next."""
    periods = rules.open_periods(list(hours), REFERENCE_MONDAY, REFERENCE_MONDAY + 6 * rules.DAY)
    pattern = []
    for offset in range(7):
        midnight = rules.at(REFERENCE_MONDAY + offset * rules.DAY, datetime.time())
        pattern.append(
            [
                (
                    int((max(start, midnight) - midnight).total_seconds()),
                    int((min(end, midnight + rules.DAY) - midnight).total_seconds()),
                )
                for start, end in periods
                if start < midnight + rules.DAY and end > midnight
            ]
        )
    return pattern


def closed_days(blackouts: Iterable[tuple[datetime.date, datetime.date]], year: int) -> set[datetime.date]:
    first, last = datetime.date(year, 1, 1), datetime.date(year, 12, 31)
    days = set()
    for first_day, last_day in blackouts:
        day = max(first_day, first)
        while day <= min(last_day, last):
            days.add(day)
            day += rules.DAY
    return days


def open_seconds(
    pattern: list[list[tuple[int, int]]],
    closed: set[datetime.date],
    start: datetime.datetime,
    end: datetime.datetime,
) -> Iterable[tuple[datetime.date, int]]:
    """(day, seconds open) of each day in [start, end) on which the resource was open, blackout days left
    out. Day by day from the weekly pattern: a year of a resource is a few hundred additions."""
    if end <= start:
        return
    first_day, last_day = rules.local_day(start), rules.local_day(end - datetime.timedelta(microseconds=1))
    lower = int((start - rules.at(first_day, datetime.time())).total_seconds())
    upper = int((end - rules.at(last_day, datetime.time())).total_seconds())
    for offset in range((last_day - first_day).days + 1):
        day = first_day + offset * rules.DAY
        if day in closed:
            continue
        low = lower if offset == 0 else 0
        high = upper if day == last_day else DAY_SECONDS
        seconds = sum(min(e, high) - max(s, low) for s, e in pattern[day.weekday()] if s < high and e > low)
        if seconds:
            yield day, seconds


def month_bounds(year: int) -> list[datetime.datetime]:
    """Midnight on the first of each month of the year, and of the next January: 13 edges."""
    return [
        rules.at(datetime.date(year + month // 12, month % 12 + 1, 1), datetime.time()) for month in range(13)
    ]


def by_month(interval: rules.Interval, bounds: list[datetime.datetime]) -> Iterable[tuple[int, int]]:
    """(month index, seconds) of an interval within the year, split where a month ends."""
    start, end = max(interval[0], bounds[0]), min(interval[1], bounds[-1])
    index = bisect.bisect_right(bounds, start) - 1
    while start < end:
        edge = min(end, bounds[index + 1])
        yield index, int((edge - start).total_seconds())
        start, index = edge, index + 1


# ------------------------------------------------------------------------------------------------ values


@dataclass(frozen=True)
class Owner:
    """Who opened the resources: an organisation, or a community for its own."""

    key: str  # "organisation-<id>" or "community-<id>"
    name: str
    organisation_id: int | None

    @property
    def is_community(self) -> bool:
        return self.organisation_id is None


@dataclass
class _Cell:
    """Running totals of one owner, kind and month: place-seconds, and the people served."""

    opened: int = 0
    booked: int = 0
    residents: set[int] = field(default_factory=set)
    organisations: set[int] = field(default_factory=set)


def _hours(seconds: int) -> Decimal:
    return (Decimal(seconds) / HOUR).quantize(HUNDREDTHS, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Figures:
    opened: Decimal  # place-hours
    booked: Decimal
    residents: int
    organisations: int

    @classmethod
    def of(cls, cells: Iterable[_Cell]) -> "Figures":
        opened = booked = 0
        residents: set[int] = set()
        organisations: set[int] = set()
        for cell in cells:
            opened += cell.opened
            booked += cell.booked
            residents |= cell.residents
            organisations |= cell.organisations
        return cls(_hours(opened), _hours(booked), len(residents), len(organisations))

    @property
    def utilisation(self) -> Decimal | None:
        """Hours booked as a percentage of hours opened; none when nothing was opened."""
        if not self.opened:
            return None
        return (self.booked * 100 / self.opened).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Line:
    """An owner's resources of one kind: the year and each month."""

    owner: Owner
    kind: str
    resources: int
    total: Figures
    months: list[Figures]

    @property
    def kind_label(self) -> str:
        return str(ResourceKind(self.kind).label)


@dataclass(frozen=True)
class OwnerLine:
    owner: Owner
    resources: int
    total: Figures
    lines: list[Line]


@dataclass(frozen=True)
class KindLine:
    kind: str
    resources: int
    total: Figures
    months: list[Figures]

    @property
    def label(self) -> str:
        return str(ResourceKind(self.kind).label)


@dataclass(frozen=True)
class Ranked:
    rank: int
    owner: Owner
    value: Decimal | int


@dataclass(frozen=True)
class ContributionReport:
    region: Region | None
    organisation: Organisation | None
    year: int
    counted_until: datetime.date | None  # the last day counted; None for a year not yet begun
    months: list[datetime.date]
    owners: list[OwnerLine]
    kinds: list[KindLine]
    month_totals: list[Figures]
    total: Figures
    by_opened: list[Ranked]  # organisations only: the units a street thanks
    by_residents: list[Ranked]

    @property
    def scope_name(self) -> str:
        return self.region.name if self.region is not None else self.organisation.name

    @property
    def lines(self) -> list[Line]:
        return [line for owner in self.owners for line in owner.lines]


# ------------------------------------------------------------------------------------------- the report


def _resources(region: Region | None, organisation: Organisation | None) -> QuerySet[Resource]:
    if organisation is not None:
        return Resource.objects.filter(organisation=organisation)
    if region.level == RegionLevel.COMMUNITY:
        return Resource.objects.filter(community_id=region.pk)
    return Resource.objects.filter(community__path__startswith=region.path)


def _owner(resource: Resource, community_label: str) -> Owner:
    if resource.organisation_id:
        return Owner(
            f"organisation-{resource.organisation_id}", resource.organisation.name, resource.organisation_id
        )
    name = community_label % {"community": resource.community.name}
    return Owner(f"community-{resource.community_id}", name, None)


def _ranked(owners: list[OwnerLine], value) -> list[Ranked]:
    """Highest first, then by name; equal figures share a rank (1, 2, 2, 4)."""
    ordered = sorted(owners, key=lambda line: (-value(line), line.owner.name))
    ranking, last_value, last_rank = [], None, 0
    for position, line in enumerate(ordered, start=1):
        rank = last_rank if value(line) == last_value else position
        last_value, last_rank = value(line), rank
        ranking.append(Ranked(rank, line.owner, value(line)))
    return ranking


def contribution_report(
    *,
    region: Region | None = None,
    organisation: Organisation | None = None,
    year: int,
    now: datetime.datetime | None = None,
) -> ContributionReport:
    """The report of a region or an organisation the caller has already checked the user may read."""
    now = now or timezone.now()
    bounds = month_bounds(year)
    tomorrow = rules.at(rules.local_day(now) + rules.DAY, datetime.time())
    window = (bounds[0], min(bounds[-1], tomorrow))
    months = [bound.date() for bound in bounds[:-1]]

    scope = _resources(region, organisation)
    resources = list(scope.select_related("organisation", "community").order_by("pk"))
    hours = defaultdict(list)
    rows = OpeningHours.objects.filter(resource__in=scope.values("pk")).order_by()
    for resource_id, weekday, opens, closes in rows.values_list("resource_id", "weekday", "opens", "closes"):
        hours[resource_id].append(rules.Hours(weekday, opens, closes))
    blackouts = defaultdict(list)
    rows = Blackout.objects.filter(resource__in=scope.values("pk")).order_by()
    for resource_id, first_day, last_day in rows.values_list("resource_id", "first_day", "last_day"):
        blackouts[resource_id].append((first_day, last_day))

    community_label = _("%(community)s (the community)")
    group_of: dict[int, tuple[str, str]] = {}
    counts: dict[tuple[str, str], int] = defaultdict(int)
    owners: dict[str, Owner] = {}
    community_paths: dict[str, str] = {}
    cells: dict[tuple[str, str], list[_Cell]] = {}
    patterns: dict[tuple, list[list[tuple[int, int]]]] = {}
    for resource in resources:
        owner = _owner(resource, community_label)
        owners[owner.key] = owner
        community_paths.setdefault(owner.key, resource.community.path)
        group = group_of[resource.pk] = (owner.key, resource.kind)
        counts[group] += 1
        months_of = cells.setdefault(group, [_Cell() for _month in months])
        if not resource.is_active:
            continue
        key = tuple(sorted(hours[resource.pk], key=lambda period: (period.weekday, period.opens)))
        if key not in patterns:
            patterns[key] = weekly_pattern(key)
        closed = closed_days(blackouts[resource.pk], year)
        listed = (max(window[0], resource.created_at), window[1])
        for day, seconds in open_seconds(patterns[key], closed, *listed):
            months_of[day.month - 1].opened += seconds * resource.capacity

    if window[0] < window[1] and resources:
        held = (
            Booking.objects.filter(
                resource__in=scope.values("pk"),
                status__in=HELD,
                starts_at__lt=window[1],
                ends_at__gt=window[0],
            )
            .values("resource_id", "starts_at", "ends_at")
            .annotate(places=Sum("party_size"))
            .order_by()
        )
        for row in held:
            months_of = cells[group_of[row["resource_id"]]]
            for index, seconds in by_month((row["starts_at"], min(row["ends_at"], window[1])), bounds):
                months_of[index].booked += seconds * row["places"]

        served = (
            Booking.objects.filter(
                Q(status=Status.CHECKED_IN) | Q(status=Status.CONFIRMED, ends_at__lte=now),
                resource__in=scope.values("pk"),
                starts_at__gte=window[0],
                starts_at__lt=window[1],
            )
            .annotate(
                month=TruncMonth(
                    "starts_at", output_field=DateField(), tzinfo=timezone.get_default_timezone()
                )
            )
            .values_list("resource_id", "month", "resident_id", "organisation_id")
            .distinct()
            .order_by()
        )
        for resource_id, month, resident_id, organisation_id in served:
            cell = cells[group_of[resource_id]][month.month - 1]
            if resident_id is not None:
                cell.residents.add(resident_id)
            if organisation_id is not None:
                cell.organisations.add(organisation_id)

    # The communities' own resources first (in the order of the region tree), then organisations by name.
    ordered = sorted(
        owners.values(),
        key=lambda owner: (
            not owner.is_community,
            community_paths[owner.key] if owner.is_community else "",
            owner.name,
        ),
    )
    kinds = [kind for kind in ResourceKind.values if any(group[1] == kind for group in cells)]
    owner_lines = []
    for owner in ordered:
        lines = [
            Line(
                owner=owner,
                kind=kind,
                resources=counts[(owner.key, kind)],
                total=Figures.of(cells[(owner.key, kind)]),
                months=[Figures.of([cell]) for cell in cells[(owner.key, kind)]],
            )
            for kind in kinds
            if (owner.key, kind) in cells
        ]
        owner_lines.append(
            OwnerLine(
                owner=owner,
                resources=sum(line.resources for line in lines),
                total=Figures.of(cell for kind in kinds for cell in cells.get((owner.key, kind), [])),
                lines=lines,
            )
        )
    kind_lines = [
        KindLine(
            kind=kind,
            resources=sum(count for group, count in counts.items() if group[1] == kind),
            total=Figures.of(cell for group, row in cells.items() if group[1] == kind for cell in row),
            months=[
                Figures.of(row[index] for group, row in cells.items() if group[1] == kind)
                for index in range(len(months))
            ],
        )
        for kind in kinds
    ]
    units = [line for line in owner_lines if not line.owner.is_community]
    return ContributionReport(
        region=region,
        organisation=organisation,
        year=year,
        counted_until=rules.local_day(window[1] - rules.DAY) if window[0] < window[1] else None,
        months=months,
        owners=owner_lines,
        kinds=kind_lines,
        month_totals=[Figures.of(row[index] for row in cells.values()) for index in range(len(months))],
        total=Figures.of(cell for row in cells.values() for cell in row),
        by_opened=_ranked(units, lambda line: line.total.opened),
        by_residents=_ranked(units, lambda line: line.total.residents),
    )


# ---------------------------------------------------------------------------------------------- scoping


def _roots(user) -> list[Region]:
    if acts_as_superuser(user):
        return list(Region.objects.filter(parent=None).order_by("id"))
    return [region for region in scope_regions(user, Perm.VIEW_SHARING) if region.level in REPORT_LEVELS]


def report_organisations(user) -> list[Organisation]:
    """The organisations whose own report the user reads: those they act for."""
    ids = scope_organisation_ids(user, Perm.ACT_FOR_ORGANISATION)
    return list(Organisation.objects.filter(pk__in=ids).order_by("name", "pk")) if ids else []


def may_read_report(user) -> bool:
    """Whether the user has a report to read: staff who see sharing somewhere, or an organisation's staff."""
    return has_perm_anywhere(user, Perm.VIEW_SHARING) or bool(
        scope_organisation_ids(user, Perm.ACT_FOR_ORGANISATION)
    )


def access_report_scope(user, value: str | None) -> Region | Organisation:
    """What a report is asked for: "region-<id>" of a region the user oversees, at community level or above,
    or "organisation-<id>" of an organisation they act for; by default the top of their scope, else their
    first organisation. Anything else, like the page for a resident, is a 404."""
    if not value:
        roots = _roots(user)
        if roots:
            return roots[0]
        organisations = report_organisations(user)
        if organisations:
            return organisations[0]
        raise Http404
    kind, _dash, number = value.partition("-")
    try:
        pk = int(number)
    except ValueError:
        raise Http404 from None
    if kind == "region":
        return get_object_or_404(regions_reported_to(user).filter(level__in=REPORT_LEVELS), pk=pk)
    if kind == "organisation":
        if not acts_as_superuser(user) and pk not in scope_organisation_ids(user, Perm.ACT_FOR_ORGANISATION):
            raise Http404
        return get_object_or_404(Organisation, pk=pk)
    raise Http404


def scope_value(scope: Region | Organisation) -> str:
    return f"{'region' if isinstance(scope, Region) else 'organisation'}-{scope.pk}"


def report_regions(user, region: Region | None) -> tuple[list[Region], int]:
    """The picker's regions: the user's own, two levels below them, and the way up to the region shown; with
    the depth of the top one, to indent the rest."""
    roots = _roots(user)
    if not roots:
        return [], 0
    top_depth = min(root.depth for root in roots)
    picked = Q(depth__lte=top_depth + PICKER_DEPTH) | Q(pk__in=[root.pk for root in roots])
    if region is not None:
        picked |= Q(pk__in=region.ancestor_ids())
    regions = regions_reported_to(user).filter(picked, level__in=REPORT_LEVELS)
    return list(regions.order_by("path")), top_depth


def report_subregions(region: Region) -> list[Region]:
    """The regions one level down, to drill into: a street's communities."""
    return list(Region.objects.filter(parent=region, level__in=REPORT_LEVELS).order_by("id"))


# ------------------------------------------------------------------------------------------- as tables


def _figure_columns() -> list[str]:
    return [
        _("Hours opened (place-hours)"),
        _("Hours booked (place-hours)"),
        _("Utilisation (%)"),
        _("Residents served"),
        _("Organisations served"),
    ]


def _figure_cells(figures: Figures) -> list:
    utilisation = figures.utilisation
    return [
        float(figures.opened),
        float(figures.booked),
        None if utilisation is None else float(utilisation),
        figures.residents,
        figures.organisations,
    ]


def report_tables(report: ContributionReport) -> list[Table]:
    """Every table of the report, with the report's own numbers."""
    total = report.total
    hours_note = _(
        "Place-hours: hours times places. Hours count in the month in which they fall; residents and "
        "organisations are distinct across each row."
    )
    return [
        Table(
            title=_("Summary"),
            columns=[_("Figure"), _("Value")],
            rows=[
                [_("Report on"), report.scope_name],
                [_("Year"), report.year],
                [_("Counted until"), report.counted_until],
                [_("Hours opened (place-hours)"), float(total.opened)],
                [_("Hours booked (place-hours)"), float(total.booked)],
                [_("Utilisation (%)"), None if total.utilisation is None else float(total.utilisation)],
                [_("Residents served"), total.residents],
                [_("Organisations served"), total.organisations],
            ],
        ),
        Table(
            title=_("By owner, kind and month"),
            columns=[_("Opened by"), _("Kind"), _("Month"), *_figure_columns()],
            rows=[
                [line.owner.name, line.kind_label, f"{month:%Y-%m}", *_figure_cells(figures)]
                for line in report.lines
                for month, figures in zip(report.months, line.months, strict=True)
            ],
            note=hours_note,
        ),
        Table(
            title=_("By owner and kind"),
            columns=[_("Opened by"), _("Kind"), _("Resources"), *_figure_columns()],
            rows=[
                [line.owner.name, line.kind_label, line.resources, *_figure_cells(line.total)]
                for line in report.lines
            ],
            note=hours_note,
        ),
        Table(
            title=_("By owner"),
            columns=[_("Opened by"), _("Resources"), *_figure_columns()],
            rows=[[line.owner.name, line.resources, *_figure_cells(line.total)] for line in report.owners],
            note=hours_note,
        ),
        Table(
            title=_("By kind"),
            columns=[_("Kind"), _("Resources"), *_figure_columns()],
            rows=[[line.label, line.resources, *_figure_cells(line.total)] for line in report.kinds],
            note=hours_note,
        ),
        Table(
            title=_("By month"),
            columns=[_("Month"), *_figure_columns()],
            rows=[
                [f"{month:%Y-%m}", *_figure_cells(figures)]
                for month, figures in zip(report.months, report.month_totals, strict=True)
            ],
            note=hours_note,
        ),
        Table(
            title=_("Ranking by hours opened"),
            columns=[_("Rank"), _("Organisation"), _("Hours opened (place-hours)")],
            rows=[[ranked.rank, ranked.owner.name, float(ranked.value)] for ranked in report.by_opened],
        ),
        Table(
            title=_("Ranking by residents served"),
            columns=[_("Rank"), _("Organisation"), _("Residents served")],
            rows=[[ranked.rank, ranked.owner.name, ranked.value] for ranked in report.by_residents],
        ),
    ]
