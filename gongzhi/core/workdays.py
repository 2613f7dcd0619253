"""Working time on China's official calendar: weekends and public holidays do not count, make-up workdays
(调休) do. The calendar comes from the maintained `chinese_calendar` package, which the State Council's
yearly notice updates.

Working time is whole working days in Asia/Shanghai: a deadline of N working days falls at the same clock
time on the Nth working day after the start, and a matter reported on a holiday starts counting at midnight
of the next working day. A year the package does not know yet counts Monday to Friday, so deadlines still
come out instead of failing (and a newer package release corrects them).
"""

import datetime
import functools
import logging

import chinese_calendar
from django.utils import timezone

logger = logging.getLogger(__name__)
DAY = datetime.timedelta(days=1)


@functools.lru_cache(maxsize=4096)
def is_working_day(day: datetime.date) -> bool:
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        logger.warning("chinese_calendar does not cover %s; counting Monday to Friday", day.year)
        return day.weekday() < 5


def _midnight(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=timezone.get_default_timezone())


def add_working_days(start: datetime.datetime, days: int) -> datetime.datetime:
    """The moment `days` whole working days after `start`."""
    return add_working_time(start, datetime.timedelta(days=days))


def add_working_time(start: datetime.datetime, amount: datetime.timedelta) -> datetime.datetime:
    """The moment when `amount` of working time has passed after `start`."""
    moment = timezone.localtime(start)
    remaining = amount
    while True:
        day = moment.date()
        next_midnight = _midnight(day + DAY)
        if is_working_day(day):
            left_today = next_midnight - moment
            if remaining <= left_today:
                return moment + remaining
            remaining -= left_today
        moment = next_midnight


def working_time_between(start: datetime.datetime, end: datetime.datetime) -> datetime.timedelta:
    """The working time that passes from `start` to `end` (zero if `end` is not later)."""
    moment = timezone.localtime(start)
    end = timezone.localtime(end)
    total = datetime.timedelta()
    while moment < end:
        next_midnight = _midnight(moment.date() + DAY)
        if is_working_day(moment.date()):
            total += min(next_midnight, end) - moment
        moment = next_midnight
    return total


def years_before(moment: datetime.date | datetime.datetime, years: int):
    """The same calendar day `years` earlier (a date or a datetime); 29 February falls back to the 28th."""
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:
        return moment.replace(year=moment.year - years, day=28)
