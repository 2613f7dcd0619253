"""The participation ladder (参与阶梯): how far up residents of a region took part in a period, from using the
community's spaces to giving their time.

The steps, least to most active, and what counts for each (every app answers for its own step through one
selector, `resident_ids_active`, reading residents living in the region):

1. Booked a shared space: a sharing booking for the resident, starting in the period, not cancelled or
   declined (a no-show still booked).
2. Answered a survey: a month of the period in which they answered some survey (SurveyParticipation).
3. Reported a matter: a matter submitted in the period by them or on their behalf.
4. Co-signed or voted: a co-signature, or a vote on a motion, in the period.
5. Volunteered: checked in at, or verified for, an activity starting in the period.

A resident stands at the highest step they reached; "at or above" a step counts everyone who reached it or
higher. Who "moved up" stands higher this period than in the period before (from nothing counts too).
Everything is counted in one aggregate query over the region's residents, whatever their number; any count
under SMALL_COUNT is suppressed."""

import datetime
import re
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import BooleanField, Case, Count, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from gongzhi.analysis.models import Group, SurveyParticipation
from gongzhi.analysis.profile import years_before
from gongzhi.analysis.selectors import suppress
from gongzhi.consultations.selectors import resident_ids_active as consultation_ids
from gongzhi.core.models import Region, Resident, ResidentTag
from gongzhi.core.selectors import region_children
from gongzhi.matters.selectors import resident_ids_active as matter_ids
from gongzhi.sharing.selectors import resident_ids_active as booking_ids
from gongzhi.volunteering.selectors import resident_ids_active as volunteer_ids

STEPS = [
    (1, _("Booked a shared space")),
    (2, _("Answered a survey")),
    (3, _("Reported a matter")),
    (4, _("Co-signed or voted")),
    (5, _("Volunteered")),
]
ELDERLY_AGE = 60
ADULT_AGE = 18
PERIOD_FORMAT = re.compile(r"^(\d{4})(?:-Q([1-4]))?$")
BREAKDOWN_GROUPS = [Group.ELDERLY, Group.CHILDREN, Group.DISABILITY, Group.VULNERABLE]


# Periods ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """A year ("2025") or a quarter ("2025-Q2"); `end` is the first day after it."""

    code: str
    start: datetime.date
    end: datetime.date

    @property
    def previous(self) -> "Period":
        year, _sep, quarter = self.code.partition("-Q")
        if not quarter:
            return period_parse(str(int(year) - 1))
        number = int(quarter) - 1
        return period_parse(f"{year}-Q{number}" if number else f"{int(year) - 1}-Q4")


def period_parse(code: str) -> Period:
    """ "YYYY" or "YYYY-Qn"; raises ValueError for anything else."""
    match = PERIOD_FORMAT.match(code.strip())
    if match is None or not 2000 <= int(match[1]) <= 2100:
        raise ValueError(code)
    year = int(match[1])
    if match[2] is None:
        return Period(str(year), datetime.date(year, 1, 1), datetime.date(year + 1, 1, 1))
    quarter = int(match[2])
    start = datetime.date(year, 3 * quarter - 2, 1)
    end = datetime.date(year + 1, 1, 1) if quarter == 4 else datetime.date(year, 3 * quarter + 1, 1)
    return Period(f"{year}-Q{quarter}", start, end)


def period_of(day: datetime.date) -> Period:
    return period_parse(str(day.year))


# Groups, in SQL ---------------------------------------------------------------------------------------------


def _tagged(*tags: str) -> Q:
    return Q(pk__in=ResidentTag.objects.filter(tag__in=tags).values("resident_id"))


def group_q(group: str, today: datetime.date) -> Q:
    """Residents of a survey group, as the database can filter them: the same rule as
    `services.groups_of`, which reads one resident at a time."""
    tag = ResidentTag.Tag
    rules = {
        Group.ELDERLY: Q(birth_date__lte=years_before(today, ELDERLY_AGE))
        | _tagged(tag.ELDERLY, tag.LIVING_ALONE),
        Group.CHILDREN: Q(birth_date__gt=years_before(today, ADULT_AGE)) | _tagged(tag.CHILD),
        Group.DISABILITY: _tagged(tag.DISABILITY),
        Group.VULNERABLE: _tagged(tag.LOW_INCOME, tag.LIVING_ALONE),
    }
    return rules[group]


# The ladder ------------------------------------------------------------------------------------------------


