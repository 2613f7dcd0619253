"""The dashboard's figures on a small data set computed by hand: every metric's numerator and denominator,
the rankings and the monthly trend, for March 2026 in 苏坡街道 (清波社区 and 东坡社区).

Each matter is reported through the service and then given exact times with an update, so that each one
exercises a rule: a late first response, a withdrawal before any response, a duplicate marked after a
response, an auto-confirmation, a reopening within and beyond 30 days, the month's edges in Asia/Shanghai.
"""

import datetime
from zoneinfo import ZoneInfo

import pytest

from gongzhi.matters.metrics import Period, Rate, dashboard_figures, matters_under, percentile, rank
from gongzhi.matters.models import Confirmation, Matter, Status, Tier

SHANGHAI = ZoneInfo("Asia/Shanghai")
MARCH = Period.month(2026, 3)


def at(month: int, day: int, hour: int = 10, minute: int = 0, year: int = 2026) -> datetime.datetime:
    return datetime.datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture
def matters(people, report):
    """The data set. Comments give what each matter adds to March's figures for the street."""

    def make(region=None, **fields) -> Matter:
        matter = report(region=region or people.building)
        Matter.objects.filter(pk=matter.pk).update(**fields)
        return matter

    made = {}
    # Responded in time, first resolved at its entry tier, confirmed resolved with 5, before its deadline.
    # Reopened 32 days after the first resolution: beyond the 30-day window.
    made["m1"] = make(
        status=Status.CLOSED, entry_tier=Tier.COMPOUND, resolved_tier=Tier.COMPOUND,
        submitted_at=at(3, 2), response_due=at(3, 3), first_response_at=at(3, 2, 11), response_seconds=3600,
        resolution_due=at(3, 10), first_resolved_at=at(3, 5), reopened_at=at(4, 6),
        closed_at=at(3, 8), confirmation=Confirmation.RESOLVED, rating=5,
    )  # fmt: skip
    # Responded late, escalated when overdue, first resolved after its deadline, reopened 8 days later (so
    # now unresolved: no resolution tier).
    made["m2"] = make(
        status=Status.IN_PROGRESS, entry_tier=Tier.COMPOUND, resolved_tier="", escalations_by_deadline=1,
        submitted_at=at(3, 3), response_due=at(3, 4), first_response_at=at(3, 5), response_seconds=37800,
        resolution_due=at(3, 11), first_resolved_at=at(3, 12), reopened_at=at(3, 20),
    )  # fmt: skip
    # No response yet; reported half an hour into March (still February in UTC).
    made["m3"] = make(
        status=Status.SUBMITTED, submitted_at=at(3, 1, 0, 30), response_due=at(3, 2), resolution_due=at(4, 20)
    )
    # Withdrawn before any response: received, never dispatched, not due.
    made["m4"] = make(
        status=Status.WITHDRAWN, submitted_at=at(3, 5), response_due=at(3, 6), resolution_due=at(3, 20)
    )
    # Marked duplicate after a response in time: dispatched and responded, but not due.
    made["m5"] = make(
        status=Status.DUPLICATE, duplicate_of=made["m1"],
        submitted_at=at(3, 6), response_due=at(3, 7), first_response_at=at(3, 6, 12), response_seconds=1800,
        resolution_due=at(3, 15),
    )  # fmt: skip
    # February's: responded in time, resolved in February, auto-confirmed on 2 March; due on 1 March.
    made["m6"] = make(
        status=Status.CLOSED, entry_tier=Tier.COMPOUND, resolved_tier=Tier.COMPOUND,
        submitted_at=at(2, 20), response_due=at(2, 21), first_response_at=at(2, 20, 11),
        response_seconds=3600,
        resolution_due=at(3, 1), first_resolved_at=at(2, 22), closed_at=at(3, 2),
        confirmation=Confirmation.AUTO,
    )  # fmt: skip
    # February's: responded late; closed in March as not resolved, rated 2.
    made["m7"] = make(
        status=Status.CLOSED, entry_tier=Tier.COMPOUND, resolved_tier=Tier.COMMUNITY,
        submitted_at=at(2, 25), response_due=at(2, 26), first_response_at=at(2, 27), response_seconds=99000,
        resolution_due=at(2, 28), first_resolved_at=at(2, 27, 15), reopened_at=at(3, 1),
        closed_at=at(3, 10), confirmation=Confirmation.NOT_RESOLVED, rating=2,
    )  # fmt: skip
    # Responded in time, escalated by hand to the street and resolved there in time; reopened 32 days
    # later and closed in April.
    made["m8"] = make(
        status=Status.CLOSED, entry_tier=Tier.COMPOUND, tier=Tier.STREET, resolved_tier=Tier.STREET,
        escalations_by_hand=1,
        submitted_at=at(3, 10), response_due=at(3, 11), first_response_at=at(3, 10, 12),
        response_seconds=9000,
        resolution_due=at(3, 25), first_resolved_at=at(3, 15), reopened_at=at(4, 16),
        closed_at=at(4, 20), confirmation=Confirmation.RESOLVED, rating=4,
    )  # fmt: skip
    # Reported at the community itself (in no compound); responded in time; due in April.
    made["m9"] = make(
        region=people.community, status=Status.ACCEPTED,
        submitted_at=at(3, 28), response_due=at(3, 29), first_response_at=at(3, 28, 11), response_seconds=600,
        resolution_due=at(4, 10),
    )  # fmt: skip
    # The last half hour of March; no response yet.
    made["m10"] = make(
        status=Status.SUBMITTED,
        submitted_at=at(3, 31, 23, 30),
        response_due=at(4, 1),
        resolution_due=at(4, 10),
    )
    # The first moment of April: not March's.
    made["m11"] = make(
        status=Status.SUBMITTED, submitted_at=at(4, 1, 0, 0), response_due=at(4, 2), resolution_due=at(4, 10)
    )
    # 东坡社区: responded in time, resolved at its entry tier in time, confirmed resolved with 4.
    made["m12"] = make(
        region=people.sibling_community, status=Status.CLOSED,
        entry_tier=Tier.COMMUNITY, resolved_tier=Tier.COMMUNITY,
        submitted_at=at(3, 12), response_due=at(3, 13), first_response_at=at(3, 12, 12),
        response_seconds=7200,
        resolution_due=at(3, 20), first_resolved_at=at(3, 13), closed_at=at(3, 14),
        confirmation=Confirmation.RESOLVED, rating=4,
    )  # fmt: skip
    # Another district's: never in 苏坡街道's figures.
    made["m13"] = make(
        region=people.other_building, status=Status.SUBMITTED,
        submitted_at=at(3, 12), response_due=at(3, 13), resolution_due=at(3, 20),
    )  # fmt: skip
    return made


