"""Volunteering reports and the honour roll: pure reads, each table one grouped query.

The report (for staff who see volunteering in a region, Perm.VIEW_VOLUNTEERING) covers a region's subtree,
down to whole communities, and a period of days [start, end) in Asia/Shanghai:

- verified service: sign-ups whose hours were approved or adjusted to more than zero, counted by the date
  of their activity; their points are the credit of the verification's ledger transaction (what the
  volunteer's passbook actually received), so that the report agrees with the ledger;
- the same by activity (with the sign-ups still awaiting verification), by organisation (community-run or
  each provider), by group of residents (age bands on the period's last day, or today if sooner, and the
  resident tags) and by month;
- redemptions made in the period by outlet and item, cancelled ones left out;
- the points outstanding now, per community: residents' passbook balances plus the award budget left, the
  points the community has promised and not yet seen spent.

Groups of residents are where a figure could single someone out (PIPL; DESIGN.md: aggregates over fewer
than 5 people are suppressed), so a group of fewer than 5 volunteers shows "<5" and no hours or points; the
age bands partition the volunteers, so when only one band is hidden the next smallest is hidden too, or it
could be worked out from the total. Sensitive tags (PIPL art. 28) are only grouped for a user who may see
them in the whole region. The other tables are about activities, organisations, months and outlets, whose
rosters the same staff see one by one, so they are not suppressed. No table names a person: the report and
its workbook are aggregates, and exporting them is not an audited export of personal data.

The honour roll is the opposite: volunteers who chose to appear on it (VolunteerProfile.on_honour_roll),
by name, ranked by verified hours and by points earned, in a region that contains the viewer's home or lies
in their staff scope. Children under 14 are left off it, whatever they chose.

Every read is a constant number of queries, whatever the number of activities, sign-ups or regions.
"""

import datetime
from dataclasses import dataclass, field, replace
from decimal import Decimal

