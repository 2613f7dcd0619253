"""The sharing API at /api/v1/sharing/: resources and their week, booking once and weekly, cancelling,
approving and checking in; scope (404 outside, a clear refusal inside), refusals that book nothing, an
API token, a repeated request that books once, and lists whose cost does not grow with their length.

"Now" is the sharing fixtures' Monday 2026-11-30 09:00 in Asia/Shanghai: the canteen seats 40 at lunch
(11:30-13:00), the car park takes 20 cars at night (19:00-08:00), the community's hall is booked whole,
with approval and 30 minutes' buffer."""

import datetime

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from conftest import make_user
from gongzhi.core.models import Resident
from gongzhi.sharing import services
from gongzhi.sharing.models import Booking, Resource, Series
from gongzhi.sharing.tests import conftest as sharing_fixtures
from gongzhi.sharing.tests.conftest import NOW, TUESDAY, at

# The sharing app's own fixtures (gongzhi/sharing/tests/conftest.py), shared rather than copied.
canteen = sharing_fixtures.canteen
car_park = sharing_fixtures.car_park
hall = sharing_fixtures.hall
book = sharing_fixtures.book
token = sharing_fixtures.token
now = sharing_fixtures.now

API = "/api/v1/sharing"
EN = {"Accept-Language": "en"}
MONDAY = NOW.date()
NEXT_MONDAY = MONDAY + datetime.timedelta(days=7)


def get(client, url, **params):
    return client.get(f"{API}{url}", params, headers=EN)


def post(client, url, payload=None):
    return client.post(f"{API}{url}", payload or {}, content_type="application/json", headers=EN)


def signed_in(user) -> Client:
    """A client of its own, so that a test can have several people acting side by side."""
    client = Client()
    client.force_login(user)
    return client


def ids(page) -> list[int]:
    return [item["id"] for item in page["items"]]


def by_id(page, pk) -> dict:
    return next(item for item in page["items"] if item["id"] == pk)


def local(day: datetime.date, time: str) -> str:
    """How the API writes a time: China Standard Time with its offset."""
    return at(day, time).isoformat()


def seats(resource, day, start, end, request_token="r1", **fields) -> dict:
    """A booking payload with naive wall-clock times, as a phone's calendar sends them."""
    return {
        "resource_id": resource.pk,
        "starts_at": f"{day}T{start}:00",
        "ends_at": f"{day}T{end}:00",
        "request_token": request_token,
        **fields,
    }


@pytest.fixture(autouse=True)
def english_messages():
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    """The services' clock, running from the fixtures' NOW; `clock.set(moment)` moves it. The API cannot take
    `now`, and check-in windows and cancelling deadlines need time to pass."""
    real_now = timezone.now

    class Clock:
        def set(self, moment: datetime.datetime):
            self.offset = moment - real_now()

    clock = Clock()
    clock.set(NOW)
    monkeypatch.setattr(timezone, "now", lambda: real_now() + clock.offset)
    return clock


@pytest.fixture
def neighbour(people):
    """An account for 李奶奶, a resident of 清波社区 (2栋)."""
    user = make_user("13912345678", "李奶奶")
    Resident.objects.filter(pk=people.neighbour_record.pk).update(user=user)
    return user


@pytest.fixture
def other_resident(people):
    """An account for 王吉福, a resident of 吉福社区 in the other district."""
    user = make_user("13700001111", "王吉福")
    Resident.objects.filter(pk=people.other_resident_record.pk).update(user=user)
    return user


# -------------------------------------------------------------------------------------------------- resources


def test_it_answers_401_without_a_caller(client, db):
    assert client.get(f"{API}/resources").status_code == 401
    assert client.get(f"{API}/bookings").status_code == 401


def test_a_resident_lists_the_resources_open_to_them(people, canteen, car_park, hall):
    page = get(signed_in(people.resident), "/resources").json()
    assert set(ids(page)) == {canteen.pk, car_park.pk, hall.pk}
    listed = by_id(page, canteen.pk)
    assert (listed["name"], listed["kind"], listed["kind_label"]) == (
        "蜀都银行职工食堂",
        "canteen",
        "Canteen",
    )
    assert listed["organisation"]["name"] == "蜀都银行"
    assert listed["community"] == {"id": people.community.pk, "name": "清波社区", "level": "community"}
    assert (listed["capacity"], listed["needs_approval"], listed["needs_plate"]) == (40, False, False)
    assert listed["price_label"] == "¥12 per booking, paid on site"
    assert (listed["may_book"], listed["may_manage"]) == (True, False)
    assert by_id(page, hall.pk)["organisation"] is None
    assert get(signed_in(people.resident), "/resources", bookable=True).json()["count"] == 3

    parking = get(signed_in(people.resident), "/resources", kind="parking").json()
    assert ids(parking) == [car_park.pk]
    assert parking["items"][0]["needs_plate"] is True
    assert get(signed_in(people.resident), "/resources", kind="spaceship").status_code == 422