def test_it_counts_every_metric_of_the_street_for_march(people, matters):
    metrics = dashboard_figures(region=people.street, period=MARCH).metrics
    assert metrics.received == 9
    assert metrics.dispatched == 8
    assert metrics.response == Rate(5, 8)
    assert metrics.resolution == Rate(2, 3)
    assert metrics.answer_coverage == Rate(3, 4)
    assert metrics.satisfaction == Rate(2, 3)
    assert metrics.mean_rating == pytest.approx(11 / 3)
    assert metrics.on_time == Rate(4, 5)
    assert metrics.lowest_tier == Rate(2, 3)
    assert metrics.tier_shares == {
        Tier.COMPOUND: Rate(1, 3),
        Tier.COMMUNITY: Rate(1, 3),
        Tier.STREET: Rate(1, 3),
        Tier.DISTRICT: Rate(0, 3),
    }
    assert metrics.escalated_by_hand == Rate(1, 8)
    assert metrics.escalated_by_deadline == Rate(1, 8)
    assert metrics.reopened == Rate(1, 4)
    # 600, 1800, 3600, 7200, 9000, 37800 seconds: the median between the middle two, p90 interpolated.
    assert metrics.response_hours_median == pytest.approx(1.5)
    assert metrics.response_hours_p90 == pytest.approx(6.5)


