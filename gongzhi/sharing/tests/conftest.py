"""Sharing's fixtures: 蜀都银行 (the work unit in 清波社区) opens its canteen at lunch (40 seats) and its car
park at night (19:00-08:00, 20 spaces, plate needed); the community opens its meeting hall (exclusive, needs
approval, 30 minutes' buffer). Times are fixed: "now" is Monday 2026-11-30 09:00 in Asia/Shanghai."""

import datetime
import itertools

import pytest
from django.utils import translation

from gongzhi.sharing import rules, services
from gongzhi.sharing.models import Resource

NOW = rules.at(datetime.date(2026, 11, 30), datetime.time(9))
TUESDAY = datetime.date(2026, 12, 1)
EVERY_DAY = range(7)


def hours(opens: str, closes: str, days=EVERY_DAY) -> list[rules.Hours]:
    return [
        rules.Hours(day, datetime.time.fromisoformat(opens), datetime.time.fromisoformat(closes))
        for day in days
    ]


def at(day: datetime.date, time: str) -> datetime.datetime:
    return rules.at(day, datetime.time.fromisoformat(time))


@pytest.fixture
def english():
    """Messages in English, so assertions read the msgids whatever the default language."""
    with translation.override("en"):
        yield


@pytest.fixture
def now():
    return NOW


@pytest.fixture
def token():
    """A fresh request token for each booking a test makes."""
    numbers = itertools.count(1)
    return lambda: f"t{next(numbers)}"


def _resource(people, by, *, hours_list, **fields) -> Resource:
    resource = Resource(region=fields.pop("region", people.community), **fields)
    return services.resource_save(resource=resource, by=by, hours=hours_list)


@pytest.fixture
def canteen(people):
    return _resource(
        people,
        people.work_unit_staff,
        hours_list=hours("11:30", "13:00"),
        organisation=people.work_unit,
        kind="canteen",
        name="蜀都银行职工食堂",
        address="清波路8号",
        capacity=40,
        slot_minutes=30,
        min_minutes=30,
        max_minutes=90,
        price_kind="cash",
        price_amount="12",
    )


@pytest.fixture
def car_park(people):
    return _resource(
        people,
        people.work_unit_staff,
        hours_list=hours("19:00", "08:00"),
        organisation=people.work_unit,
        kind="parking",
        name="蜀都银行停车场",
        address="清波路8号地下",
        capacity=20,
        slot_minutes=60,
        min_minutes=60,
        max_minutes=13 * 60,
        needs_plate=True,
        hours_per_week=40,
    )


@pytest.fixture
def hall(people):
    return _resource(
        people,
        people.community_worker,
        hours_list=hours("08:00", "21:00"),
        kind="hall",
        name="清波议事厅",
        address="清波社区党群服务中心二楼",
        capacity=1,
        slot_minutes=30,
        min_minutes=60,
        max_minutes=240,
        buffer_minutes=30,
        needs_approval=True,
        bookings_at_once=2,
    )


@pytest.fixture
def book(people, token, now):
    """Books as the resident unless told otherwise: book(resource, "2026-12-01 11:30", "12:00")."""

    def make(resource, day, start, end, *, by=None, **fields):
        return services.booking_create(
            resource=resource,
            by=by or people.resident,
            starts_at=at(day, start),
            ends_at=at(day, end) if end > start else at(day + rules.DAY, end),
            request_token=token(),
            now=fields.pop("now", now),
            **fields,
        )

    return make