def test_owners_see_what_they_run_and_overseers_what_is_in_their_region(people, canteen, car_park, hall):
    unit = get(signed_in(people.work_unit_staff), "/resources", managed=True).json()
    assert set(ids(unit)) == {canteen.pk, car_park.pk}
    assert all(item["may_manage"] and not item["may_book"] for item in unit["items"])

    worker = signed_in(people.community_worker)
    assert ids(get(worker, "/resources", managed=True).json()) == [hall.pk]
    assert get(worker, "/resources", bookable=True).json()["count"] == 0  # not a resident

    overseen = get(signed_in(people.street_officer), "/resources").json()
    assert overseen["count"] == 3
    assert not any(item["may_manage"] or item["may_book"] for item in overseen["items"])


def test_the_detail_shows_hours_closed_days_ahead_price_and_audience(people, canteen):
    services.blackout_add(
        resource=canteen, by=people.work_unit_staff, first_day=TUESDAY, last_day=TUESDAY, reason="单位活动"
    )
    services.blackout_add(
        resource=canteen,
        by=people.work_unit_staff,
        first_day=datetime.date(2026, 11, 20),
        last_day=datetime.date(2026, 11, 21),
    )
    detail = get(signed_in(people.resident), f"/resources/{canteen.pk}").json()
    assert detail["address"] == "清波路8号"
    assert len(detail["opening_hours"]) == 7
    assert detail["opening_hours"][0] == {
        "weekday": 0,
        "weekday_label": "Monday",
        "opens": "11:30:00",
        "closes": "13:00:00",
        "past_midnight": False,
    }
    assert detail["blackouts"] == [
        {"first_day": "2026-12-01", "last_day": "2026-12-01", "reason": "单位活动"}
    ]
    assert (detail["price_kind"], detail["price_per"], detail["price_amount"]) == ("cash", "booking", "12.00")
    assert detail["audience"] == {"regions": [], "organisations": [], "summary": "Residents of 清波社区"}
    assert (detail["slot_minutes"], detail["min_minutes"], detail["max_minutes"]) == (30, 30, 90)
    assert (detail["may_book"], detail["may_manage"], detail["checkin_code"]) == (True, False, None)

    owner = get(signed_in(people.work_unit_staff), f"/resources/{canteen.pk}").json()
    assert owner["may_manage"] is True
    assert owner["checkin_code"] == canteen.checkin_token


def test_the_detail_names_the_audience_and_a_night_that_runs_past_midnight(people, car_park):
    services.resource_save(
        resource=car_park,
        by=people.work_unit_staff,
        audience_regions=[people.compound],
        audience_organisations=[people.agency],
    )
    detail = get(signed_in(people.resident), f"/resources/{car_park.pk}").json()
    assert detail["opening_hours"][0]["past_midnight"] is True
    assert [region["name"] for region in detail["audience"]["regions"]] == ["清波院落"]
    assert [organisation["name"] for organisation in detail["audience"]["organisations"]] == ["青羊社工中心"]
    assert detail["audience"]["summary"] == "Residents of 清波院落; Staff of 青羊社工中心"


def test_a_resource_not_open_to_you_is_404(people, canteen, other_resident):
    for stranger in (other_resident, people.outsider):
        client = signed_in(stranger)
        assert get(client, "/resources").json()["count"] == 0
        assert get(client, f"/resources/{canteen.pk}").json() == {"detail": "Not found."}
        assert get(client, f"/resources/{canteen.pk}/availability").status_code == 404
        assert post(client, "/bookings", seats(canteen, TUESDAY, "11:30", "12:00")).status_code == 404
    assert get(signed_in(people.resident), "/resources/999999").status_code == 404
    assert not Booking.objects.exists()


# ----------------------------------------------------------------------------------------------- availability