def test_it_gives_a_rate_no_value_when_nothing_was_counted(people, matters):
    metrics = dashboard_figures(region=people.street, period=Period.month(2025, 6)).metrics
    assert metrics.received == 0
    assert metrics.response == Rate(0, 0) and metrics.response.value is None
    assert metrics.mean_rating is None and metrics.response_hours_median is None


def test_a_rate_reads_as_a_fraction_and_a_percentage():
    assert Rate(2, 3).value == pytest.approx(2 / 3)
    assert Rate(2, 3).percent == 66.7
    assert Rate(0, 0).percent is None


def test_the_district_counts_what_its_street_counts(people, matters):
    street = dashboard_figures(region=people.street, period=MARCH).metrics
    district = dashboard_figures(region=people.district, period=MARCH).metrics
    assert district == street


def test_the_city_counts_every_district(people, matters):
    metrics = dashboard_figures(region=people.city, period=MARCH).metrics
    assert metrics.received == 10  # the street's nine and the other district's one


def test_a_community_counts_only_its_own_matters(people, matters):
    metrics = dashboard_figures(region=people.community, period=MARCH).metrics
    assert metrics.received == 8
    assert metrics.response == Rate(4, 7)
    assert metrics.resolution == Rate(1, 2)
    assert metrics.satisfaction == Rate(1, 2)
    assert metrics.on_time == Rate(3, 4)


def test_a_compound_counts_the_matters_reported_in_it(people, matters):
    figures = dashboard_figures(region=people.compound, period=MARCH)
    assert figures.metrics.received == 7  # all of 清波社区's but the one reported at the community itself
    assert figures.ranked_level is None and figures.rankings == []


def test_matters_under_a_region_follow_its_subtree(people, matters):
    assert set(matters_under(people.building)) == set(matters_under(people.compound))
    assert matters["m9"] in matters_under(people.community)
    assert matters["m9"] not in matters_under(people.compound)
    assert matters["m12"] in matters_under(people.street)
    assert matters["m12"] not in matters_under(people.community)
    assert matters["m13"] in matters_under(people.city)


def test_it_ranks_the_communities_of_a_street(people, matters):
    figures = dashboard_figures(region=people.street, period=MARCH, sort="response")
    assert figures.ranked_level == "community"
    assert [(ranking.rank, ranking.region) for ranking in figures.rankings] == [
        (1, people.sibling_community),
        (2, people.community),
    ]
    dongpo, qingbo = (ranking.metrics for ranking in figures.rankings)
    assert (dongpo.received, dongpo.response, dongpo.resolution, dongpo.satisfaction) == (
        1, Rate(1, 1), Rate(1, 1), Rate(1, 1)
    )  # fmt: skip
    assert (dongpo.on_time, dongpo.lowest_tier, dongpo.reopened) == (Rate(1, 1), Rate(1, 1), Rate(0, 1))
    assert dongpo.response_hours_median == pytest.approx(2.0) and dongpo.mean_rating == 4
    assert (qingbo.received, qingbo.dispatched, qingbo.response) == (8, 7, Rate(4, 7))
    assert (qingbo.resolution, qingbo.answer_coverage, qingbo.satisfaction) == (
        Rate(1, 2),
        Rate(2, 3),
        Rate(1, 2),
    )
    assert (qingbo.on_time, qingbo.lowest_tier, qingbo.reopened) == (Rate(3, 4), Rate(1, 2), Rate(1, 3))
    # 600, 1800, 3600, 9000, 37800 seconds.
    assert qingbo.response_hours_median == pytest.approx(1.0)
    assert qingbo.response_hours_p90 == pytest.approx(7.3)


def test_it_ranks_by_the_metric_chosen(people, matters):
    by_received = dashboard_figures(region=people.street, period=MARCH, sort="received").rankings
    assert [ranking.region for ranking in by_received] == [people.community, people.sibling_community]
    by_speed = dashboard_figures(region=people.street, period=MARCH, sort="response_time").rankings
    assert [ranking.region for ranking in by_speed] == [people.community, people.sibling_community]


