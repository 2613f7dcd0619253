"""Where a matter enters (the lowest tier with someone to handle it), its deadlines by category class, and
a community's own categories."""

import datetime
from zoneinfo import ZoneInfo

import pytest

from gongzhi.core.exceptions import ServiceError
from gongzhi.core.models import RoleAssignment
from gongzhi.matters import services
from gongzhi.matters.models import Category, DeadlineUnit, Event, Matter, Tier

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(year, month, day, hour=0, minute=0) -> datetime.datetime:
    return datetime.datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


# Routing ----------------------------------------------------------------------------------------------


def test_it_sends_repairs_from_a_building_to_its_compound_leader(people, report):
    matter = report("repairs")
    assert (matter.entry_tier, matter.tier, matter.handling_region) == (
        Tier.COMPOUND,
        Tier.COMPOUND,
        people.compound,
    )
    assert services.is_handler(people.compound_leader, matter)
    assert (matter.community, matter.street, matter.district) == (
        people.community,
        people.street,
        people.district,
    )


def test_a_compound_without_a_leader_sends_its_matters_up_to_the_community(people, report):
    RoleAssignment.objects.filter(user=people.compound_leader).delete()
    matter = report("repairs")
    assert (matter.entry_tier, matter.tier, matter.handling_region) == (
        Tier.COMMUNITY,
        Tier.COMMUNITY,
        people.community,
    )
    assert services.is_handler(people.community_worker, matter)
    assert not services.is_handler(people.compound_leader, matter)


def test_a_compound_whose_only_leader_is_inactive_counts_as_without_one(people, report):
    people.compound_leader.is_active = False
    people.compound_leader.save()
    assert report("repairs").tier == Tier.COMMUNITY


def test_a_matter_located_at_the_community_itself_enters_at_community(people, report):
    matter = report("repairs", region=people.community)
    assert (matter.tier, matter.handling_region) == (Tier.COMMUNITY, people.community)


def test_a_community_without_workers_sends_its_matters_to_the_street(people, report):
    matter = report("repairs", region=people.sibling_community)
    assert (matter.tier, matter.handling_region) == (Tier.STREET, people.street)


def test_parking_enters_at_community(people, report):
    matter = report("parking")
    assert (matter.tier, matter.handling_region) == (Tier.COMMUNITY, people.community)


def test_building_safety_enters_at_street(people, report):
    matter = report("building-safety")
    assert (matter.tier, matter.handling_region) == (Tier.STREET, people.street)
    assert services.is_handler(people.street_officer, matter)
    assert not services.is_handler(people.community_worker, matter)


def test_the_district_takes_what_reaches_it_even_without_officers(people):
    RoleAssignment.objects.filter(user=people.district_officer).delete()
    tier, region = services.matter_route(region=people.building, from_tier=Tier.DISTRICT)
    assert (tier, region) == (Tier.DISTRICT, people.district)


# Deadlines by class -----------------------------------------------------------------------------------


def test_an_emergency_runs_on_the_clock_even_on_a_holiday(report):
    matter = report("gas-leak", now=at(2026, 10, 1, 9))
    assert matter.submitted_at == at(2026, 10, 1, 9)
    assert (matter.response_due, matter.resolution_due) == (at(2026, 10, 1, 10), at(2026, 10, 1, 11))
    assert (matter.tier_response_due, matter.tier_due) == (matter.response_due, matter.resolution_due)


def test_a_utility_outage_is_answered_in_2_hours_and_fixed_in_24(report):
    matter = report("water-power", now=at(2026, 10, 3, 20, 30))
    assert (matter.response_due, matter.resolution_due) == (at(2026, 10, 3, 22, 30), at(2026, 10, 4, 20, 30))


def test_a_general_matter_gets_1_and_7_working_days_across_national_day(report):
    matter = report("repairs", now=at(2026, 9, 30, 10))
    assert matter.response_due == at(2026, 10, 8, 10)
    # Oct 8, 9, 10 (make-up Saturday), 12, 13, 14, 15.
    assert matter.resolution_due == at(2026, 10, 15, 10)


def test_a_complex_matter_gets_2_and_15_working_days_across_national_day(report):
    matter = report("building-safety", now=at(2026, 9, 30, 10))
    assert matter.response_due == at(2026, 10, 9, 10)
    assert matter.resolution_due == at(2026, 10, 27, 10)


def test_a_general_matter_reported_on_a_holiday_starts_counting_on_the_next_working_day(report):
    matter = report("noise", now=at(2026, 10, 4, 23, 50))
    assert matter.response_due == at(2026, 10, 9, 0)