def test_the_week_shows_each_slot_with_the_places_left(people, canteen, book):
    book(canteen, TUESDAY, "11:30", "12:00", party_size=3)
    services.blackout_add(
        resource=canteen,
        by=people.work_unit_staff,
        first_day=datetime.date(2026, 12, 3),
        last_day=datetime.date(2026, 12, 3),
        reason="单位活动",
    )
    week = get(signed_in(people.resident), f"/resources/{canteen.pk}/availability", week="2026-12-02").json()
    assert (week["resource_id"], week["week"]) == (canteen.pk, "2026-11-30")
    assert [day["day"] for day in week["days"]] == [
        str(MONDAY + datetime.timedelta(days=n)) for n in range(7)
    ]
    tuesday = week["days"][1]
    assert tuesday["closed_reason"] is None
    assert tuesday["slots"] == [
        {
            "starts_at": "2026-12-01T11:30:00+08:00",
            "ends_at": "2026-12-01T12:00:00+08:00",
            "places_left": 37,
            "bookable": True,
        },
        {
            "starts_at": "2026-12-01T12:00:00+08:00",
            "ends_at": "2026-12-01T12:30:00+08:00",
            "places_left": 40,
            "bookable": True,
        },
        {
            "starts_at": "2026-12-01T12:30:00+08:00",
            "ends_at": "2026-12-01T13:00:00+08:00",
            "places_left": 40,
            "bookable": True,
        },
    ]
    assert week["days"][3] == {"day": "2026-12-03", "closed_reason": "单位活动", "slots": []}


def test_past_slots_and_those_beyond_the_booking_horizon_are_not_bookable(people, canteen, clock):
    clock.set(at(MONDAY, "12:10"))
    client = signed_in(people.resident)
    monday = get(client, f"/resources/{canteen.pk}/availability").json()["days"][0]
    assert [slot["bookable"] for slot in monday["slots"]] == [False, False, True]
    far = get(client, f"/resources/{canteen.pk}/availability", week="2026-12-23").json()
    assert far["week"] == "2026-12-21"
    assert not any(slot["bookable"] for day in far["days"] for slot in day["slots"])


def test_a_bad_week_is_refused(people, canteen):
    client = signed_in(people.resident)
    for week in ("2026-02-30", "next week", "30/11/2026"):
        assert get(client, f"/resources/{canteen.pk}/availability", week=week).status_code == 422, week


# -------------------------------------------------------------------------------------------------- booking


def test_a_resident_books_seats_at_lunch(people, canteen):
    response = post(
        signed_in(people.resident), "/bookings", seats(canteen, TUESDAY, "11:30", "12:00", party_size=3)
    )
    assert response.status_code == 201, response.json()
    booked = response.json()
    assert booked["resource"] == {
        "id": canteen.pk,
        "name": "蜀都银行职工食堂",
        "kind": "canteen",
        "address": "清波路8号",
    }
    assert (booked["status"], booked["status_label"]) == ("confirmed", "Confirmed")
    assert (booked["starts_at"], booked["ends_at"]) == (local(TUESDAY, "11:30"), local(TUESDAY, "12:00"))
    assert (booked["party_size"], booked["price_due"], booked["price_label"]) == (
        3,
        "36.00",
        "¥36, paid on site",
    )
    assert (booked["booked_for"], booked["organisation"], booked["series_id"]) == ("张*民", None, None)
    assert booked["checkin_opens_at"] == local(TUESDAY, "11:15")
    assert booked["checkin_closes_at"] == local(TUESDAY, "11:45")
    booking = Booking.objects.get(pk=booked["id"])
    assert (booking.starts_at, booking.booked_by, booking.resident) == (
        at(TUESDAY, "11:30"),
        people.resident,
        people.resident_record,
    )


def test_naive_times_are_china_standard_time_and_offsets_are_honoured(people, canteen):
    client = signed_in(people.resident)
    naive = post(client, "/bookings", seats(canteen, TUESDAY, "11:30", "12:00", "naive")).json()
    in_utc = post(
        client,
        "/bookings",
        {
            "resource_id": canteen.pk,
            "starts_at": "2026-12-01T03:30:00Z",
            "ends_at": "2026-12-01T04:00:00+00:00",
            "request_token": "utc",
        },
    ).json()
    assert naive["starts_at"] == in_utc["starts_at"] == "2026-12-01T11:30:00+08:00"
    assert naive["id"] != in_utc["id"]