def test_it_ranks_the_streets_of_a_district_and_the_districts_of_a_city(people, matters):
    district = dashboard_figures(region=people.district, period=MARCH)
    assert district.ranked_level == "street"
    assert [(r.region, r.metrics.received) for r in district.rankings] == [(people.street, 9)]
    city = dashboard_figures(region=people.city, period=MARCH, sort="received")
    assert [(r.region, r.metrics.received) for r in city.rankings] == [
        (people.district, 9),
        (people.other_district, 1),
    ]


def test_it_ranks_the_compounds_of_a_community(people, matters):
    figures = dashboard_figures(region=people.community, period=MARCH)
    assert figures.ranked_level == "compound"
    [compound] = figures.rankings
    assert compound.region == people.compound
    assert (compound.metrics.received, compound.metrics.response) == (7, Rate(3, 6))


def test_regions_without_figures_come_last_unranked(people, matters):
    figures = dashboard_figures(region=people.street, period=Period.month(2025, 6))
    assert [ranking.rank for ranking in figures.rankings] == [None, None]


def test_equal_figures_share_a_rank(people, matters):
    rankings = dashboard_figures(region=people.street, period=MARCH, sort="lowest_tier").rankings
    shared = rank(rankings + rankings[:1], "lowest_tier")
    assert [ranking.rank for ranking in shared] == [1, 1, 3]


def test_the_trend_covers_the_twelve_months_ending_with_the_period(people, matters):
    trend = dashboard_figures(region=people.street, period=MARCH).trend
    assert [month.month for month in trend] == [datetime.date(2025, m, 1) for m in range(4, 13)] + [
        datetime.date(2026, m, 1) for m in range(1, 4)
    ]
    february, march = trend[-2], trend[-1]
    assert (march.received, march.response, march.resolution, march.satisfaction) == (
        9, Rate(5, 8), Rate(2, 3), Rate(2, 3)
    )  # fmt: skip
    assert (february.received, february.response, february.resolution) == (2, Rate(1, 2), Rate(0, 0))
    assert all(month.received == 0 for month in trend[:-2])


def test_the_trend_of_a_year_is_its_twelve_months(people, matters):
    trend = dashboard_figures(region=people.street, period=Period.year(2026)).trend
    assert trend[0].month == datetime.date(2026, 1, 1) and trend[-1].month == datetime.date(2026, 12, 1)
    assert trend[3].received == 1  # 1 April, midnight in Shanghai


def test_a_longer_period_adds_up_its_months(people, matters):
    quarter = dashboard_figures(region=people.street, period=Period.quarter(2026, 1)).metrics
    assert quarter.received == 11  # February's two and March's nine
    assert quarter.response == Rate(6, 10)
    custom = dashboard_figures(
        region=people.street, period=Period.custom(datetime.date(2026, 3, 2), datetime.date(2026, 3, 31))
    ).metrics
    assert custom.received == 8  # March's nine less the one of 1 March; 31 March's last half hour counts


def test_periods_have_their_edges_and_labels():
    assert (MARCH.start_at, MARCH.end_at) == (at(3, 1, 0), at(4, 1, 0))
    assert MARCH.label == "2026-03"
    q4 = Period.quarter(2025, 4)
    assert (q4.start, q4.end, q4.label) == (datetime.date(2025, 10, 1), datetime.date(2026, 1, 1), "2025 Q4")
    custom = Period.custom(datetime.date(2026, 3, 2), datetime.date(2026, 3, 2))
    assert (custom.end, custom.label, custom.slug) == (
        datetime.date(2026, 3, 3),
        "2026-03-02 – 2026-03-02",
        "20260302-20260302",
    )


def test_percentiles_interpolate_like_postgresql():
    assert percentile([], 0.5) is None
    assert percentile([7], 0.9) == 7
    assert percentile([1, 2, 3, 4], 0.5) == 2.5
    assert percentile([0, 10], 0.9) == 9
