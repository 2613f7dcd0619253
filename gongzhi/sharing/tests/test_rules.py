"""The time rules, with every figure worked out by hand."""

import datetime

import pytest

from gongzhi.core.exceptions import ServiceError
from gongzhi.sharing import rules
from gongzhi.sharing.tests.conftest import NOW, TUESDAY, at, hours

MONDAY = datetime.date(2026, 11, 30)
LIMITS = rules.Limits(slot_minutes=30, min_minutes=30, max_minutes=240, book_ahead_days=14)
NIGHT = hours("19:00", "08:00")
LUNCH = hours("11:30", "13:00")
pytestmark = pytest.mark.usefixtures("english")


def check(start, end, *, opening=LUNCH, blackouts=(), limits=LIMITS, now=NOW):
    rules.check_times(start=start, end=end, limits=limits, hours=opening, blackouts=blackouts, now=now)


def refusal(*args, **kwargs) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        check(*args, **kwargs)
    return caught.value


def test_it_merges_a_night_that_runs_into_the_next_day():
    periods = rules.open_periods(NIGHT, TUESDAY, TUESDAY)
    # Monday's night runs into Tuesday morning, Tuesday's into Wednesday.
    assert periods == [
        (at(MONDAY, "19:00"), at(TUESDAY, "08:00")),
        (at(TUESDAY, "19:00"), at(TUESDAY + rules.DAY, "08:00")),
    ]


def test_it_joins_periods_that_touch_at_midnight():
    opening = [
        rules.Hours(0, datetime.time(19), datetime.time(0)),
        rules.Hours(1, datetime.time(0), datetime.time(8)),
    ]
    assert rules.open_periods(opening, TUESDAY, TUESDAY) == [(at(MONDAY, "19:00"), at(TUESDAY, "08:00"))]


def test_midnight_to_midnight_is_the_whole_day():
    opening = [rules.Hours(1, datetime.time(0), datetime.time(0))]
    assert rules.open_periods(opening, TUESDAY, TUESDAY) == [
        (at(TUESDAY, "00:00"), at(TUESDAY + rules.DAY, "00:00"))
    ]


def test_it_accepts_a_night_booking_across_midnight():
    check(
        at(TUESDAY, "19:00"),
        at(TUESDAY + rules.DAY, "07:00"),
        opening=NIGHT,
        limits=rules.Limits(60, 60, 780, 14),
    )


def test_it_refuses_a_night_booking_running_past_the_morning():
    error = refusal(
        at(TUESDAY, "19:00"),
        at(TUESDAY + rules.DAY, "09:00"),
        opening=NIGHT,
        limits=rules.Limits(60, 60, 900, 14),
    )
    assert "opening hours" in str(error.message)


def test_it_refuses_a_time_outside_the_opening_hours():
    assert refusal(at(TUESDAY, "13:00"), at(TUESDAY, "13:30")).field == "starts_at"


def test_it_accepts_the_last_slot_before_closing():
    check(at(TUESDAY, "12:30"), at(TUESDAY, "13:00"))


def test_it_refuses_a_past_slot():
    assert "passed" in str(refusal(at(MONDAY, "08:30"), at(MONDAY, "09:00")).message)


def test_it_accepts_a_slot_starting_now():
    check(NOW, NOW + datetime.timedelta(minutes=30), opening=hours("09:00", "10:00"))


def test_it_refuses_a_booking_too_far_ahead():
    far = MONDAY + 15 * rules.DAY
    assert "too far ahead" in str(refusal(at(far, "11:30"), at(far, "12:00")).message)


def test_it_accepts_a_booking_at_the_horizon():
    horizon = MONDAY + 14 * rules.DAY
    check(at(horizon, "09:00"), at(horizon, "09:30"), opening=hours("09:00", "10:00"))


def test_it_refuses_times_off_the_slot_grid():
    assert refusal(at(TUESDAY, "11:45"), at(TUESDAY, "12:15")).field == "starts_at"