def test_a_repeated_request_books_once_and_answers_with_the_first_booking(people, canteen):
    client = signed_in(people.resident)
    first = post(client, "/bookings", seats(canteen, TUESDAY, "11:30", "12:00", "same", party_size=2))
    again = post(client, "/bookings", seats(canteen, TUESDAY, "11:30", "12:00", "same", party_size=2))
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert Booking.objects.count() == 1


@pytest.mark.parametrize(
    ("day", "start", "end", "fields", "error"),
    [
        (
            MONDAY - datetime.timedelta(days=1),
            "11:30",
            "12:00",
            {},
            ("This time has already passed.", "starts_at"),
        ),
        (TUESDAY, "14:00", "14:30", {}, ("This is outside the opening hours.", "starts_at")),
        (TUESDAY, "12:00", "11:30", {}, ("The end must be after the start.", "ends_at")),
        (TUESDAY, "11:30", "13:30", {}, ("The longest booking is 90 minutes.", "ends_at")),
        (TUESDAY, "11:40", "12:10", {}, ("Times go in steps of 30 minutes.", "starts_at")),
        (
            datetime.date(2026, 12, 20),
            "11:30",
            "12:00",
            {},
            ("Bookings open 14 days ahead; this is too far ahead.", "starts_at"),
        ),
        (TUESDAY, "11:30", "12:00", {"party_size": 41}, ("The resource has 40 places.", "party_size")),
        (TUESDAY, "11:30", "12:00", {"party_size": 0}, ("Book at least one place.", "party_size")),
    ],
)
def test_a_seat_booking_outside_the_rules_is_refused_and_books_nothing(
    people, canteen, day, start, end, fields, error
):
    response = post(signed_in(people.resident), "/bookings", seats(canteen, day, start, end, **fields))
    assert response.status_code == 400
    assert response.json() == {"detail": error[0], "field": error[1]}
    assert not Booking.objects.exists()


def test_the_last_seats_and_a_closed_day_are_refused(people, canteen, book, neighbour):
    book(canteen, TUESDAY, "11:30", "12:00", party_size=38)
    client = signed_in(neighbour)
    over = post(client, "/bookings", seats(canteen, TUESDAY, "11:30", "12:00", party_size=3))
    assert over.json() == {"detail": "Only 2 places are left at this time.", "field": "party_size"}
    services.blackout_add(
        resource=canteen, by=people.work_unit_staff, first_day=TUESDAY, last_day=TUESDAY, reason="单位活动"
    )
    closed = post(client, "/bookings", seats(canteen, TUESDAY, "12:00", "12:30", "r2"))
    assert closed.json() == {"detail": "The resource is closed on 2026-12-01.", "field": "starts_at"}
    assert not Booking.objects.filter(booked_by=neighbour).exists()


def test_an_overlapping_booking_of_the_hall_is_refused_buffer_included(people, hall, book, neighbour):
    book(hall, TUESDAY, "14:00", "16:00", by=neighbour)
    client = signed_in(people.resident)
    for start, end in (("15:00", "17:00"), ("16:00", "17:00")):
        refused = post(client, "/bookings", seats(hall, TUESDAY, start, end, f"{start}"))
        assert refused.json() == {"detail": "This time is already booked.", "field": "starts_at"}
    after_the_buffer = post(client, "/bookings", seats(hall, TUESDAY, "16:30", "17:30", "later"))
    assert after_the_buffer.status_code == 201
    assert after_the_buffer.json()["status"] == "pending"
    assert Booking.objects.filter(booked_by=people.resident).count() == 1


def test_a_parking_space_needs_a_real_plate(people, car_park):
    client = signed_in(people.resident)
    night = seats(car_park, TUESDAY, "19:00", "07:00")
    night["ends_at"] = "2026-12-02T07:00:00"
    assert post(client, "/bookings", night).json() == {"detail": "Give the vehicle plate.", "field": "plate"}
    bad = post(client, "/bookings", {**night, "plate": "ABC123"})
    assert bad.json() == {"detail": "This is not a vehicle plate, e.g. 川A12345.", "field": "plate"}
    assert not Booking.objects.exists()

    parked = post(client, "/bookings", {**night, "plate": "川a·12345"})
    assert parked.status_code == 201
    assert (parked.json()["plate"], parked.json()["ends_at"]) == ("川A12345", "2026-12-02T07:00:00+08:00")


