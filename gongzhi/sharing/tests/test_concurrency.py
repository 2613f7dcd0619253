"""Bookings under real parallel transactions on PostgreSQL: each thread has its own connection and its own
transaction, released together by a barrier. The resource's row lock lets exactly the bookings that fit
through; the exclusion constraint `booking_no_overlap` refuses an overlapping exclusive booking even when a
row is written past the services; the passbook's row lock keeps a balance from going below zero.

PostgreSQL allows 100 connections by default, shared with this test's own and anyone else's, so the largest
race runs 50 connections at once; the 100 requests for 30 places go through 50 connections, two each."""

import datetime
import itertools
import threading

import pytest
from django.db import IntegrityError, connection, connections, transaction
from django.utils import translation

from conftest import make_user
from gongzhi.core.exceptions import ServiceError
from gongzhi.core.models import Resident
from gongzhi.core.services import resident_create
from gongzhi.sharing import rules, services
from gongzhi.sharing.models import ACTIVE, Booking, Resource, Status
from gongzhi.sharing.tests.conftest import NOW, TUESDAY, at, hours
from gongzhi.volunteering import services as points
from gongzhi.volunteering.models import PointsAccount
from gongzhi.volunteering.selectors import ledger_drift

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="parallel transactions and the exclusion constraint are tested on PostgreSQL",
)

TIMEOUT = 60
CONNECTIONS = 50
WEDNESDAY = TUESDAY + rules.DAY


def race(count: int, work, *, connections_used: int | None = None) -> list[object]:
    """Runs work(index) for index in range(count), each in its own transaction, from `connections_used`
    threads (default: one per request) released at once; returns each one's result or exception. A thread
    with several requests makes them one after another, while the other threads make theirs."""
    threads_count = min(count, connections_used or count)
    barrier = threading.Barrier(threads_count, timeout=TIMEOUT)
    outcomes: list[object] = [None] * count

    def one(index: int, *, first: bool) -> None:
        try:
            with transaction.atomic():
                if first:
                    # Touch the database first, so that every transaction has begun before any locks a row.
                    Resource.objects.exists()
                    barrier.wait()
                outcomes[index] = work(index)
        except Exception as error:
            outcomes[index] = error
            if first:
                barrier.abort()

    def run(thread: int) -> None:
        try:
            with translation.override("en"):
                for k, index in enumerate(range(thread, count, threads_count)):
                    one(index, first=k == 0)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(thread,)) for thread in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    assert not any(thread.is_alive() for thread in threads)
    return outcomes


def booked(outcomes) -> list[Booking]:
    return [outcome for outcome in outcomes if isinstance(outcome, Booking)]


def refusals(outcomes) -> list[str]:
    return [outcome.message for outcome in outcomes if isinstance(outcome, ServiceError)]


def unexpected(outcomes) -> list[object]:
    return [outcome for outcome in outcomes if not isinstance(outcome, Booking | ServiceError)]


def active(resource: Resource):
    return Booking.objects.filter(resource=resource, status__in=ACTIVE)


def overlapping_pairs(resource: Resource) -> list[tuple[int, int]]:
    """Pairs of active bookings of the resource whose held intervals (buffer included) overlap."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT a.id, b.id FROM sharing_booking a JOIN sharing_booking b
                 ON a.resource_id = b.resource_id AND a.id < b.id
                AND tstzrange(a.starts_at, a.blocked_until, '[)')
                    && tstzrange(b.starts_at, b.blocked_until, '[)')
              WHERE a.resource_id = %s AND a.status = ANY(%s) AND b.status = ANY(%s)""",
            [resource.pk, list(ACTIVE), list(ACTIVE)],
        )
        return cursor.fetchall()


def peak(resource: Resource, start: datetime.datetime, end: datetime.datetime) -> int:
    return rules.peak_occupancy(
        (start, end), active(resource).values_list("starts_at", "blocked_until", "party_size")
    )


@pytest.fixture
def residents(people):
    """Registers `count` residents of 清波社区 with accounts; returns their users."""
    numbers = itertools.count(1)

    def make(count: int) -> list:
        users = []
        for _ in range(count):
            number = next(numbers)
            user = make_user(f"1350000{number:04d}", f"居民{number}")
            record = resident_create(created_by=people.admin, region=people.building, name=f"居民{number}")
            Resident.objects.filter(pk=record.pk).update(user=user)
            users.append(user)
        return users

    return make