def test_the_default_categories_carry_the_12345_deadlines(categories):
    deadlines = {
        code: (c.category_class, c.response_amount, c.response_unit, c.resolution_amount, c.resolution_unit)
        for code, c in categories.items()
    }
    hours, days = DeadlineUnit.HOURS, DeadlineUnit.WORKING_DAYS
    assert deadlines["gas-leak"] == ("emergency", 1, hours, 2, hours)
    assert deadlines["water-power"] == ("utility", 2, hours, 24, hours)
    assert deadlines["repairs"] == ("general", 1, days, 7, days)
    assert deadlines["building-safety"] == ("complex", 2, days, 15, days)


# A community's own categories -------------------------------------------------------------------------


def configure_repairs(people, *, user=None, community=None, **fields):
    settings = {
        "first_tier": Tier.COMMUNITY,
        "response_amount": 4,
        "response_unit": DeadlineUnit.HOURS,
        "resolution_amount": 3,
        "resolution_unit": DeadlineUnit.WORKING_DAYS,
    } | fields
    return services.category_configure(
        user=user or people.community_worker,
        community=community or people.community,
        code="repairs",
        **settings,
    )


def test_a_community_configures_its_own_category_which_replaces_the_default_there(people, categories):
    own = configure_repairs(people)
    assert (own.community, own.first_tier, own.category_class) == (
        people.community,
        Tier.COMMUNITY,
        "general",
    )
    in_use = list(services.categories_for(people.community).filter(code="repairs"))
    assert in_use == [own]
    matter = services.matter_report(
        entered_by=people.resident,
        category=own,
        description="单元门坏了",
        region=people.building,
        now=at(2026, 9, 30, 10),
    )
    assert (matter.tier, matter.handling_region) == (Tier.COMMUNITY, people.community)
    # 4 hours on the clock; 3 working days: Oct 8, 9 and the make-up Saturday Oct 10.
    assert (matter.response_due, matter.resolution_due) == (at(2026, 9, 30, 14), at(2026, 10, 10, 10))


def test_a_sibling_community_still_gets_the_default(people, categories):
    configure_repairs(people)
    assert list(services.categories_for(people.sibling_community).filter(code="repairs")) == [
        categories["repairs"]
    ]


def test_configuring_again_updates_the_same_row(people, categories):
    first = configure_repairs(people)
    second = configure_repairs(people, first_tier=Tier.STREET)
    assert first.pk == second.pk
    assert Category.objects.filter(community=people.community, code="repairs").count() == 1
    assert Category.objects.get(pk=first.pk).first_tier == Tier.STREET


def test_a_community_can_switch_a_default_category_off(people, categories):
    configure_repairs(people, is_active=False)
    assert not services.categories_for(people.community).filter(code="repairs").exists()
    assert services.categories_for(people.sibling_community).filter(code="repairs").exists()


def test_the_default_a_community_has_replaced_cannot_be_reported_there(people, categories):
    configure_repairs(people)
    with pytest.raises(ServiceError) as refused:
        services.matter_report(
            entered_by=people.resident,
            category=categories["repairs"],
            description="楼道灯坏了",
            region=people.building,
        )
    assert refused.value.field == "category"
    assert not Matter.objects.exists()


@pytest.mark.parametrize("who", ["compound_leader", "street_officer", "outsider", "resident"])
def test_configuring_without_the_permission_is_refused(people, categories, who):
    with pytest.raises(ServiceError):
        configure_repairs(people, user=getattr(people, who))
    assert not Category.objects.filter(community=people.community).exists()


def test_configuring_another_community_is_refused(people, categories):
    with pytest.raises(ServiceError):
        configure_repairs(people, community=people.other_community)
    assert not Category.objects.exclude(community=None).exists()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"first_tier": "building"}, "first_tier"),
        ({"response_unit": "weeks"}, "response_unit"),
        ({"resolution_amount": 0}, "resolution_amount"),
        ({"response_amount": 1000}, "response_amount"),
        # Responding in 10 working days but resolving in 3: the response must come first.
        ({"response_amount": 10, "response_unit": DeadlineUnit.WORKING_DAYS}, "response_amount"),
    ],
)
def test_bad_category_settings_are_refused(people, categories, fields, field):
    with pytest.raises(ServiceError) as refused:
        configure_repairs(people, **fields)
    assert refused.value.field == field
    assert not Category.objects.exclude(community=None).exists()


def test_an_unknown_code_is_refused(people, categories):
    with pytest.raises(ServiceError):
        services.category_configure(
            user=people.community_worker,
            community=people.community,
            code="no-such-thing",
            first_tier=Tier.COMMUNITY,
            response_amount=1,
            response_unit=DeadlineUnit.WORKING_DAYS,
            resolution_amount=2,
            resolution_unit=DeadlineUnit.WORKING_DAYS,
        )


def test_reporting_writes_one_submitted_event(people, report):
    matter = report("parking")
    assert list(Event.objects.filter(matter=matter).values_list("kind", "actor", "tier")) == [
        (Event.Kind.SUBMITTED, people.resident.pk, Tier.COMMUNITY)
    ]