def test_input_of_the_wrong_shape_is_422_and_books_nothing(people, canteen):
    client = signed_in(people.resident)
    good = seats(canteen, TUESDAY, "11:30", "12:00")
    for wrong in (
        {"starts_at": "tomorrow at noon"},
        {"starts_at": "2026-02-30T11:30:00"},
        {"ends_at": ""},
        {"party_size": "three"},
        {"request_token": ""},
        {"resource_id": "canteen"},
    ):
        response = post(client, "/bookings", {**good, **wrong})
        assert response.status_code == 422, wrong
        assert response.json()["detail"], wrong
    no_token = {key: value for key, value in good.items() if key != "request_token"}
    assert post(client, "/bookings", no_token).status_code == 422
    assert not Booking.objects.exists()


def test_a_person_without_a_resident_record_is_told_to_claim_it(people, canteen):
    response = post(signed_in(people.street_officer), "/bookings", seats(canteen, TUESDAY, "11:30", "12:00"))
    assert response.json() == {"detail": "Claim your resident record before booking.", "field": None}
    assert not Booking.objects.exists()


# --------------------------------------------------------------------------------------------- weekly series


def test_a_weekly_booking_answers_with_its_series(people, canteen):
    response = post(
        signed_in(people.resident), "/bookings", seats(canteen, MONDAY, "11:30", "12:00", "weekly", weeks=2)
    )
    assert response.status_code == 201, response.json()
    series = response.json()
    assert (series["weeks"], series["skipped"]) == (2, [])
    assert [booking["starts_at"] for booking in series["bookings"]] == [
        local(MONDAY, "11:30"),
        local(NEXT_MONDAY, "11:30"),
    ]
    assert {booking["series_id"] for booking in series["bookings"]} == {series["id"]}


def test_a_weekly_booking_skips_a_conflicting_week_only_when_asked(people, hall, book, neighbour):
    book(hall, NEXT_MONDAY, "15:00", "16:00", by=neighbour)
    client = signed_in(people.resident)
    weekly = seats(hall, MONDAY, "14:00", "16:00", "weekly", weeks=2)

    refused = post(client, "/bookings", weekly)
    assert refused.status_code == 400
    assert refused.json() == {
        "detail": "2026-12-07 cannot be booked: This time is already booked.",
        "field": "starts_at",
    }
    assert not Booking.objects.filter(booked_by=people.resident).exists()
    assert not Series.objects.exists()

    skipping = post(client, "/bookings", {**weekly, "request_token": "weekly-2", "skip_conflicts": True})
    assert skipping.status_code == 201, skipping.json()
    series = skipping.json()
    assert [booking["starts_at"] for booking in series["bookings"]] == [local(MONDAY, "14:00")]
    assert series["skipped"] == [{"day": "2026-12-07", "reason": "This time is already booked."}]


def test_a_weekly_booking_runs_two_weeks_or_more(people, canteen):
    response = post(
        signed_in(people.resident), "/bookings", seats(canteen, MONDAY, "11:30", "12:00", weeks=1)
    )
    assert response.json() == {"detail": "A weekly booking runs for 2 to 26 weeks.", "field": "weeks"}
    assert not Booking.objects.exists()


# ---------------------------------------------------------------------------------------- the booker's own


def test_the_booker_lists_and_reads_their_bookings(people, canteen, car_park, book):
    lunch = book(canteen, TUESDAY, "11:30", "12:00")
    night = book(car_park, TUESDAY, "19:00", "07:00", plate="川A12345")
    client = signed_in(people.resident)
    page = get(client, "/bookings").json()
    assert ids(page) == [night.pk, lunch.pk]
    services.booking_cancel(booking=lunch, by=people.resident, now=NOW)
    assert ids(get(client, "/bookings", status="confirmed").json()) == [night.pk]
    assert ids(get(client, "/bookings", status="cancelled").json()) == [lunch.pk]
    detail = get(client, f"/bookings/{night.pk}").json()
    assert (detail["plate"], detail["resource"]["name"]) == ("川A12345", "蜀都银行停车场")