def test_it_refuses_too_short_and_too_long():
    limits = rules.Limits(slot_minutes=30, min_minutes=60, max_minutes=60, book_ahead_days=14)
    assert "shortest" in str(refusal(at(TUESDAY, "11:30"), at(TUESDAY, "12:00"), limits=limits).message)
    assert "longest" in str(refusal(at(TUESDAY, "11:30"), at(TUESDAY, "13:00"), limits=limits).message)


def test_it_refuses_an_end_before_the_start():
    assert refusal(at(TUESDAY, "12:00"), at(TUESDAY, "11:30")).field == "ends_at"


def test_it_refuses_a_blackout_day():
    error = refusal(at(TUESDAY, "11:30"), at(TUESDAY, "12:00"), blackouts=[(TUESDAY, TUESDAY)])
    assert "closed on 2026-12-01" in str(error.message)


def test_a_blackout_the_next_day_closes_the_night_running_into_it():
    wednesday = TUESDAY + rules.DAY
    error = refusal(
        at(TUESDAY, "19:00"),
        at(wednesday, "07:00"),
        opening=NIGHT,
        limits=rules.Limits(60, 60, 780, 14),
        blackouts=[(wednesday, wednesday)],
    )
    assert "closed on 2026-12-02" in str(error.message)


def test_a_blackout_the_day_before_leaves_the_day_open():
    check(at(TUESDAY, "11:30"), at(TUESDAY, "12:00"), blackouts=[(MONDAY, MONDAY)])


def test_half_open_intervals_do_not_touch_back_to_back():
    assert not rules.overlaps(
        (at(TUESDAY, "10:00"), at(TUESDAY, "11:00")), (at(TUESDAY, "11:00"), at(TUESDAY, "12:00"))
    )
    assert rules.overlaps(
        (at(TUESDAY, "10:00"), at(TUESDAY, "11:01")), (at(TUESDAY, "11:00"), at(TUESDAY, "12:00"))
    )


def test_peak_occupancy_counts_only_what_is_held_at_one_moment():
    held = [
        (at(TUESDAY, "11:30"), at(TUESDAY, "12:00"), 10),
        (at(TUESDAY, "12:00"), at(TUESDAY, "12:30"), 15),  # starts as the first ends
        (at(TUESDAY, "11:45"), at(TUESDAY, "12:15"), 5),
    ]
    window = (at(TUESDAY, "11:30"), at(TUESDAY, "13:00"))
    # 11:45-12:00 holds 10+5 = 15; 12:00-12:15 holds 15+5 = 20; never 30.
    assert rules.peak_occupancy(window, held) == 20
    assert rules.peak_occupancy((at(TUESDAY, "12:15"), at(TUESDAY, "13:00")), held) == 15
    assert rules.peak_occupancy((at(TUESDAY, "13:00"), at(TUESDAY, "14:00")), held) == 0


def test_hours_in_week_split_a_night_across_sunday_midnight():
    sunday = MONDAY + 6 * rules.DAY
    night = (at(sunday, "20:00"), at(sunday + rules.DAY, "08:00"))
    # Four hours fall on Sunday (this week), eight on the next Monday.
    assert rules.hours_in_week([night], MONDAY) == datetime.timedelta(hours=4)
    assert rules.hours_in_week([night], sunday + rules.DAY) == datetime.timedelta(hours=8)


def test_slots_align_to_the_grid_from_midnight():
    grid = rules.slots((at(TUESDAY, "11:15"), at(TUESDAY, "12:40")), 30)
    assert grid == [
        (at(TUESDAY, "11:30"), at(TUESDAY, "12:00")),
        (at(TUESDAY, "12:00"), at(TUESDAY, "12:30")),
    ]


def test_shanghai_days_have_24_hours_whatever_other_zones_do():
    # Europe and the US change their clocks on these nights; Asia/Shanghai keeps none, so a night is 13 hours.
    for day in (datetime.date(2026, 3, 8), datetime.date(2026, 3, 29), datetime.date(2026, 10, 25)):
        (start, end), *_ = [p for p in rules.open_periods(NIGHT, day, day) if p[0].date() == day]
        assert end - start == datetime.timedelta(hours=13)
        assert start.utcoffset() == datetime.timedelta(hours=8)