@pytest.fixture
def make_resource(people):
    """A resource of the community, open 08:00-21:00 every day, booked in half hours."""
    names = itertools.count(1)

    def make(**fields) -> Resource:
        resource = Resource(
            region=people.community,
            kind=fields.pop("kind", "activity_room"),
            name=fields.pop("name", f"活动室{next(names)}"),
            address="清波社区党群服务中心",
            slot_minutes=30,
            min_minutes=fields.pop("min_minutes", 60),
            max_minutes=240,
            **fields,
        )
        return services.resource_save(
            resource=resource, by=people.community_worker, hours=hours("08:00", "21:00")
        )

    return make


def book(resource, by, start: str, end: str, *, day=TUESDAY, token: str = "t", **fields) -> Booking:
    return services.booking_create(
        resource=resource,
        by=by,
        starts_at=at(day, start),
        ends_at=at(day, end),
        request_token=token,
        now=NOW,
        **fields,
    )


# The services under contention ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_it_books_an_exclusive_slot_once_when_fifty_residents_request_it_at_once(residents, make_resource):
    room = make_resource(capacity=1)
    users = residents(50)

    outcomes = race(50, lambda index: book(room, users[index], "10:00", "11:00"))

    assert unexpected(outcomes) == []
    assert len(booked(outcomes)) == 1
    assert refusals(outcomes) == ["This time is already booked."] * 49
    (winner,) = booked(outcomes)
    assert list(active(room).values_list("pk", "status")) == [(winner.pk, Status.CONFIRMED)]


@pytest.mark.django_db(transaction=True)
def test_it_gives_thirty_places_to_thirty_of_a_hundred_residents_requesting_at_once(residents, make_resource):
    gym = make_resource(kind="gym", capacity=30)
    users = residents(100)

    outcomes = race(
        100, lambda index: book(gym, users[index], "18:00", "19:00"), connections_used=CONNECTIONS
    )

    assert unexpected(outcomes) == []
    assert len(booked(outcomes)) == 30
    assert refusals(outcomes) == ["Fully booked at this time."] * 70
    assert active(gym).count() == 30
    assert peak(gym, at(TUESDAY, "00:00"), at(WEDNESDAY, "00:00")) == 30
    assert len(set(active(gym).values_list("resident", flat=True))) == 30


@pytest.mark.django_db(transaction=True)
def test_it_books_one_of_many_different_intervals_that_all_overlap(people, residents, hall):
    # Every interval, with the hall's 30-minute buffer, holds 10:30-11:00.
    intervals = [
        (start, end)
        for start in ("09:00", "09:30", "10:00", "10:30")
        for end in ("11:00", "11:30", "12:00")
        if at(TUESDAY, end) - at(TUESDAY, start) >= datetime.timedelta(minutes=hall.min_minutes)
    ]
    users = residents(2 * len(intervals))

    def request(index: int):
        start, end = intervals[index % len(intervals)]
        return book(hall, users[index], start, end)

    outcomes = race(len(users), request)

    assert unexpected(outcomes) == []
    assert len(booked(outcomes)) == 1
    assert set(refusals(outcomes)) == {"This time is already booked."}
    assert active(hall).count() == 1
    assert active(hall).get().status == Status.PENDING


@pytest.mark.django_db(transaction=True)
def test_it_refuses_a_chain_of_overlapping_requests_only_where_they_collide(residents, make_resource):
    # Hour-long requests starting every half hour: each overlaps its neighbours, and which ones win depends
    # on who locks first. Whatever the order, no two winners overlap and every refusal had a reason.
    room = make_resource(capacity=1, buffer_minutes=0)
    starts = [at(TUESDAY, "08:00") + k * datetime.timedelta(minutes=30) for k in range(24)]
    users = residents(2 * len(starts))

    def request(index: int):
        start = starts[index % len(starts)]
        return services.booking_create(
            resource=room,
            by=users[index],
            starts_at=start,
            ends_at=start + datetime.timedelta(hours=1),
            request_token="t",
            now=NOW,
        )

    outcomes = race(len(users), request)

    assert unexpected(outcomes) == []
    winners = [(booking.starts_at, booking.ends_at) for booking in booked(outcomes)]
    assert overlapping_pairs(room) == []
    for index, outcome in enumerate(outcomes):
        if isinstance(outcome, ServiceError):
            start = starts[index % len(starts)]
            assert any(rules.overlaps((start, start + datetime.timedelta(hours=1)), w) for w in winners)
    assert active(room).count() == len(winners)


