"""The time rules of a booking, as pure functions of plain values so each can be tested by hand.

Every interval is half-open, [start, end): a booking ending at 12:00 and one starting at 12:00 do not touch.
Wall-clock times are read in the site's zone (Asia/Shanghai, which keeps no daylight saving time), so a day
always has 24 hours and "19:00 to 08:00" is always 13 of them.
"""

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext as _

from gongzhi.core.exceptions import ServiceError

Interval = tuple[datetime.datetime, datetime.datetime]
DAY = datetime.timedelta(days=1)


@dataclass(frozen=True)
class Hours:
    weekday: int  # 0 = Monday
    opens: datetime.time
    closes: datetime.time


@dataclass(frozen=True)
class Limits:
    slot_minutes: int
    min_minutes: int
    max_minutes: int
    book_ahead_days: int
    buffer_minutes: int = 0


def at(day: datetime.date, time: datetime.time) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, time))


def local_day(moment: datetime.datetime) -> datetime.date:
    return timezone.localtime(moment).date()


def open_periods(hours: Iterable[Hours], first_day: datetime.date, last_day: datetime.date) -> list[Interval]:
    """The resource's open intervals that touch the days first_day..last_day, merged where one period runs
    into the next (Monday 19:00-24:00 and Tuesday 00:00-08:00 are one night). A period starting the evening
    before first_day is included, since it may run into it."""
    periods = []
    day = first_day - DAY
    while day <= last_day:
        for period in hours:
            if period.weekday != day.weekday():
                continue
            start = at(day, period.opens)
            end = at(day + DAY if period.closes <= period.opens else day, period.closes)
            periods.append((start, end))
        day += DAY
    return merge(periods)


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    merged: list[list[datetime.datetime]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(start, end) for start, end in merged]


def blackout_periods(blackouts: Iterable[tuple[datetime.date, datetime.date]]) -> list[Interval]:
    return merge((at(first, datetime.time()), at(last + DAY, datetime.time())) for first, last in blackouts)


def overlaps(a: Interval, b: Interval) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def check_times(
    *,
    start: datetime.datetime,
    end: datetime.datetime,
    limits: Limits,
    hours: Iterable[Hours],
    blackouts: Iterable[tuple[datetime.date, datetime.date]],
    now: datetime.datetime,
) -> None:
    """Refuses, with the reason a person can act on, a booking outside what the resource allows. The order
    is the order a person fixes things in: the time itself, its length, then the calendar."""
    if end <= start:
        raise ServiceError(_("The end must be after the start."), field="ends_at")
    if start < now:
        raise ServiceError(_("This time has already passed."), field="starts_at")
    if start > now + datetime.timedelta(days=limits.book_ahead_days):
        raise ServiceError(
            _("Bookings open %(days)s days ahead; this is too far ahead.") % {"days": limits.book_ahead_days},
            field="starts_at",
        )
    slot = datetime.timedelta(minutes=limits.slot_minutes)
    for moment, field in ((start, "starts_at"), (end, "ends_at")):
        since_midnight = moment - at(local_day(moment), datetime.time())
        if since_midnight % slot:
            raise ServiceError(
                _("Times go in steps of %(minutes)s minutes.") % {"minutes": limits.slot_minutes}, field=field
            )
    minutes = (end - start) // datetime.timedelta(minutes=1)
    if minutes < limits.min_minutes:
        raise ServiceError(
            _("The shortest booking is %(minutes)s minutes.") % {"minutes": limits.min_minutes},
            field="ends_at",
        )
    if minutes > limits.max_minutes:
        raise ServiceError(
            _("The longest booking is %(minutes)s minutes.") % {"minutes": limits.max_minutes},
            field="ends_at",
        )
    for closed in blackout_periods(blackouts):
        if overlaps((start, end), closed):
            raise ServiceError(
                _("The resource is closed on %(day)s.")
                % {"day": max(local_day(start), local_day(closed[0]))},
                field="starts_at",
            )
    periods = open_periods(hours, local_day(start), local_day(end))
    if not any(open_start <= start and end <= open_end for open_start, open_end in periods):
        raise ServiceError(_("This is outside the opening hours."), field="starts_at")


def peak_occupancy(window: Interval, held: Iterable[tuple[datetime.datetime, datetime.datetime, int]]) -> int:
    """The most places held at any one moment of `window` by bookings (start, end, places)."""
    changes: list[tuple[datetime.datetime, int]] = []
    for start, end, places in held:
        if overlaps(window, (start, end)):
            changes.append((max(start, window[0]), places))
            changes.append((min(end, window[1]), -places))
    # At the same moment, a booking ending frees its places before one starting takes them (half-open).
    changes.sort(key=lambda change: (change[0], change[1]))
    peak = current = 0
    for _moment, delta in changes:
        current += delta
        peak = max(peak, current)
    return peak


def week_start(day: datetime.date) -> datetime.date:
    return day - datetime.timedelta(days=day.weekday())


def hours_in_week(bookings: Iterable[Interval], day: datetime.date) -> datetime.timedelta:
    """The time the bookings take within the Monday-to-Sunday week holding `day` (quota counting)."""
    monday = week_start(day)
    week = (at(monday, datetime.time()), at(monday + 7 * DAY, datetime.time()))
    total = datetime.timedelta()
    for start, end in bookings:
        if overlaps(week, (start, end)):
            total += min(end, week[1]) - max(start, week[0])
    return total


def slots(period: Interval, slot_minutes: int) -> list[Interval]:
    """The grid of slots in an open period, aligned to the slot size from midnight."""
    step = datetime.timedelta(minutes=slot_minutes)
    start, end = period
    offset = (start - at(local_day(start), datetime.time())) % step
    if offset:
        start += step - offset
    grid = []
    while start + step <= end:
        grid.append((start, start + step))
        start += step
    return grid