def test_only_bookings_not_yet_over_are_upcoming(people, canteen, book, clock):
    monday = book(canteen, MONDAY, "11:30", "12:00")
    tuesday = book(canteen, TUESDAY, "11:30", "12:00")
    clock.set(at(MONDAY, "13:00"))
    client = signed_in(people.resident)
    assert ids(get(client, "/bookings").json()) == [tuesday.pk, monday.pk]
    assert ids(get(client, "/bookings", upcoming=True).json()) == [tuesday.pk]


def test_someone_elses_booking_is_404(people, canteen, hall, book, neighbour, other_resident):
    lunch = book(canteen, TUESDAY, "11:30", "12:00")
    meeting = book(hall, TUESDAY, "14:00", "16:00")
    for stranger in (neighbour, other_resident, people.outsider):
        client = signed_in(stranger)
        assert get(client, "/bookings").json()["count"] == 0
        for booking in (lunch, meeting):
            assert get(client, f"/bookings/{booking.pk}").json() == {"detail": "Not found."}
            assert post(client, f"/bookings/{booking.pk}/cancel").status_code == 404
            assert post(client, f"/bookings/{booking.pk}/check-in").status_code == 404
    # The canteen's owner sees its bookings, not the community hall's.
    unit = signed_in(people.work_unit_staff)
    assert get(unit, f"/bookings/{lunch.pk}").json()["booked_for"] == "张*民"
    assert get(unit, f"/bookings/{meeting.pk}").status_code == 404
    assert set(Booking.objects.values_list("status", flat=True)) == {"confirmed", "pending"}


def test_the_booker_cancels_up_to_the_deadline(people, canteen, book, clock):
    early = book(canteen, TUESDAY, "11:30", "12:00")
    late = book(canteen, TUESDAY, "12:00", "12:30")
    client = signed_in(people.resident)
    cancelled = post(client, f"/bookings/{early.pk}/cancel", {"reason": "临时有事"})
    assert cancelled.status_code == 200
    assert (cancelled.json()["status"], cancelled.json()["reason"]) == ("cancelled", "临时有事")
    assert cancelled.json()["cancelled_at"].startswith("2026-11-30T09:00")
    again = post(client, f"/bookings/{early.pk}/cancel")
    assert again.json() == {"detail": "Only a booking not yet used can be cancelled.", "field": None}

    clock.set(at(TUESDAY, "11:30"))
    too_late = post(client, f"/bookings/{late.pk}/cancel")
    assert too_late.json() == {
        "detail": "Bookings can be cancelled up to 60 minutes before the start.",
        "field": None,
    }
    late.refresh_from_db()
    assert late.status == "confirmed"


def test_the_owner_cancels_with_a_reason_the_booker_is_told(people, canteen, book):
    booking = book(canteen, TUESDAY, "11:30", "12:00")
    unit = signed_in(people.work_unit_staff)
    silent = post(unit, f"/bookings/{booking.pk}/cancel")
    assert silent.json() == {"detail": "Tell the booker why.", "field": "reason"}
    booking.refresh_from_db()
    assert booking.status == "confirmed"
    cancelled = post(unit, f"/bookings/{booking.pk}/cancel", {"reason": "食堂检修"})
    assert (cancelled.json()["status"], cancelled.json()["reason"]) == ("cancelled", "食堂检修")


# ---------------------------------------------------------------------------------------------- check-in


def test_the_booker_checks_in_with_the_posted_code(people, canteen, book, clock):
    booking = book(canteen, TUESDAY, "11:30", "12:00")
    client = signed_in(people.resident)
    url = f"/bookings/{booking.pk}/check-in"
    clock.set(at(TUESDAY, "10:00"))
    early = post(client, url, {"token": canteen.checkin_token})
    assert early.json() == {"detail": "Check-in opens at 11:15.", "field": None}

    clock.set(at(TUESDAY, "11:20"))
    no_code = post(client, url)
    assert no_code.json() == {"detail": "Scan the code posted at the resource to check in.", "field": None}
    checked_in = post(client, url, {"token": canteen.checkin_token})
    assert checked_in.status_code == 200
    assert checked_in.json()["status"] == "checked_in"
    assert checked_in.json()["checked_in_at"].startswith("2026-12-01T11:20")
    assert post(client, url, {"token": canteen.checkin_token}).json()["detail"] == "Already checked in."