@pytest.mark.django_db(transaction=True)
def test_it_lets_one_of_two_requests_through_that_together_exceed_the_weekly_hours(people, make_resource):
    gym = make_resource(kind="gym", capacity=30, hours_per_week=3)
    days = [TUESDAY, WEDNESDAY]

    outcomes = race(
        2, lambda index: book(gym, people.resident, "10:00", "12:00", day=days[index], token=f"t{index}")
    )

    assert unexpected(outcomes) == []
    assert len(booked(outcomes)) == 1
    assert refusals(outcomes) == ["This goes over the 3 hours a person may book in a week."]
    assert active(gym).filter(resident=people.resident_record).count() == 1


@pytest.mark.django_db(transaction=True)
def test_it_lets_through_as_many_requests_as_a_person_may_hold_at_once(people, make_resource):
    gym = make_resource(kind="gym", capacity=30, bookings_at_once=2)
    starts = [f"{hour:02d}:00" for hour in range(8, 18)]

    def request(index: int):
        start = starts[index]
        return book(gym, people.resident, start, f"{int(start[:2]) + 1:02d}:00", token=f"t{index}")

    outcomes = race(len(starts), request)

    assert unexpected(outcomes) == []
    assert len(booked(outcomes)) == 2
    assert refusals(outcomes) == ["You may hold 2 bookings of this resource at once."] * 8
    assert active(gym).count() == 2


@pytest.mark.django_db(transaction=True)
def test_it_books_once_from_a_passbook_that_affords_one_booking(people, make_resource):
    # Five rooms, so the rooms' locks do not queue the requests: the passbook's lock alone decides.
    rooms = [make_resource(capacity=1, price_kind="points", price_amount=10) for _ in range(5)]
    points.budget_fund(community=people.community, amount=10, by=people.admin, idempotency_key="fund")
    points.points_award(
        community=people.community,
        resident=people.resident_record,
        amount=10,
        reason="Kept the reading room",
        awarded_by=people.community_worker,
        idempotency_key="award",
    )

    outcomes = race(5, lambda index: book(rooms[index], people.resident, "10:00", "11:00", token=f"t{index}"))

    assert unexpected(outcomes) == []
    assert len(booked(outcomes)) == 1
    assert refusals(outcomes) == ["Not enough points."] * 4
    assert Booking.objects.filter(status__in=ACTIVE).count() == 1
    passbook = points.points_account_for(resident=people.resident_record)
    assert passbook.balance == 0
    assert not PointsAccount.objects.filter(balance__lt=0).exclude(kind="issued").exists()
    assert not ledger_drift()


# The database on its own ---------------------------------------------------------------------------------
# A refused write runs in a savepoint (transaction.atomic), so the test's own transaction goes on after it.


def row(booking: Booking, start: datetime.datetime, end: datetime.datetime, *, key: str, **fields) -> Booking:
    """A copy of `booking` at another time, to be written past the services."""
    return Booking(
        resource=booking.resource,
        booked_by=booking.booked_by,
        resident=booking.resident,
        starts_at=start,
        ends_at=end,
        blocked_until=end + datetime.timedelta(minutes=booking.resource.buffer_minutes),
        release_at=start + datetime.timedelta(minutes=15),
        exclusive=booking.exclusive,
        status=fields.pop("status", Status.CONFIRMED),
        request_key=key,
        **fields,
    )


def constraint_of(error: IntegrityError) -> str | None:
    return getattr(getattr(error.__cause__, "diag", None), "constraint_name", None)