def _midnight(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def survey_resident_ids(region: Region, start: datetime.date, end: datetime.date) -> QuerySet:
    """Residents living in the region who answered a survey in a month starting in [start, end)."""
    return SurveyParticipation.objects.filter(
        resident__region__path__startswith=region.path, month__gte=start, month__lt=end
    ).values("resident_id")


def highest_step(region: Region, start: datetime.date, end: datetime.date) -> Case:
    """Each resident's highest step in [start, end), 0 for none: checked from the top down, so the first
    match is the highest."""
    begin, finish = _midnight(start), _midnight(end)
    sources = [
        (5, volunteer_ids(region, begin, finish)),
        (4, consultation_ids(region, begin, finish)),
        (3, matter_ids(region, begin, finish)),
        (2, survey_resident_ids(region, start, end)),
        (1, booking_ids(region, begin, finish)),
    ]
    whens = [When(pk__in=ids, then=Value(step)) for step, ids in sources]
    return Case(*whens, default=Value(0), output_field=IntegerField())


@dataclass
class Rung:
    number: int
    label: str
    count: int | None  # whose highest step this is; None: suppressed
    share: Decimal | None
    at_or_above: int | None
    at_or_above_share: Decimal | None


@dataclass
class LadderRow:
    key: str
    label: str
    residents: int | None
    rungs: list[Rung]
    active: int | None  # on any step
    active_share: Decimal | None
    moved_up: int | None
    moved_up_share: Decimal | None


@dataclass
class Ladder:
    region: Region
    start: datetime.date
    end: datetime.date
    previous_start: datetime.date
    previous_end: datetime.date
    group: str
    total: LadderRow
    by_group: list[LadderRow] = field(default_factory=list)
    by_region: list[LadderRow] = field(default_factory=list)


@dataclass
class _Tally:
    steps: dict[int, int] = field(default_factory=dict)
    moved_up: int = 0

    def add(self, step: int, before: int, n: int) -> None:
        self.steps[step] = self.steps.get(step, 0) + n
        if step > before:
            self.moved_up += n


def _share(count: int | None, residents: int) -> Decimal | None:
    if count is None or not residents:
        return None
    return (Decimal(count) / residents).quantize(Decimal("0.001"))


def _row(key: str, label: str, tally: _Tally, *, breakdown: bool) -> LadderRow:
    residents = sum(tally.steps.values())
    rungs = []
    for number, step_label in STEPS:
        count = suppress(tally.steps.get(number, 0))
        at_or_above = suppress(sum(n for step, n in tally.steps.items() if step >= number))
        rungs.append(
            Rung(
                number,
                str(step_label),
                count,
                _share(count, residents),
                at_or_above,
                _share(at_or_above, residents),
            )
        )
    moved_up = suppress(tally.moved_up)
    return LadderRow(
        key=key,
        label=label,
        residents=suppress(residents) if breakdown else residents,
        rungs=rungs,
        active=rungs[0].at_or_above,
        active_share=rungs[0].at_or_above_share,
        moved_up=moved_up,
        moved_up_share=_share(moved_up, residents),
    )


def participation_ladder(
    region: Region,
    start: datetime.date,
    end: datetime.date,
    previous_start: datetime.date,
    previous_end: datetime.date,
    group: str = "",
    *,
    today: datetime.date | None = None,
) -> Ladder:
    """The ladder of the region's residents (of one group, if given) in [start, end) against
    [previous_start, previous_end), broken down by group and by the regions right below. Two queries: the
    regions below, and one aggregate. The caller has checked that the user oversees the region."""
    today = today or timezone.localdate()
    children = list(region_children(region))
    residents = Resident.objects.filter(region__path__startswith=region.path)
    if group:
        residents = residents.filter(group_q(group, today))
    flags = {
        f"in_{value}": Case(
            When(group_q(value, today), then=Value(True)), default=Value(False), output_field=BooleanField()
        )
        for value in BREAKDOWN_GROUPS
    }
    child = (
        Case(
            *[When(region__path__startswith=child.path, then=Value(child.pk)) for child in children],
            default=Value(None),
            output_field=IntegerField(),
        )
        if children
        else Value(None, output_field=IntegerField())
    )
    rows = (
        residents.annotate(
            step=highest_step(region, start, end),
            before=highest_step(region, previous_start, previous_end),
            child=child,
            **flags,
        )
        .values_list("step", "before", "child", *flags)
        .annotate(n=Count("pk"))
        .order_by()
    )
    total, by_group, by_child = _Tally(), {value: _Tally() for value in BREAKDOWN_GROUPS}, {}
    for step, before, child_id, *in_groups, n in rows:
        total.add(step, before, n)
        for value, member in zip(BREAKDOWN_GROUPS, in_groups, strict=True):
            if member:
                by_group[value].add(step, before, n)
        if child_id is not None:
            by_child.setdefault(child_id, _Tally()).add(step, before, n)
    labels = dict(Group.choices)
    return Ladder(
        region=region,
        start=start,
        end=end,
        previous_start=previous_start,
        previous_end=previous_end,
        group=group,
        total=_row(str(region.pk), region.name, total, breakdown=False),
        by_group=[_row(value, str(labels[value]), by_group[value], breakdown=True) for value in by_group],
        by_region=[
            _row(str(child.pk), child.name, by_child.get(child.pk, _Tally()), breakdown=True)
            for child in children
        ],
    )
