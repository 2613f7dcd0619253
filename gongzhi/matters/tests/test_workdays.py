"""The working-day calendar (gongzhi/core/workdays.py) on China's official 2026 calendar.

2026 as the State Council's notice (chinese_calendar 1.11.0) has it around National Day: Mid-autumn Fri 25 –
Sun 27 September off, Sunday 20 September worked; National Day Thu 1 – Wed 7 October off, Saturday 10 October
worked. New Year: Thu 1 – Sat 3 January off, Sunday 4 January worked.
"""

import datetime
import logging
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest

from gongzhi.core import workdays
from gongzhi.core.workdays import add_working_days, add_working_time, is_working_day, working_time_between

SHANGHAI = ZoneInfo("Asia/Shanghai")
HOUR = datetime.timedelta(hours=1)


def at(year, month, day, hour=0, minute=0) -> datetime.datetime:
    return datetime.datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def fresh_calendar_cache():
    # is_working_day is memoised; a test that patches the calendar must not leak into the next one.
    is_working_day.cache_clear()
    yield
    is_working_day.cache_clear()


# The calendar itself ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (datetime.date(2026, 9, 30), True),  # Wednesday before the holiday
        (datetime.date(2026, 10, 1), False),  # National Day
        (datetime.date(2026, 10, 5), False),  # a Monday inside the holiday
        (datetime.date(2026, 10, 7), False),  # last day off
        (datetime.date(2026, 10, 8), True),
        (datetime.date(2026, 10, 10), True),  # make-up Saturday
        (datetime.date(2026, 10, 11), False),  # ordinary Sunday
        (datetime.date(2026, 9, 20), True),  # make-up Sunday
        (datetime.date(2026, 1, 4), True),  # make-up Sunday after New Year
        (datetime.date(2026, 3, 14), False),  # ordinary Saturday
    ],
)
def test_it_knows_holidays_and_make_up_workdays(day, working):
    assert is_working_day(day) is working


# Adding working time ----------------------------------------------------------------------------------


def test_it_lands_seven_working_days_after_the_eve_of_national_day_on_15_october():
    # Sep 30 (rest of day), then Oct 8, 9, 10 (make-up Saturday), 12, 13, 14, and 10:00 on Oct 15.
    assert add_working_days(at(2026, 9, 30, 10), 7) == at(2026, 10, 15, 10)


def test_it_counts_the_make_up_saturday_after_national_day():
    # One working day from Friday Oct 9 is Saturday Oct 10, a make-up workday, not Monday Oct 12.
    assert add_working_days(at(2026, 10, 9, 15), 1) == at(2026, 10, 10, 15)


def test_it_counts_a_make_up_sunday():
    # Saturday Sep 19 is off, Sunday Sep 20 is worked.
    assert add_working_days(at(2026, 9, 18, 10), 1) == at(2026, 9, 20, 10)


def test_it_counts_the_make_up_sunday_after_new_year():
    assert add_working_days(at(2025, 12, 31, 9, 30), 1) == at(2026, 1, 4, 9, 30)


def test_a_matter_reported_on_a_holiday_starts_counting_at_midnight_of_the_next_working_day():
    assert add_working_days(at(2026, 10, 3, 15), 1) == at(2026, 10, 9, 0)
    assert add_working_days(at(2026, 10, 3, 15), 2) == at(2026, 10, 10, 0)


def test_a_matter_reported_on_a_weekend_starts_counting_on_monday():
    assert add_working_time(at(2026, 3, 14, 11), 2 * HOUR) == at(2026, 3, 16, 2)


def test_it_adds_hours_of_working_time_across_a_weekend():
    # Friday 22:00 + 5 hours of working time: 2 hours on Friday, 3 on Monday.
    assert add_working_time(at(2026, 3, 13, 22), 5 * HOUR) == at(2026, 3, 16, 3)


def test_working_time_within_one_working_day_is_plain_clock_time():
    assert add_working_time(at(2026, 3, 16, 9), 3 * HOUR) == at(2026, 3, 16, 12)


def test_it_returns_aware_times_in_shanghai_for_a_utc_start():
    start = datetime.datetime(2026, 9, 30, 2, tzinfo=datetime.UTC)  # 10:00 in Shanghai
    due = add_working_days(start, 7)
    assert due == at(2026, 10, 15, 10)
    assert due.utcoffset() == datetime.timedelta(hours=8)


# Measuring working time -------------------------------------------------------------------------------


def test_it_measures_working_time_across_a_weekend():
    # Friday 18:00 → Monday 09:00: 6 hours on Friday and 9 on Monday.
    assert working_time_between(at(2026, 3, 13, 18), at(2026, 3, 16, 9)) == 15 * HOUR


def test_it_measures_working_time_across_the_national_day_holiday():
    # Sep 30 20:00 → Oct 8 08:00: 4 hours on Sep 30 and 8 on Oct 8; the seven days off count nothing.
    assert working_time_between(at(2026, 9, 30, 20), at(2026, 10, 8, 8)) == 12 * HOUR


def test_it_measures_working_time_over_the_make_up_saturday():
    # Oct 9 12:00 → Oct 12 12:00: 12 h Friday, 24 h make-up Saturday, Sunday off, 12 h Monday.
    assert working_time_between(at(2026, 10, 9, 12), at(2026, 10, 12, 12)) == 48 * HOUR


def test_working_time_within_a_holiday_is_zero():
    assert working_time_between(at(2026, 10, 2, 9), at(2026, 10, 6, 18)) == datetime.timedelta()


def test_working_time_backwards_is_zero():
    assert working_time_between(at(2026, 3, 16, 9), at(2026, 3, 13, 9)) == datetime.timedelta()


def test_measuring_undoes_adding():
    start = at(2026, 9, 29, 16, 45)
    amount = datetime.timedelta(days=6, hours=5, minutes=10)
    assert working_time_between(start, add_working_time(start, amount)) == amount


# A year the package does not know yet -----------------------------------------------------------------


def test_a_year_the_package_does_not_cover_falls_back_to_monday_to_friday(monkeypatch, caplog):
    def not_covered(day):
        raise NotImplementedError(f"no available data for year {day.year}")

    monkeypatch.setattr(chinese_calendar, "is_workday", not_covered)
    with caplog.at_level(logging.WARNING, logger=workdays.logger.name):
        # National Day is then an ordinary Thursday; the make-up Saturday an ordinary Saturday.
        assert is_working_day(datetime.date(2026, 10, 1)) is True
        assert is_working_day(datetime.date(2026, 10, 10)) is False
        assert add_working_days(at(2026, 9, 30, 10), 7) == at(2026, 10, 9, 10)
    assert "does not cover 2026" in caplog.text


def test_the_real_package_has_no_data_for_2031_and_deadlines_still_come_out():
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(datetime.date(2031, 1, 1))
    # Friday 2031-01-03 10:00 + 1 working day: Monday 10:00.
    assert add_working_days(at(2031, 1, 3, 10), 1) == at(2031, 1, 6, 10)