def test_the_owners_staff_check_a_booker_in_without_a_code(people, canteen, book, clock):
    booking = book(canteen, TUESDAY, "11:30", "12:00")
    clock.set(at(TUESDAY, "11:40"))
    response = post(signed_in(people.work_unit_staff), f"/bookings/{booking.pk}/check-in")
    assert response.status_code == 200
    assert response.json()["status"] == "checked_in"
    booking.refresh_from_db()
    assert booking.checked_in_by == people.work_unit_staff


def test_scanning_the_posted_code_checks_in_the_booking_open_now(people, canteen, book, clock):
    book(canteen, MONDAY, "11:30", "12:00")
    booking = book(canteen, TUESDAY, "11:30", "12:00")
    client = signed_in(people.resident)
    clock.set(at(TUESDAY, "11:25"))
    scanned = post(
        client, "/check-in", {"token": f"https://gongzhi.example/sharing/check-in/{canteen.checkin_token}/"}
    )
    assert scanned.status_code == 200, scanned.json()
    assert (scanned.json()["id"], scanned.json()["status"]) == (booking.pk, "checked_in")

    unknown = post(client, "/check-in", {"token": "not-a-code"})
    assert unknown.json() == {
        "detail": "This code is not a resource's check-in code, or it has been replaced.",
        "field": None,
    }
    nothing_open = post(client, "/check-in", {"token": canteen.checkin_token})
    assert nothing_open.json() == {"detail": "You have no booking here to check in to now.", "field": None}
    assert post(client, "/check-in", {"token": ""}).status_code == 422


# ------------------------------------------------------------------------------------------- approvals


def test_the_owner_approves_or_declines_requests_awaiting_approval(people, hall, neighbour):
    client = signed_in(people.resident)
    asked = post(client, "/bookings", seats(hall, TUESDAY, "14:00", "16:00", "a"))
    assert (asked.json()["status"], asked.json()["status_label"]) == ("pending", "Awaiting approval")
    other = post(signed_in(neighbour), "/bookings", seats(hall, MONDAY, "14:00", "15:00", "b")).json()

    worker = signed_in(people.community_worker)
    pending = get(worker, "/manage/pending").json()
    assert ids(pending) == [other["id"], asked.json()["id"]]
    assert pending["items"][0]["booked_for"] == "李*奶"

    approved = post(worker, f"/bookings/{asked.json()['id']}/approve")
    assert approved.status_code == 200
    assert approved.json()["status"] == "confirmed" and approved.json()["decided_at"] is not None
    twice = post(worker, f"/bookings/{asked.json()['id']}/approve")
    assert twice.json() == {"detail": "This request has already been decided.", "field": None}

    no_reason = post(worker, f"/bookings/{other['id']}/decline")
    assert no_reason.json() == {"detail": "This field is required.", "field": "reason"}
    declined = post(worker, f"/bookings/{other['id']}/decline", {"reason": "当天已有社区活动"})
    assert (declined.json()["status"], declined.json()["reason"]) == ("declined", "当天已有社区活动")
    assert get(worker, "/manage/pending").json()["count"] == 0


def test_only_the_owners_staff_may_decide_and_others_get_404(people, hall, book):
    booking = book(hall, TUESDAY, "14:00", "16:00")
    # The booker, another owner's staff, and staff who oversee the region but do not run the hall.
    for caller in (people.resident, people.work_unit_staff, people.street_officer, people.outsider):
        client = signed_in(caller)
        assert get(client, "/manage/pending").json()["count"] == 0
        assert post(client, f"/bookings/{booking.pk}/approve").json() == {"detail": "Not found."}
        assert post(client, f"/bookings/{booking.pk}/decline", {"reason": "不行"}).status_code == 404
    booking.refresh_from_db()
    assert booking.status == "pending"


def test_the_desk_lists_a_days_bookings_of_a_resource_it_runs(people, canteen, car_park, book):
    lunch = book(canteen, TUESDAY, "11:30", "12:00", party_size=2)
    book(canteen, MONDAY, "11:30", "12:00")
    book(car_park, TUESDAY, "19:00", "07:00", plate="川A12345")
    url = f"/manage/resources/{canteen.pk}/bookings"
    day = get(signed_in(people.work_unit_staff), url, day="2026-12-01").json()
    assert ids(day) == [lunch.pk]
    assert (day["items"][0]["booked_for"], day["items"][0]["party_size"]) == ("张*民", 2)
    for caller in (people.resident, people.street_officer, people.community_worker):
        assert get(signed_in(caller), url, day="2026-12-01").status_code == 404
    assert get(signed_in(people.work_unit_staff), url, day="1 December").status_code == 422


