"""The community profile: the population pyramid and household types counted by hand on a small roster,
small counts suppressed, who may see which region's profile, and a query count that does not grow."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from gongzhi.analysis.models import Asset, AssetKind
from gongzhi.analysis.profile import band_labels, community_profile, years_before
from gongzhi.core.models import Household, Organisation, Resident, ResidentTag
from gongzhi.core.services import region_create
from gongzhi.sharing.models import Resource
from gongzhi.sharing.selectors import resources_count_by_kind

TODAY = datetime.date(2025, 6, 15)
MALE, FEMALE = Resident.Sex.MALE, Resident.Sex.FEMALE


@pytest.fixture(autouse=True)
def english(settings):
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def roster(people):
    """A new community of 苏坡街道 with 24 residents:

    - 5 men born 1995 (30-34), 3 men without a birth date, 2 people born 1995 without a sex;
    - 6 girls born 2023-01-01 and one born 2020-06-16 (still 4 on 2025-06-15): 7 in 0-4;
    - 5 girls born 2020-06-15, five years old that very day: 5 in 5-9;
    - 2 men born 1935 (85+).

    Households: five of one person, one of two, two of five or more (5 and 6), and one nobody lives in."""
    community = region_create(parent=people.street, name="画像社区", level="community")
    building = region_create(parent=community, name="画像1栋", level="building")

    def born(day, sex, count):
        return [(day, sex)] * count

    people_list = (
        born(datetime.date(1995, 1, 1), MALE, 5)
        + born(None, MALE, 3)
        + born(datetime.date(1995, 1, 1), "", 2)
        + born(datetime.date(2023, 1, 1), FEMALE, 6)
        + born(datetime.date(2020, 6, 16), FEMALE, 1)
        + born(datetime.date(2020, 6, 15), FEMALE, 5)
        + born(datetime.date(1935, 1, 1), MALE, 2)
    )
    residents = Resident.objects.bulk_create(
        Resident(community=community, region=building, name=f"居民{number}", birth_date=day, sex=sex)
        for number, (day, sex) in enumerate(people_list)
    )
    sizes = [1, 1, 1, 1, 1, 2, 5, 6, 0]
    members = iter(residents)
    for number, size in enumerate(sizes):
        household = Household.objects.create(community=community, region=building, number=f"{number + 1}01")
        for _member in range(size):
            resident = next(members)
            resident.household = household
            resident.save(update_fields=["household"])
    ResidentTag.objects.bulk_create(
        [ResidentTag(resident=resident, tag="elderly") for resident in residents[:5]]
        + [ResidentTag(resident=resident, tag="disability") for resident in residents[5:7]]
    )
    Organisation.objects.create(name="画像志愿者协会", kind="social_organisation", region=community)
    Organisation.objects.create(name="画像舞蹈队", kind="social_organisation", region=building)
    Organisation.objects.create(name="画像物业", kind="property_company", region=community)
    for name, kind in [("画像食堂", "canteen"), ("画像议事厅", "hall"), ("画像活动室", "hall")]:
        Resource.objects.create(
            community=community,
            region=building,
            kind=kind,
            name=name,
            address="画像路1号",
            created_by=people.admin,
        )
    Resource.objects.create(
        community=community,
        region=building,
        kind="gym",
        name="停用的健身房",
        address="画像路1号",
        created_by=people.admin,
        is_active=False,
    )
    for name, kind in [
        ("画像广场", AssetKind.SPACE),
        ("画像花园", AssetKind.SPACE),
        ("老街故事", AssetKind.CULTURE),
    ]:
        Asset.objects.create(
            community=community, region=building, kind=kind, name=name, created_by=people.admin
        )
    return community


def test_it_counts_the_pyramid_by_hand(roster):
    profile = community_profile(roster, today=TODAY)
    bands = {band.label: (band.male, band.female) for band in profile.pyramid}
    assert list(bands) == band_labels() and len(bands) == 18
    assert bands["0-4"] == (0, 7)
    assert bands["5-9"] == (0, 5)
    assert bands["30-34"] == (5, 0)
    assert bands["85+"] == (None, 0)  # two men: suppressed
    assert all(bands[label] == (0, 0) for label in bands if label not in {"0-4", "5-9", "30-34", "85+"})
    assert profile.population == 24
    assert profile.age_or_sex_unknown == 5  # 3 without a birth date, 2 without a sex


def test_it_counts_household_types_by_hand(roster):
    profile = community_profile(roster, today=TODAY)
    assert [(tally.value, tally.count) for tally in profile.households] == [
        ("1", 5),
        ("2", None),  # one household of two: suppressed
        ("3", 0),
        ("4", 0),
        ("5", None),  # two of five or more
    ]
    assert profile.household_total == 8  # the empty household is none of them


def test_it_suppresses_groups_under_five_and_marks_the_sensitive(roster):
    profile = community_profile(roster, today=TODAY)
    groups = {tally.value: tally for tally in profile.groups}
    assert groups["elderly"].count == 5 and not groups["elderly"].sensitive
    assert groups["disability"].count is None and groups["disability"].sensitive
    assert groups["low_income"].count == 0 and groups["low_income"].sensitive
    assert profile.elderly_living_alone == 0


def test_it_counts_organisations_resources_and_facilities(roster):
    profile = community_profile(roster, today=TODAY)
    assert [(tally.value, tally.count) for tally in profile.organisations] == [
        ("social_organisation", 2),
        ("property_company", 1),
    ]
    assert [(tally.value, tally.count) for tally in profile.resources] == [("hall", 2), ("canteen", 1)]
    assert profile.facilities == 2


def test_resources_count_by_kind_counts_listed_resources_within_the_region(roster, people):
    assert resources_count_by_kind(roster) == {"hall": 2, "canteen": 1}
    assert resources_count_by_kind(people.other_community) == {}


def test_it_computes_the_profile_in_six_queries(roster, django_assert_num_queries):
    with django_assert_num_queries(6):
        community_profile(roster, today=TODAY)


def test_years_before_stands_28_february_for_29th():
    assert years_before(datetime.date(2024, 2, 29), 5) == datetime.date(2019, 2, 28)
    assert years_before(datetime.date(2024, 2, 29), 4) == datetime.date(2020, 2, 29)


# The page ------------------------------------------------------------------------------------------------


def test_street_officer_sees_a_community_profile(people, login, roster):
    page = login(people.street_officer).get(reverse("analysis:profile"), {"region": roster.pk})
    assert page.status_code == 200
    text = page.content.decode()
    assert 'id="pyramid-data"' in text and "<script>" not in text.replace('type="application/json"', "")
    assert page.context["profile"].population == 24
    assert len(page.context["chart"]["female"]) == 18


def test_the_page_drills_down_from_the_street(people, login, roster):
    page = login(people.street_officer).get(reverse("analysis:profile"))
    assert page.context["region"] == people.street
    assert roster in page.context["children"]
    assert f'href="?region={roster.pk}"' in page.content.decode()


@pytest.mark.parametrize("persona", ["community_worker", "outsider"])
def test_another_streets_or_communitys_region_is_404(people, login, roster, persona):
    client = login(getattr(people, persona))
    assert client.get(reverse("analysis:profile"), {"region": roster.pk}).status_code == 404
    assert client.get(reverse("analysis:profile"), {"region": "not-a-number"}).status_code == 404


def test_a_resident_gets_404(people, login):
    client = login(people.resident)
    assert client.get(reverse("analysis:profile")).status_code == 404
    assert client.get(reverse("analysis:profile"), {"region": people.community.pk}).status_code == 404


def test_the_page_costs_the_same_queries_whatever_the_roster(
    people, login, roster, django_assert_max_num_queries
):
    client = login(people.street_officer)
    url = reverse("analysis:profile")
    with CaptureQueriesContext(connection) as small:
        client.get(url, {"region": people.street.pk})
    building = roster.children.get()
    Resident.objects.bulk_create(
        Resident(community=roster, region=building, name=f"新居民{number}", sex=MALE) for number in range(50)
    )
    Organisation.objects.create(name="新协会", kind="foundation", region=building)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert client.get(url, {"region": people.street.pk}).status_code == 200
    assert len(small.captured_queries) <= 14
