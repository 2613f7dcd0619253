"""The community profile (社区画像): who lives in a region and what it holds, as counts only.

The population pyramid, household sizes and the roster's groups are aggregated in the database, so a district
of a million residents costs the same handful of queries as a building. Any count under SMALL_COUNT is
suppressed (PIPL: an aggregate must not single anyone out); the sensitive tags (disability, low income...)
appear only so, never as a list of who."""

import datetime
from dataclasses import dataclass

from django.db.models import Case, Count, IntegerField, OuterRef, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from gongzhi.analysis.models import Asset, AssetKind
from gongzhi.analysis.selectors import suppress
from gongzhi.core.models import Household, Organisation, OrganisationKind, Region, Resident, ResidentTag
from gongzhi.sharing.models import ResourceKind
from gongzhi.sharing.selectors import resources_count_by_kind

BAND_YEARS = 5
OLDEST_BAND = 85  # 85+ is the last band, as in the census tables
LARGEST_HOUSEHOLD = 5  # households of five or more are counted together


@dataclass
class Band:
    label: str
    male: int | None  # None: suppressed
    female: int | None


@dataclass
class Tally:
    value: str
    label: str
    count: int | None
    sensitive: bool = False


@dataclass
class CommunityProfile:
    region: Region
    on: datetime.date
    population: int
    pyramid: list[Band]  # youngest first
    age_or_sex_unknown: int | None
    households: list[Tally]  # by size: 1, 2, 3, 4, 5+
    household_total: int
    elderly_living_alone: int | None
    groups: list[Tally]
    organisations: list[Tally]
    resources: list[Tally]
    facilities: int


def years_before(day: datetime.date, years: int) -> datetime.date:
    """The day `years` before; 28 February stands for a 29th in a year without one. Someone born on or before
    it is at least `years` old on `day`."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def band_labels() -> list[str]:
    lower = range(0, OLDEST_BAND, BAND_YEARS)
    return [f"{start}-{start + BAND_YEARS - 1}" for start in lower] + [f"{OLDEST_BAND}+"]


def age_band_case(today: datetime.date) -> Case:
    """The index of a resident's five-year age band on `today` (0 for 0-4 ... 17 for 85+), computed by the
    database from birth_date ranges; NULL when the birth date is unknown."""
    whens = [When(birth_date__isnull=True, then=Value(None))]
    for index, start in enumerate(range(BAND_YEARS, OLDEST_BAND + 1, BAND_YEARS)):
        whens.append(When(birth_date__gt=years_before(today, start), then=Value(index)))
    return Case(*whens, default=Value(OLDEST_BAND // BAND_YEARS), output_field=IntegerField())


def _pyramid(region: Region, today: datetime.date) -> tuple[list[Band], int, int]:
    counts: dict[tuple[int | None, str], int] = {
        (band, sex): n
        for band, sex, n in Resident.objects.filter(region__path__startswith=region.path)
        .annotate(band=age_band_case(today))
        .values_list("band", "sex")
        .annotate(n=Count("pk"))
        .order_by()
    }
    pyramid = [
        Band(
            label,
            suppress(counts.get((index, Resident.Sex.MALE), 0)),
            suppress(counts.get((index, Resident.Sex.FEMALE), 0)),
        )
        for index, label in enumerate(band_labels())
    ]
    unknown = sum(n for (band, sex), n in counts.items() if band is None or sex not in Resident.Sex.values)
    return pyramid, sum(counts.values()), unknown


def _households(region: Region) -> tuple[list[Tally], int]:
    size = Subquery(
        Resident.objects.filter(household=OuterRef("pk"))
        .order_by()
        .values("household")
        .annotate(n=Count("pk"))
        .values("n")
    )
    kinds = dict(
        Household.objects.filter(region__path__startswith=region.path)
        .annotate(size=Coalesce(size, 0))
        .annotate(
            kind=Case(
                When(size__gte=LARGEST_HOUSEHOLD, then=Value(LARGEST_HOUSEHOLD)),
                default="size",
                output_field=IntegerField(),
            )
        )
        .values_list("kind")
        .annotate(n=Count("pk"))
        .order_by()
    )
    labels = {1: _("One person"), 2: _("Two people"), 3: _("Three people"), 4: _("Four people")}
    labels[LARGEST_HOUSEHOLD] = _("Five or more")
    tallies = [
        Tally(str(size), str(label), suppress(kinds.get(size, 0))) for size, label in sorted(labels.items())
    ]
    # Households nobody is registered in any more (size 0) are not households of the profile.
    return tallies, sum(n for size, n in kinds.items() if size)


def _groups(region: Region) -> list[Tally]:
    counts = dict(
        ResidentTag.objects.filter(resident__region__path__startswith=region.path)
        .values_list("tag")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return [
        Tally(tag, str(label), suppress(counts.get(tag, 0)), tag in ResidentTag.SENSITIVE)
        for tag, label in ResidentTag.Tag.choices
    ]


def _by_kind(counts: dict[str, int], choices) -> list[Tally]:
    """Every kind present, most first. Organisations and resources are not people: nothing is suppressed."""
    names = dict(choices)
    tallies = [Tally(kind, str(names.get(kind, kind)), n) for kind, n in counts.items() if n]
    return sorted(tallies, key=lambda tally: (-tally.count, tally.label))


def community_profile(region: Region, *, today: datetime.date | None = None) -> CommunityProfile:
    """The profile of a region's subtree, in six queries whatever its size. The caller has checked that the
    user oversees the region."""
    today = today or timezone.localdate()
    pyramid, population, unknown = _pyramid(region, today)
    households, household_total = _households(region)
    groups = _groups(region)
    organisations = dict(
        Organisation.objects.filter(region__path__startswith=region.path)
        .values_list("kind")
        .annotate(n=Count("pk"))
        .order_by()
    )
    facilities = Asset.objects.filter(region__path__startswith=region.path, kind=AssetKind.SPACE).count()
    living_alone = next(tally for tally in groups if tally.value == ResidentTag.Tag.LIVING_ALONE)
    return CommunityProfile(
        region=region,
        on=today,
        population=population,
        pyramid=pyramid,
        age_or_sex_unknown=suppress(unknown),
        households=households,
        household_total=household_total,
        elderly_living_alone=living_alone.count,
        groups=groups,
        organisations=_by_kind(organisations, OrganisationKind.choices),
        resources=_by_kind(resources_count_by_kind(region), ResourceKind.choices),
        facilities=facilities,
    )