# ------------------------------------------------------------------------------------------------- tokens


def test_a_residents_token_books_without_a_csrf_token(people, canteen, token_for, token_client):
    client = token_client(token_for(people.resident))
    payload = seats(canteen, TUESDAY, "11:30", "12:00", "script-1")
    first = client.post(f"{API}/bookings", payload, content_type="application/json", headers=EN)
    assert first.status_code == 201, first.json()
    again = client.post(f"{API}/bookings", payload, content_type="application/json", headers=EN)
    assert again.json()["id"] == first.json()["id"]
    assert client.get(f"{API}/bookings").json()["count"] == 1
    refused = Client().get(f"{API}/bookings", headers={"Authorization": "Bearer gz_unknown"})
    assert refused.status_code == 401


def test_an_organisations_token_books_for_the_organisation(people, canteen, token_for, token_client):
    services.resource_save(
        resource=canteen, by=people.work_unit_staff, audience_organisations=[people.agency]
    )
    client = token_client(token_for(people.provider_staff, organisation=people.agency))
    assert [item["may_book"] for item in client.get(f"{API}/resources").json()["items"]] == [True]
    response = client.post(
        f"{API}/bookings",
        seats(canteen, TUESDAY, "11:30", "12:00", party_size=6),
        content_type="application/json",
        headers=EN,
    )
    assert response.status_code == 201, response.json()
    assert response.json()["organisation"]["name"] == "青羊社工中心"
    assert response.json()["booked_for"] == "青羊社工中心"
    assert Booking.objects.get().resident is None


# --------------------------------------------------------------------------------------------- the document


def test_the_openapi_document_lists_the_sharing_paths(client, db):
    document = client.get("/api/v1/openapi.json").json()
    assert {
        f"{API}/resources",
        f"{API}/resources/{{resource_id}}",
        f"{API}/resources/{{resource_id}}/availability",
        f"{API}/bookings",
        f"{API}/bookings/{{booking_id}}",
        f"{API}/bookings/{{booking_id}}/cancel",
        f"{API}/bookings/{{booking_id}}/check-in",
        f"{API}/bookings/{{booking_id}}/approve",
        f"{API}/bookings/{{booking_id}}/decline",
        f"{API}/check-in",
        f"{API}/manage/pending",
        f"{API}/manage/resources/{{resource_id}}/bookings",
    } <= set(document["paths"])
    assert document["paths"][f"{API}/bookings"]["post"]["security"]
    booking_in = document["components"]["schemas"]["BookingIn"]["properties"]
    assert "Asia/Shanghai" in booking_in["starts_at"]["description"]


# ------------------------------------------------------------------ lists cost the same however long they are


def test_the_resource_list_does_not_grow_in_queries(people, canteen, django_assert_max_num_queries):
    client = signed_in(people.resident)
    with CaptureQueriesContext(connection) as few:
        assert get(client, "/resources").json()["count"] == 1
    for number in range(6):
        services.resource_save(
            resource=Resource(
                region=people.building if number % 2 else people.community,
                organisation=people.work_unit if number % 2 else None,
                kind="gym",
                name=f"健身房{number}",
                address="清波路",
            ),
            by=people.admin,
        )
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = get(client, "/resources").json()
    assert page["count"] == 7


def test_the_booking_lists_do_not_grow_in_queries(people, canteen, hall, book, django_assert_max_num_queries):
    book(canteen, TUESDAY, "11:30", "12:00")
    book(hall, TUESDAY, "08:00", "09:00")
    resident, worker = signed_in(people.resident), signed_in(people.community_worker)
    with CaptureQueriesContext(connection) as mine:
        assert get(resident, "/bookings").json()["count"] == 2
    with CaptureQueriesContext(connection) as pending:
        assert get(worker, "/manage/pending").json()["count"] == 1
    for day in range(2, 7):
        book(canteen, MONDAY + datetime.timedelta(days=day), "11:30", "12:00")
    book(hall, TUESDAY, "10:00", "11:00")
    with django_assert_max_num_queries(len(mine.captured_queries)):
        assert get(resident, "/bookings").json()["count"] == 8
    with django_assert_max_num_queries(len(pending.captured_queries)):
        assert get(worker, "/manage/pending").json()["count"] == 2