from django.db.models import (
    Case,
    CharField,
    Count,
    F,
    FilteredRelation,
    IntegerField,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from gongzhi.core.excel import Table
from gongzhi.core.models import Region, RegionLevel, ResidentTag
from gongzhi.core.roles import Perm
from gongzhi.core.scope import acts_as_superuser, has_perm_anywhere, has_perm_in, in_scope, scope_regions
from gongzhi.core.workdays import years_before
from gongzhi.volunteering.models import (
    AccountKind,
    Activity,
    ActivityStatus,
    LedgerEntry,
    PointsAccount,
    Redemption,
    RedemptionStatus,
    SignUp,
    SignUpStatus,
    Verification,
)
from gongzhi.volunteering.selectors import own_record

# DESIGN.md: aggregates over fewer than 5 people are suppressed.
SMALLEST_GROUP = 5
SUPPRESSED = "<5"
# The month table has a column per month: three years is more than any report asks for.
MAX_PERIOD_DAYS = 3 * 366
# Reports and honour rolls cover whole communities; the picker offers the user's regions and two levels below.
REPORT_LEVELS = [RegionLevel.CITY, RegionLevel.DISTRICT, RegionLevel.STREET, RegionLevel.COMMUNITY]
HOME_LEVELS = [RegionLevel.DISTRICT, RegionLevel.STREET, RegionLevel.COMMUNITY]
PICKER_DEPTH = 2
HONOUR_SIZE = 20
CHILD_AGE = 14

AGE_BANDS = [
    ("under_18", _("Under 18")),
    ("18_59", _("18 to 59")),
    ("60_79", _("60 to 79")),
    ("80_plus", _("80 and over")),
    ("unknown", _("Age not recorded")),
]
HONOUR_PERIODS = [("month", _("This month")), ("year", _("This year")), ("all", _("All time"))]

# A verified sign-up that counts: hours approved or adjusted to more than zero (a rejection records 0).
VERIFIED = Q(verification__in=[Verification.APPROVED, Verification.ADJUSTED], hours__gt=0)


# ------------------------------------------------------------------------------------------------ values


def _midnight(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=timezone.get_default_timezone())


def _add_months(day: datetime.date, months: int) -> datetime.date:
    index = day.year * 12 + day.month - 1 + months
    return datetime.date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class Period:
    """Whole days [start, end), Asia/Shanghai."""

    start: datetime.date
    end: datetime.date

    @classmethod
    def between(cls, first_day: datetime.date, last_day: datetime.date) -> "Period":
        return cls(first_day, last_day + datetime.timedelta(days=1))

    @classmethod
    def year_of(cls, day: datetime.date) -> "Period":
        return cls(datetime.date(day.year, 1, 1), datetime.date(day.year + 1, 1, 1))

    @property
    def last_day(self) -> datetime.date:
        return self.end - datetime.timedelta(days=1)

    @property
    def start_at(self) -> datetime.datetime:
        return _midnight(self.start)

    @property
    def end_at(self) -> datetime.datetime:
        return _midnight(self.end)

    @property
    def slug(self) -> str:
        return f"{self.start:%Y%m%d}-{self.last_day:%Y%m%d}"

    def months(self) -> list[datetime.date]:
        """The first days of the months the period touches."""
        months, month = [], self.start.replace(day=1)
        while month < self.end:
            months.append(month)
            month = _add_months(month, 1)
        return months


@dataclass(frozen=True)
class Served:
    """Verified service of a set of sign-ups: distinct volunteers, sign-ups, hours and points."""

    volunteers: int = 0
    signups: int = 0
    hours: Decimal = Decimal(0)
    points: int = 0

    @classmethod
    def of(cls, row: dict) -> "Served":
        return cls(
            volunteers=row.get("volunteers") or 0,
            signups=row.get("signups") or 0,
            hours=Decimal(str(row.get("hours") or 0)),
            points=row.get("points") or 0,
        )


@dataclass(frozen=True)
class ActivityLine:
    activity_id: int
    title: str
    starts_at: datetime.datetime
    community: str
    organisation: str  # blank when the community runs it
    served: Served
    awaiting: int  # people with a place whose hours are not yet verified


@dataclass(frozen=True)
class OrganisationLine:
    organisation_id: int | None  # None: run by the community itself
    name: str
    activities: int
    served: Served


@dataclass(frozen=True)
class GroupLine:
    """A group of residents; `served` is None when the group is too small to show."""

    key: str
    label: str
    served: Served | None
    sensitive: bool = False

    @property
    def suppressed(self) -> bool:
        return self.served is None


@dataclass(frozen=True)
class MonthLine:
    month: datetime.date
    served: Served


@dataclass(frozen=True)
class RedemptionLine:
    outlet: str
    community: str
    item: str
    unit: str
    redemptions: int
    collected: int
    quantity: int
    points: int


@dataclass(frozen=True)
class LiabilityLine:
    community_id: int
    community: str
    holders: int  # passbooks with points in them
    passbooks: int
    budget: int

    @property
    def outstanding(self) -> int:
        return self.passbooks + self.budget


@dataclass(frozen=True)
class VolunteeringReport:
    region: Region
    period: Period
    totals: Served
    activities: list[ActivityLine]
    organisations: list[OrganisationLine]
    age_groups: list[GroupLine]
    tag_groups: list[GroupLine]
    sensitive_shown: bool
    months: list[MonthLine]
    redemptions: list[RedemptionLine]
    liability: list[LiabilityLine]
    computed_at: datetime.datetime = field(default_factory=timezone.now)

    @property
    def redeemed(self) -> RedemptionLine:
        lines = self.redemptions
        return RedemptionLine(
            outlet="",
            community="",
            item="",
            unit="",
            redemptions=sum(line.redemptions for line in lines),
            collected=sum(line.collected for line in lines),
            quantity=sum(line.quantity for line in lines),
            points=sum(line.points for line in lines),
        )

    @property
    def liability_total(self) -> LiabilityLine:
        lines = self.liability
        return LiabilityLine(
            community_id=0,
            community="",
            holders=sum(line.holders for line in lines),
            passbooks=sum(line.passbooks for line in lines),
            budget=sum(line.budget for line in lines),
        )


# ---------------------------------------------------------------------------------------------- scoping


def _in_communities(region: Region, community_field: str) -> Q:
    """Rows whose community lies in the region: an equality on the community key for a community, its
    path prefix above."""
    if region.level == RegionLevel.COMMUNITY:
        return Q(**{f"{community_field}_id": region.pk})
    return Q(**{f"{community_field}__path__startswith": region.path})


def _roots(user) -> list[Region]:
    if acts_as_superuser(user):
        return list(Region.objects.filter(parent=None).order_by("id"))
    return [region for region in scope_regions(user, Perm.VIEW_VOLUNTEERING) if region.level in REPORT_LEVELS]


def access_report_region(user, region_id: int | str | None) -> Region:
    """The region a report is asked for: one the user oversees, at community level or above; by default the
    top of their scope. Anything else is a 404, like the page for someone without the permission."""
    if not has_perm_anywhere(user, Perm.VIEW_VOLUNTEERING):
        raise Http404
    if not region_id:
        roots = _roots(user)
        if not roots:
            raise Http404
        return roots[0]
    try:
        region_id = int(region_id)
    except (TypeError, ValueError):
        raise Http404 from None
    regions = Region.objects.filter(
        in_scope(user, Perm.VIEW_VOLUNTEERING, field=None), level__in=REPORT_LEVELS
    )
    return get_object_or_404(regions, pk=region_id)


def report_regions(user, region: Region) -> tuple[list[Region], int]:
    """The picker: the user's regions, two levels below them, and the way up to the region shown; with the
    depth of the top one, to indent the rest."""
    roots = _roots(user) or [region]
    top_depth = min(root.depth for root in roots)
    picked = (
        Q(depth__lte=top_depth + PICKER_DEPTH)
        | Q(pk__in=[root.pk for root in roots])
        | Q(pk__in=region.ancestor_ids())
    )
    regions = Region.objects.filter(
        in_scope(user, Perm.VIEW_VOLUNTEERING, field=None), picked, level__in=REPORT_LEVELS
    )
    return list(regions.order_by("path")), top_depth


# ------------------------------------------------------------------------------------------- the report


def _served(region: Region, period: Period) -> QuerySet[SignUp]:
    """Verified sign-ups of the region's activities in the period, each joined to the credit of its points
    (the positive leg of its transaction: one row at most, so that sums over sign-ups stay right)."""
    return (
        SignUp.objects.filter(
            VERIFIED,
            _in_communities(region, "activity__community"),
            activity__starts_at__gte=period.start_at,
            activity__starts_at__lt=period.end_at,
        )
        .annotate(
            credit=FilteredRelation(
                "points_transaction__entries", condition=Q(points_transaction__entries__amount__gt=0)
            )
        )
        .order_by()
    )


def _measures() -> dict:
    return {
        "volunteers": Count("volunteer_id", distinct=True),
        "signups": Count("pk"),
        "hours": Sum("hours"),
        "points": Sum("credit__amount"),
    }


def _activity_lines(region: Region, period: Period) -> list[ActivityLine]:
    verified = Q(
        signups__verification__in=[Verification.APPROVED, Verification.ADJUSTED], signups__hours__gt=0
    )
    rows = (
        Activity.objects.filter(
            _in_communities(region, "community"),
            starts_at__gte=period.start_at,
            starts_at__lt=period.end_at,
        )
        .exclude(status__in=[ActivityStatus.DRAFT, ActivityStatus.CANCELLED])
        .annotate(
            credit=FilteredRelation(
                "signups__points_transaction__entries",
                condition=Q(signups__points_transaction__entries__amount__gt=0),
            )
        )
        .values("pk", "title", "starts_at", "community__name", "organisation__name")
        .annotate(
            # One sign-up per volunteer and activity: the verified sign-ups are the volunteers.
            verified_signups=Count("signups", filter=verified),
            verified_hours=Sum("signups__hours", filter=verified),
            credited=Sum("credit__amount"),
            awaiting=Count(
                "signups",
                filter=Q(signups__status=SignUpStatus.CONFIRMED, signups__verification=Verification.PENDING),
            ),
        )
        .order_by("starts_at", "pk")
    )
    return [
        ActivityLine(
            activity_id=row["pk"],
            title=row["title"],
            starts_at=row["starts_at"],
            community=row["community__name"],
            organisation=row["organisation__name"] or "",
            served=Served.of(
                {
                    "volunteers": row["verified_signups"],
                    "signups": row["verified_signups"],
                    "hours": row["verified_hours"],
                    "points": row["credited"],
                }
            ),
            awaiting=row["awaiting"],
        )
        for row in rows
    ]


def _organisation_lines(served: QuerySet[SignUp]) -> list[OrganisationLine]:
    rows = (
        served.values("activity__organisation_id", "activity__organisation__name")
        .annotate(activities=Count("activity_id", distinct=True), **_measures())
        .order_by()
    )
    lines = [
        OrganisationLine(
            organisation_id=row["activity__organisation_id"],
            name=row["activity__organisation__name"] or "",
            activities=row["activities"],
            served=Served.of(row),
        )
        for row in rows
    ]
    # The community's own activities first, then the providers by name.
    return sorted(
        lines, key=lambda line: (line.organisation_id is not None, line.name, line.organisation_id or 0)
    )


def _age_band(reference: datetime.date) -> Case:
    """The volunteer's age band on the reference day: under 18 when born after the day 18 years before it."""
    born = "volunteer__resident__birth_date"
    return Case(
        When(**{f"{born}__isnull": True}, then=Value("unknown")),
        When(**{f"{born}__gt": years_before(reference, 18)}, then=Value("under_18")),
        When(**{f"{born}__gt": years_before(reference, 60)}, then=Value("18_59")),
        When(**{f"{born}__gt": years_before(reference, 80)}, then=Value("60_79")),
        default=Value("80_plus"),
        output_field=CharField(),
    )


def hide_small_groups(lines: list[GroupLine], *, partition: bool) -> list[GroupLine]:
    """Hides the figures of every group of fewer than 5 volunteers. When the groups partition everyone (each
    volunteer in exactly one) and only one would be hidden, the next smallest is hidden too: otherwise the
    hidden one is the total less the others."""
    lines = [
        replace(line, served=None)
        if line.served is not None and line.served.volunteers < SMALLEST_GROUP
        else line
        for line in lines
    ]
    shown = [line for line in lines if not line.suppressed]
    if partition and len(lines) - len(shown) == 1 and shown:
        smallest = min(shown, key=lambda line: line.served.volunteers)
        lines = [replace(line, served=None) if line is smallest else line for line in lines]
    return lines


def _age_lines(served: QuerySet[SignUp], period: Period) -> list[GroupLine]:
    reference = min(period.last_day, timezone.localdate())
    by_band = {
        row["band"]: Served.of(row)
        for row in served.annotate(band=_age_band(reference)).values("band").annotate(**_measures())
    }
    lines = [
        GroupLine(key=key, label=str(label), served=by_band.get(key, Served())) for key, label in AGE_BANDS
    ]
    return hide_small_groups(lines, partition=True)


def _tag_lines(served: QuerySet[SignUp], *, sensitive_shown: bool) -> list[GroupLine]:
    tags = [
        (tag, label)
        for tag, label in ResidentTag.Tag.choices
        if sensitive_shown or tag not in ResidentTag.SENSITIVE
    ]
    by_tag = {
        row["tag"]: Served.of(row)
        for row in served.annotate(tag=F("volunteer__resident__tags__tag"))
        .filter(tag__in=[tag for tag, _label in tags])
        .values("tag")
        .annotate(**_measures())
    }
    lines = [
        GroupLine(
            key=tag,
            label=str(label),
            served=by_tag.get(tag, Served()),
            sensitive=tag in ResidentTag.SENSITIVE,
        )
        for tag, label in tags
    ]
    # A resident may carry several tags or none: the groups overlap, and none is the others' remainder.
    return hide_small_groups(lines, partition=False)


def _month_of(field_name: str, months: list[datetime.date]) -> Case:
    """The index of the month a row's date falls in (rows already narrowed to those months): comparisons
    with the month boundaries, cheaper than converting every row's time zone."""
    whens = [
        When(**{f"{field_name}__lt": _midnight(_add_months(month, 1))}, then=Value(index))
        for index, month in enumerate(months)
    ]
    return Case(*whens, default=None, output_field=IntegerField())


def _month_lines(served: QuerySet[SignUp], period: Period) -> list[MonthLine]:
    months = period.months()
    by_month = {
        row["month"]: Served.of(row)
        for row in served.annotate(month=_month_of("activity__starts_at", months))
        .values("month")
        .annotate(**_measures())
    }
    return [
        MonthLine(month=month, served=by_month.get(index, Served())) for index, month in enumerate(months)
    ]


def _redemption_lines(region: Region, period: Period) -> list[RedemptionLine]:
    rows = (
        Redemption.objects.filter(
            _in_communities(region, "item__outlet__community"),
            created_at__gte=period.start_at,
            created_at__lt=period.end_at,
        )
        .exclude(status=RedemptionStatus.CANCELLED)
        .values(
            "item_id",
            "item__name",
            "item__unit",
            "item__outlet_id",
            "item__outlet__name",
            "item__outlet__community__name",
        )
        .annotate(
            redemptions=Count("pk"),
            collected=Count("pk", filter=Q(status=RedemptionStatus.HANDED_OVER)),
            quantity=Sum("quantity"),
            points=Sum("points"),
        )
        .order_by("item__outlet__community__path", "item__outlet__name", "item__outlet_id", "item__name")
    )
    return [
        RedemptionLine(
            outlet=row["item__outlet__name"],
            community=row["item__outlet__community__name"],
            item=row["item__name"],
            unit=row["item__unit"],
            redemptions=row["redemptions"],
            collected=row["collected"],
            quantity=row["quantity"] or 0,
            points=row["points"] or 0,
        )
        for row in rows
    ]


def _liability_lines(region: Region) -> list[LiabilityLine]:
    passbook = Q(kind=AccountKind.RESIDENT)
    rows = (
        PointsAccount.objects.filter(
            _in_communities(region, "community"), kind__in=[AccountKind.RESIDENT, AccountKind.AWARD_BUDGET]
        )
        .values("community_id", "community__name", "community__path")
        .annotate(
            holders=Count("pk", filter=passbook & Q(balance__gt=0)),
            passbooks=Sum("balance", filter=passbook),
            budget=Sum("balance", filter=Q(kind=AccountKind.AWARD_BUDGET)),
        )
        .order_by("community__path")
    )
    return [
        LiabilityLine(
            community_id=row["community_id"],
            community=row["community__name"],
            holders=row["holders"],
            passbooks=row["passbooks"] or 0,
            budget=row["budget"] or 0,
        )
        for row in rows
    ]


def volunteering_report(*, user, region: Region, period: Period) -> VolunteeringReport:
    """The whole report for a region the caller has already checked the user oversees. Eight queries."""
    served = _served(region, period)
    sensitive_shown = has_perm_in(user, Perm.VIEW_SENSITIVE_TAGS, region)
    return VolunteeringReport(
        region=region,
        period=period,
        totals=Served.of(served.aggregate(**_measures())),
        activities=_activity_lines(region, period),
        organisations=_organisation_lines(served),
        age_groups=_age_lines(served, period),
        tag_groups=_tag_lines(served, sensitive_shown=sensitive_shown),
        sensitive_shown=sensitive_shown,
        months=_month_lines(served, period),
        redemptions=_redemption_lines(region, period),
        liability=_liability_lines(region),
    )


# ------------------------------------------------------------------------------------------- as tables


def _hours(value: Decimal) -> float:
    return float(value)


def _served_cells(served: Served | None) -> list:
    if served is None:
        return [SUPPRESSED, "", "", ""]
    return [served.volunteers, served.signups, _hours(served.hours), served.points]


def report_tables(report: VolunteeringReport) -> list[Table]:
    """Every table of the report, in the page's order, with the report's own numbers."""
    served_columns = [str(_("Volunteers")), str(_("Sign-ups")), str(_("Verified hours")), str(_("Points"))]
    totals = report.totals
    period = report.period
    tables = [
        Table(
            title=str(_("Summary")),
            columns=[str(_("Figure")), str(_("Value"))],
            rows=[
                [str(_("Region")), report.region.name],
                [str(_("From")), period.start],
                [str(_("To (inclusive)")), period.last_day],
                [str(_("Volunteers active")), totals.volunteers],
                [str(_("Verified sign-ups")), totals.signups],
                [str(_("Verified hours")), _hours(totals.hours)],
                [str(_("Points paid for verified hours")), totals.points],
                [str(_("Items redeemed")), report.redeemed.quantity],
                [str(_("Points spent")), report.redeemed.points],
                [str(_("Points outstanding now")), report.liability_total.outstanding],
            ],
        ),
        Table(
            title=str(_("By activity")),
            columns=[
                str(_("Date")),
                str(_("Activity")),
                str(_("Community")),
                str(_("Run by")),
                *served_columns,
                str(_("Awaiting verification")),
            ],
            rows=[
                [
                    timezone.localtime(line.starts_at).date(),
                    line.title,
                    line.community,
                    line.organisation or str(_("The community")),
                    *_served_cells(line.served),
                    line.awaiting,
                ]
                for line in report.activities
            ],
        ),
        Table(
            title=str(_("By organisation")),
            columns=[str(_("Run by")), str(_("Activities")), *served_columns],
            rows=[
                [line.name or str(_("The community")), line.activities, *_served_cells(line.served)]
                for line in report.organisations
            ],
        ),
        Table(
            title=str(_("By age")),
            columns=[str(_("Age")), *served_columns],
            rows=[[line.label, *_served_cells(line.served)] for line in report.age_groups],
            note=str(
                _(
                    "Ages are on the last day of the period, or today if that is sooner. Groups of fewer "
                    "than 5 volunteers are shown as <5, without their figures."
                )
            ),
        ),
        Table(
            title=str(_("By group of residents")),
            columns=[str(_("Group")), *served_columns],
            rows=[[line.label, *_served_cells(line.served)] for line in report.tag_groups],
            note=str(_("Groups of fewer than 5 volunteers are shown as <5, without their figures.")),
        ),
        Table(
            title=str(_("By month")),
            columns=[str(_("Month")), *served_columns],
            rows=[[f"{line.month:%Y-%m}", *_served_cells(line.served)] for line in report.months],
        ),
        Table(
            title=str(_("Redemptions")),
            columns=[
                str(_("Community")),
                str(_("Outlet")),
                str(_("Item")),
                str(_("Unit")),
                str(_("Redemptions")),
                str(_("Collected")),
                str(_("Quantity")),
                str(_("Points")),
            ],
            rows=[
                [
                    line.community,
                    line.outlet,
                    line.item,
                    line.unit,
                    line.redemptions,
                    line.collected,
                    line.quantity,
                    line.points,
                ]
                for line in report.redemptions
            ],
        ),
        Table(
            title=str(_("Points outstanding")),
            columns=[
                str(_("Community")),
                str(_("Residents holding points")),
                str(_("In residents' passbooks")),
                str(_("Award budget left")),
                str(_("Outstanding")),
            ],
            rows=[
                [line.community, line.holders, line.passbooks, line.budget, line.outstanding]
                for line in [*report.liability, replace(report.liability_total, community=str(_("Total")))]
            ],
            note=str(_("Balances now, whatever the period.")),
        ),
    ]
    return tables


# ------------------------------------------------------------------------------------------ honour roll


@dataclass(frozen=True)
class HonourLine:
    rank: int
    name: str
    community: str
    value: Decimal | int


@dataclass(frozen=True)
class HonourRoll:
    region: Region
    period: str
    by_hours: list[HonourLine]
    by_points: list[HonourLine]


def _home_region_ids(user) -> list[int]:
    """The regions above the user's home (building): where their own honour rolls are."""
    record = own_record(user)
    return record.region.ancestor_ids() if record is not None else []


def _honour_scope(user, home_ids: list[int]) -> Q:
    """Regions whose honour roll the user may see: their own community, street and district, and as staff
    the regions they oversee."""
    q = Q(pk__in=home_ids, level__in=HOME_LEVELS)
    if has_perm_anywhere(user, Perm.VIEW_VOLUNTEERING):
        q |= in_scope(user, Perm.VIEW_VOLUNTEERING, field=None) & Q(level__in=REPORT_LEVELS)
    return q


def honour_regions(user) -> list[Region]:
    """The picker: the user's home regions, and as staff their regions and two levels below them."""
    home_ids = _home_region_ids(user)
    roots = _roots(user) if has_perm_anywhere(user, Perm.VIEW_VOLUNTEERING) else []
    within = Q(pk__in=home_ids)
    if roots:
        top_depth = min(root.depth for root in roots)
        within |= Q(depth__lte=top_depth + PICKER_DEPTH)
    return list(Region.objects.filter(_honour_scope(user, home_ids), within).order_by("path"))


def access_honour_region(user, region_id: int | str | None) -> Region | None:
    """The region asked for, when the user may see its honour roll (else 404); without one, their home
    community, else the top of their staff scope; None when they have neither."""
    home_ids = _home_region_ids(user)
    if not region_id:
        home = Region.objects.filter(pk__in=home_ids, level=RegionLevel.COMMUNITY).first()
        if home is not None:
            return home
        roots = _roots(user) if has_perm_anywhere(user, Perm.VIEW_VOLUNTEERING) else []
        return roots[0] if roots else None
    try:
        region_id = int(region_id)
    except (TypeError, ValueError):
        raise Http404 from None
    return get_object_or_404(Region.objects.filter(_honour_scope(user, home_ids)), pk=region_id)


def _honour_since(period: str, now: datetime.datetime) -> datetime.datetime | None:
    today = timezone.localtime(now).date()
    if period == "month":
        return _midnight(today.replace(day=1))
    if period == "year":
        return _midnight(today.replace(month=1, day=1))
    return None


def _ranked(rows: list[dict], value: str) -> list[HonourLine]:
    """Highest first; equal figures share a rank (1, 2, 2, 4)."""
    lines, last_value, last_rank = [], None, 0
    for position, row in enumerate(rows, start=1):
        rank = last_rank if row[value] == last_value else position
        last_value, last_rank = row[value], rank
        lines.append(HonourLine(rank=rank, name=row["name"], community=row["community"], value=row[value]))
    return lines


def _not_a_child(resident: str, born_by: datetime.date) -> Q:
    return Q(**{f"{resident}__birth_date__isnull": True}) | Q(**{f"{resident}__birth_date__lte": born_by})


def honour_roll(*, region: Region, period: str, now: datetime.datetime | None = None) -> HonourRoll:
    """The top volunteers of the region who chose to appear: by verified hours (by the activity's date) and
    by points earned (credited for activities and awards; reversals, and what was reversed, left out).
    Two queries."""
    now = now or timezone.now()
    since = _honour_since(period, now)
    # PIPL art. 31: a child under 14's personal information needs a guardian's consent, which a child's own
    # opt-in is not; children are left off the roll.
    born_by = years_before(timezone.localtime(now).date(), CHILD_AGE)
    hours = SignUp.objects.filter(
        VERIFIED,
        _in_communities(region, "volunteer__resident__community"),
        _not_a_child("volunteer__resident", born_by),
        volunteer__on_honour_roll=True,
    )
    points = LedgerEntry.objects.filter(
        _in_communities(region, "account__resident__community"),
        _not_a_child("account__resident", born_by),
        account__kind=AccountKind.RESIDENT,
        account__resident__volunteer__on_honour_roll=True,
        amount__gt=0,
        transaction__reverses__isnull=True,
        transaction__reversal__isnull=True,
    )
    if since is not None:
        hours = hours.filter(activity__starts_at__gte=since)
        points = points.filter(created_at__gte=since)
    top_hours = (
        hours.values("volunteer_id")
        .annotate(
            name=F("volunteer__resident__name"),
            community=F("volunteer__resident__community__name"),
            total=Sum("hours"),
        )
        .order_by("-total", "volunteer_id")[:HONOUR_SIZE]
    )
    top_points = (
        points.values("account_id")
        .annotate(
            name=F("account__resident__name"),
            community=F("account__resident__community__name"),
            total=Sum("amount"),
        )
        .order_by("-total", "account_id")[:HONOUR_SIZE]
    )
    return HonourRoll(
        region=region,
        period=period,
        by_hours=_ranked(list(top_hours), "total"),
        by_points=_ranked(list(top_points), "total"),
    )