def test_the_database_refuses_an_overlapping_booking_written_past_the_services(people, make_resource):
    room = make_resource(capacity=1)
    first = book(room, people.resident, "10:00", "12:00")

    with pytest.raises(IntegrityError) as refused, transaction.atomic():
        Booking.objects.bulk_create([row(first, at(TUESDAY, "11:00"), at(TUESDAY, "13:00"), key="x")])
    assert constraint_of(refused.value) == "booking_no_overlap"
    assert active(room).count() == 1


def test_the_database_refuses_an_overlapping_booking_inserted_by_raw_sql(people, make_resource):
    room = make_resource(capacity=1)
    first = book(room, people.resident, "10:00", "12:00")

    with pytest.raises(IntegrityError) as refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO sharing_booking (resource_id, booked_by_id, resident_id, starts_at, ends_at,
                   blocked_until, release_at, exclusive, party_size, plate, note, status, price_kind,
                   price_due, request_key, created_at, reason)
               SELECT resource_id, booked_by_id, resident_id, starts_at + interval '90 minutes',
                   ends_at + interval '90 minutes', blocked_until + interval '90 minutes', release_at,
                   exclusive, party_size, plate, note, 'confirmed', price_kind, price_due, 'raw', now(), ''
                 FROM sharing_booking WHERE id = %s""",
            [first.pk],
        )
    assert constraint_of(refused.value) == "booking_no_overlap"
    assert active(room).count() == 1


def test_the_database_refuses_a_booking_inside_the_buffer_and_accepts_one_after_it(people, hall):
    first = book(hall, people.resident, "14:00", "16:00")  # holds 14:00-16:30

    with pytest.raises(IntegrityError) as refused, transaction.atomic():
        Booking.objects.bulk_create([row(first, at(TUESDAY, "16:15"), at(TUESDAY, "17:00"), key="x")])
    assert constraint_of(refused.value) == "booking_no_overlap"
    Booking.objects.bulk_create([row(first, at(TUESDAY, "16:30"), at(TUESDAY, "17:30"), key="y")])
    assert active(hall).count() == 2


def test_the_database_accepts_back_to_back_bookings_without_a_buffer(people, make_resource):
    room = make_resource(capacity=1, buffer_minutes=0)
    first = book(room, people.resident, "10:00", "11:00")

    Booking.objects.bulk_create([row(first, at(TUESDAY, "11:00"), at(TUESDAY, "12:00"), key="after")])
    Booking.objects.bulk_create([row(first, at(TUESDAY, "09:00"), at(TUESDAY, "10:00"), key="before")])
    assert active(room).count() == 3
    assert overlapping_pairs(room) == []


def test_the_database_lets_a_cancelled_booking_overlap_but_not_come_back(people, make_resource):
    room = make_resource(capacity=1)
    first = book(room, people.resident, "10:00", "12:00")
    cancelled = Booking.objects.bulk_create(
        [row(first, at(TUESDAY, "11:00"), at(TUESDAY, "13:00"), key="x", status=Status.CANCELLED)]
    )[0]

    with pytest.raises(IntegrityError) as refused, transaction.atomic():
        Booking.objects.filter(pk=cancelled.pk).update(status=Status.CONFIRMED)
    assert constraint_of(refused.value) == "booking_no_overlap"
    assert list(active(room)) == [first]


@pytest.mark.django_db(transaction=True)
def test_the_database_refuses_one_of_two_overlapping_rows_written_at_once_past_the_lock(
    people, make_resource
):
    # Neither transaction sees the other's row; the constraint makes the second wait for the first's commit.
    room = make_resource(capacity=1)
    first = book(room, people.resident, "08:00", "09:00")
    intervals = [("10:00", "12:00"), ("11:00", "13:00")]

    def insert(index: int):
        start, end = intervals[index]
        return Booking.objects.bulk_create(
            [row(first, at(TUESDAY, start), at(TUESDAY, end), key=f"raw{index}")]
        )[0]

    outcomes = race(2, insert)

    assert len(booked(outcomes)) == 1
    (error,) = [outcome for outcome in outcomes if isinstance(outcome, IntegrityError)]
    assert constraint_of(error) == "booking_no_overlap"
    assert active(room).count() == 2
    assert overlapping_pairs(room) == []
