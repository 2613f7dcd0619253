"""The services of sharing: each rule met when one lists, books, cancels, checks in or misses a booking."""

import datetime

import pytest
from django.utils import timezone

from conftest import make_user
from gongzhi.core.exceptions import ServiceError
from gongzhi.core.models import Notification, Resident
from gongzhi.core.services import resident_create
from gongzhi.sharing import rules, services
from gongzhi.sharing.models import Booking, Resource, Status
from gongzhi.sharing.tests.conftest import NOW, TUESDAY, at, hours
from gongzhi.volunteering import services as points
from gongzhi.volunteering.selectors import points_balance

WEDNESDAY = TUESDAY + rules.DAY
pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture
def neighbour(people):
    """李奶奶 of 2栋 with an account."""
    user = make_user("13600000099", "李奶奶")
    Resident.objects.filter(pk=people.neighbour_record.pk).update(user=user)
    return user


def refused(call, *args, **kwargs) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        call(*args, **kwargs)
    return caught.value


# Listing resources --------------------------------------------------------------------------------------


def test_it_lists_a_resource_under_its_community(people, canteen):
    assert canteen.community == people.community
    assert [(h.weekday, h.opens) for h in canteen.hours.all()][:1] == [(0, datetime.time(11, 30))]


def test_a_unit_cannot_list_for_another_unit(people):
    resource = Resource(
        region=people.community,
        organisation=people.agency,
        kind="gym",
        name="健身房",
        address="x",
        capacity=5,
    )
    error = refused(services.resource_save, resource=resource, by=people.work_unit_staff, hours=[])
    assert "owner" in str(error.message)
    assert not Resource.objects.filter(name="健身房").exists()


def test_a_unit_cannot_list_outside_its_area(people):
    resource = Resource(
        region=people.other_community, organisation=people.work_unit, kind="gym", name="健身房", address="x"
    )
    assert refused(services.resource_save, resource=resource, by=people.work_unit_staff).field == "region"


def test_a_community_worker_lists_the_communitys_own_hall_but_not_a_units(people, hall, canteen):
    assert services.may_manage(people.community_worker, hall)
    assert not services.may_manage(people.community_worker, canteen)
    assert not services.may_manage(people.outsider, hall)


def test_a_cash_price_must_be_given_and_points_are_whole(people, canteen):
    canteen.price_amount = 0
    assert (
        refused(services.resource_save, resource=canteen, by=people.work_unit_staff).field == "price_amount"
    )
    canteen.price_kind, canteen.price_amount = "points", "2.5"
    assert (
        refused(services.resource_save, resource=canteen, by=people.work_unit_staff).field == "price_amount"
    )


def test_it_refuses_durations_out_of_order(people, canteen):
    canteen.min_minutes, canteen.max_minutes = 90, 60
    refused(services.resource_save, resource=canteen, by=people.work_unit_staff)
    canteen.refresh_from_db()
    assert canteen.max_minutes == 90


def test_it_will_not_switch_exclusive_and_pooled_with_bookings_ahead(people, hall, book):
    # Resources are saved against the real clock: a booking the day after tomorrow lies ahead.
    book(hall, timezone.localdate() + 2 * rules.DAY, "10:00", "11:00", now=timezone.now())
    hall.capacity = 10
    assert refused(services.resource_save, resource=hall, by=people.community_worker).field == "capacity"


# Booking -------------------------------------------------------------------------------------------------


def test_it_books_pooled_seats_and_prices_them(canteen, book):
    booking = book(canteen, TUESDAY, "11:30", "12:00", party_size=3)
    assert (booking.status, booking.price_due, booking.exclusive) == (Status.CONFIRMED, 36, False)
    assert booking.blocked_until == booking.ends_at
    assert booking.release_at == at(TUESDAY, "11:45")


def test_it_refuses_more_places_than_are_left(people, canteen, book, neighbour):
    book(canteen, TUESDAY, "11:30", "12:30", party_size=30)
    error = refused(book, canteen, TUESDAY, "12:00", "12:30", party_size=11, by=neighbour)
    assert "Only 10 places" in str(error.message) or "10" in str(error.message)
    book(canteen, TUESDAY, "12:00", "12:30", party_size=10, by=neighbour)
    assert "Fully booked" in str(
        refused(book, canteen, TUESDAY, "12:00", "12:30", by=people.resident).message
    )
    # Half-open: at 12:30 the first party's 30 seats are free again.
    book(canteen, TUESDAY, "12:30", "13:00", party_size=30, by=neighbour)


def test_an_exclusive_resource_takes_one_booking_at_a_time(people, hall, book, neighbour):
    book(hall, TUESDAY, "14:00", "16:00")
    error = refused(book, hall, TUESDAY, "15:00", "17:00", by=neighbour)
    assert error.field == "starts_at"
    assert Booking.objects.filter(resource=hall).count() == 1


def test_the_buffer_keeps_a_gap_after_each_booking(hall, book, neighbour):
    book(hall, TUESDAY, "14:00", "16:00")
    refused(book, hall, TUESDAY, "16:00", "17:00", by=neighbour)
    # Before: 12:00-13:30 ends 30 minutes before 14:00, exactly the buffer.
    refused(book, hall, TUESDAY, "12:30", "14:00", by=neighbour)
    book(hall, TUESDAY, "12:00", "13:30", by=neighbour)
    book(hall, WEDNESDAY, "16:30", "17:30", by=neighbour)


def test_back_to_back_bookings_without_buffer_do_not_collide(people, hall, book, neighbour):
    hall.buffer_minutes = 0
    services.resource_save(resource=hall, by=people.community_worker)
    book(hall, TUESDAY, "14:00", "15:00")
    book(hall, TUESDAY, "15:00", "16:00", by=neighbour)


def test_a_booking_needing_approval_waits_and_tells_the_owner(people, hall, book):
    booking = book(hall, TUESDAY, "14:00", "16:00")
    assert booking.status == Status.PENDING


def test_the_same_request_token_books_once(people, canteen):
    make = lambda: services.booking_create(  # noqa: E731
        resource=canteen,
        by=people.resident,
        starts_at=at(TUESDAY, "11:30"),
        ends_at=at(TUESDAY, "12:00"),
        request_token="same",
        now=NOW,
    )
    assert make().pk == make().pk
    assert Booking.objects.count() == 1


def test_parking_needs_a_real_plate(car_park, book):
    assert refused(book, car_park, TUESDAY, "19:00", "07:00").field == "plate"
    assert refused(book, car_park, TUESDAY, "19:00", "07:00", plate="ABC").field == "plate"
    booking = book(car_park, TUESDAY, "19:00", "07:00", plate="川a·12345")
    assert booking.plate == "川A12345"
    assert booking.ends_at - booking.starts_at == datetime.timedelta(hours=12)


def test_it_refuses_a_resident_outside_the_audience(people, canteen, book):
    stranger = make_user("13600000077", "王吉福")
    Resident.objects.filter(pk=people.other_resident_record.pk).update(user=stranger)
    assert "not open to you" in str(refused(book, canteen, TUESDAY, "11:30", "12:00", by=stranger).message)


def test_the_audience_can_be_other_regions_and_organisations(people, canteen, book):
    canteen.audience_regions.set([people.building_2])
    assert "not open" in str(refused(book, canteen, TUESDAY, "11:30", "12:00").message)  # 张居民 lives in 1栋
    canteen.audience_organisations.set([people.agency])
    booking = book(canteen, TUESDAY, "11:30", "12:00", by=people.provider_staff, organisation=people.agency)
    assert booking.organisation == people.agency and booking.resident is None


def test_someone_without_a_resident_record_cannot_book(people, canteen, book):
    assert "resident record" in str(
        refused(book, canteen, TUESDAY, "11:30", "12:00", by=people.street_officer).message
    )


def test_an_organisation_is_booked_for_only_by_its_staff(people, canteen, book):
    canteen.audience_organisations.set([people.agency])
    error = refused(
        book, canteen, TUESDAY, "11:30", "12:00", by=people.work_unit_staff, organisation=people.agency
    )
    assert "act for" in str(error.message)


def test_bookings_at_once_are_limited(hall, book):
    book(hall, TUESDAY, "08:00", "09:00")
    book(hall, TUESDAY, "10:00", "11:00")
    assert "at once" in str(refused(book, hall, TUESDAY, "12:00", "13:00").message)


def test_hours_per_week_are_limited_and_a_night_counts_in_its_week(car_park, book):
    # 40 hours a week: three 12-hour nights (36 h) fit, a fourth does not; Sunday night splits across weeks.
    for day in (TUESDAY, WEDNESDAY, WEDNESDAY + rules.DAY):
        book(car_park, day, "19:00", "07:00", plate="川A12345")
    error = refused(book, car_park, WEDNESDAY + 2 * rules.DAY, "19:00", "07:00", plate="川A12345")
    assert "40 hours" in str(error.message)
    sunday = datetime.date(2026, 12, 6)
    book(car_park, sunday, "23:00", "07:00", plate="川A12345")  # 1 h this week (37 h), 7 h the next


def test_an_inactive_resource_takes_no_bookings(people, canteen, book):
    canteen.is_active = False
    services.resource_save(resource=canteen, by=people.work_unit_staff)
    assert "not taking bookings" in str(refused(book, canteen, TUESDAY, "11:30", "12:00").message)


def test_nothing_is_written_when_a_rule_refuses(canteen, book):
    refused(book, canteen, TUESDAY, "13:00", "13:30")
    refused(book, canteen, TUESDAY, "11:30", "12:00", party_size=0)
    refused(book, canteen, TUESDAY, "11:30", "12:00", party_size=41)
    assert not Booking.objects.exists()


# Weekly series -------------------------------------------------------------------------------------------


def _series(people, resource, *, skip, weeks=3, token="series"):
    return services.booking_series_create(
        resource=resource,
        by=people.resident,
        starts_at=at(TUESDAY, "08:00"),
        ends_at=at(TUESDAY, "09:00"),
        weeks=weeks,
        skip_conflicts=skip,
        request_token=token,
        now=NOW,
    )


def test_a_weekly_series_skips_the_dates_that_conflict(people, hall, book, neighbour):
    hall.bookings_at_once, hall.book_ahead_days = None, 30
    services.resource_save(resource=hall, by=people.community_worker)
    book(hall, TUESDAY + 7 * rules.DAY, "08:30", "09:30", by=neighbour)
    series = _series(people, hall, skip=True)
    days = [rules.local_day(b.starts_at) for b in series.bookings.order_by("starts_at")]
    assert days == [TUESDAY, TUESDAY + 14 * rules.DAY]
    assert series.skipped[0]["day"] == "2026-12-08"
    assert "already booked" in series.skipped[0]["reason"]


def test_a_weekly_series_without_skipping_books_nothing_on_a_conflict(people, hall, book, neighbour):
    hall.bookings_at_once = None
    services.resource_save(resource=hall, by=people.community_worker)
    book(hall, TUESDAY + 7 * rules.DAY, "08:30", "09:30", by=neighbour)
    error = refused(_series, people, hall, skip=False)
    assert "2026-12-08" in str(error.message)
    assert Booking.objects.filter(booked_by=people.resident).count() == 0


def test_a_series_needs_two_to_26_weeks(people, hall):
    assert refused(_series, people, hall, skip=True, weeks=1).field == "weeks"
    assert refused(_series, people, hall, skip=True, weeks=27).field == "weeks"


# Cancelling, approving, blackouts -----------------------------------------------------------------------


def test_the_booker_cancels_up_to_the_deadline(people, canteen, book):
    booking = book(canteen, TUESDAY, "11:30", "12:00")
    late = at(TUESDAY, "10:31")
    assert "60 minutes" in str(
        refused(services.booking_cancel, booking=booking, by=people.resident, now=late).message
    )
    services.booking_cancel(booking=booking, by=people.resident, now=at(TUESDAY, "10:30"))
    booking.refresh_from_db()
    assert booking.status == Status.CANCELLED


def test_a_cancelled_booking_frees_its_slot(people, hall, book, neighbour):
    booking = book(hall, TUESDAY, "14:00", "16:00")
    services.booking_cancel(booking=booking, by=people.resident, now=NOW)
    book(hall, TUESDAY, "14:00", "16:00", by=neighbour)


def test_the_owner_cancels_with_a_reason_the_booker_hears(
    people, canteen, book, django_capture_on_commit_callbacks
):
    booking = book(canteen, TUESDAY, "11:30", "12:00")
    assert refused(services.booking_cancel, booking=booking, by=people.work_unit_staff).field == "reason"
    with django_capture_on_commit_callbacks(execute=True):
        services.booking_cancel(booking=booking, by=people.work_unit_staff, reason="食堂检修")
    assert Notification.objects.filter(user=people.resident, title__contains="蜀都银行职工食堂").exists()


def test_a_stranger_cannot_cancel(people, canteen, book):
    booking = book(canteen, TUESDAY, "11:30", "12:00")
    refused(services.booking_cancel, booking=booking, by=people.community_worker, reason="x")


def test_the_owner_approves_or_declines_once(people, hall, book, django_capture_on_commit_callbacks):
    booking = book(hall, TUESDAY, "14:00", "16:00")
    assert refused(services.booking_decide, booking=booking, by=people.resident, approve=True)
    assert (
        refused(services.booking_decide, booking=booking, by=people.community_worker, approve=False).field
        == "reason"
    )
    with django_capture_on_commit_callbacks(execute=True):
        booking = services.booking_decide(booking=booking, by=people.community_worker, approve=True)
    assert booking.status == Status.CONFIRMED
    assert "already been decided" in str(
        refused(services.booking_decide, booking=booking, by=people.community_worker, approve=True).message
    )
    assert Notification.objects.get(user=people.resident).title == "Your booking of 清波议事厅 is confirmed"


def test_a_blackout_cancels_the_bookings_it_covers(people, canteen, book):
    on_tuesday = book(canteen, TUESDAY, "11:30", "12:00")
    on_wednesday = book(canteen, WEDNESDAY, "11:30", "12:00")
    services.blackout_add(
        resource=canteen, by=people.work_unit_staff, first_day=TUESDAY, last_day=TUESDAY, reason="年检"
    )
    on_tuesday.refresh_from_db(), on_wednesday.refresh_from_db()
    assert (on_tuesday.status, on_tuesday.reason, on_wednesday.status) == (
        Status.CANCELLED,
        "年检",
        Status.CONFIRMED,
    )
    assert "closed" in str(refused(book, canteen, TUESDAY, "12:00", "12:30").message)


# Check-in, no-shows, reminders ---------------------------------------------------------------------------


def test_the_booker_checks_in_with_the_posted_code_within_the_window(people, canteen, book):
    booking = book(canteen, TUESDAY, "11:30", "12:00")
    early = at(TUESDAY, "11:14")
    error = refused(
        services.booking_check_in_by_token, token=canteen.checkin_token, by=people.resident, now=early
    )
    assert "no booking here" in str(error.message)
    assert refused(
        services.booking_check_in,
        booking=booking,
        by=people.resident,
        token="wrong",
        now=at(TUESDAY, "11:20"),
    )
    checked = services.booking_check_in_by_token(
        token=canteen.checkin_token, by=people.resident, now=at(TUESDAY, "11:20")
    )
    assert checked.pk == booking.pk and checked.status == Status.CHECKED_IN
    assert "Already" in str(
        refused(
            services.booking_check_in, booking=booking, by=people.work_unit_staff, now=at(TUESDAY, "11:21")
        ).message
    )


def test_a_renewed_code_stops_the_old_poster(people, canteen, book):
    book(canteen, TUESDAY, "11:30", "12:00")
    old = canteen.checkin_token
    services.checkin_token_renew(resource=canteen, by=people.work_unit_staff)
    error = refused(
        services.booking_check_in_by_token, token=old, by=people.resident, now=at(TUESDAY, "11:20")
    )
    assert "replaced" in str(error.message)


def test_staff_check_in_by_hand_until_the_release(people, canteen, book):
    booking = book(canteen, TUESDAY, "11:30", "12:00")
    error = refused(
        services.booking_check_in, booking=booking, by=people.work_unit_staff, now=at(TUESDAY, "11:45")
    )
    assert "released" in str(error.message)
    services.booking_check_in(booking=booking, by=people.work_unit_staff, now=at(TUESDAY, "11:44"))


def test_a_no_show_is_released_counted_and_pauses_booking(people, canteen, book):
    for day in range(3):
        book(canteen, TUESDAY + day * rules.DAY, "11:30", "12:00")
    assert services.bookings_release_no_shows(now=at(TUESDAY, "11:44")) == 0
    assert services.bookings_release_no_shows(now=at(TUESDAY + 3 * rules.DAY, "11:45")) == 3
    assert Booking.objects.filter(status=Status.NO_SHOW).count() == 3
    error = refused(
        book, canteen, TUESDAY + 5 * rules.DAY, "11:30", "12:00", now=at(TUESDAY + 4 * rules.DAY, "09:00")
    )
    assert "paused" in str(error.message)


def test_a_no_show_frees_the_exclusive_slot(people, hall, book, neighbour):
    booking = book(hall, TUESDAY, "14:00", "15:00")
    services.booking_decide(booking=booking, by=people.community_worker, approve=True)
    services.bookings_release_no_shows(now=at(TUESDAY, "14:15"))
    book(hall, TUESDAY, "14:30", "15:30", by=neighbour, now=at(TUESDAY, "14:16"))


def test_each_booker_is_reminded_once_shortly_before(people, canteen, book):
    book(canteen, TUESDAY, "11:30", "12:00")
    assert services.bookings_remind(now=at(TUESDAY, "09:29")) == 0
    assert services.bookings_remind(now=at(TUESDAY, "09:30")) == 1
    assert services.bookings_remind(now=at(TUESDAY, "10:00")) == 0


# Points --------------------------------------------------------------------------------------------------


@pytest.fixture
def points_gym(people):
    resource = Resource(
        region=people.community,
        organisation=people.work_unit,
        kind="gym",
        name="职工健身房",
        address="清波路8号三楼",
        capacity=10,
        slot_minutes=60,
        min_minutes=60,
        max_minutes=120,
        price_kind="points",
        price_per="hour",
        price_amount=5,
    )
    return services.resource_save(resource=resource, by=people.work_unit_staff, hours=hours("06:00", "22:00"))


def _give_points(people, amount):
    points.budget_fund(
        community=people.community, by=people.community_secretary, amount=amount, idempotency_key="f"
    )
    points.points_award(
        community=people.community,
        resident=people.resident_record,
        awarded_by=people.community_worker,
        amount=amount,
        reason="测试",
        idempotency_key="a",
    )


def test_points_are_paid_and_refunded_by_a_reversing_entry(people, points_gym, book):
    _give_points(people, 20)
    booking = book(points_gym, TUESDAY, "18:00", "20:00")
    assert booking.price_due == 10 and booking.points_transaction is not None
    assert points_balance(people.resident_record) == 10
    services.booking_cancel(booking=booking, by=people.resident, now=NOW)
    assert points_balance(people.resident_record) == 20


def test_not_enough_points_books_nothing(people, points_gym, book):
    _give_points(people, 5)
    assert "Not enough points" in str(refused(book, points_gym, TUESDAY, "18:00", "20:00").message)
    assert not Booking.objects.exists()
    assert points_balance(people.resident_record) == 5


def test_a_declined_request_gives_the_points_back(people, points_gym, book):
    points_gym.needs_approval = True
    services.resource_save(resource=points_gym, by=people.work_unit_staff)
    _give_points(people, 20)
    booking = book(points_gym, TUESDAY, "18:00", "19:00")
    services.booking_decide(booking=booking, by=people.work_unit_staff, approve=False, reason="场地维护")
    assert points_balance(people.resident_record) == 20


def test_a_no_show_keeps_the_points(people, points_gym, book):
    _give_points(people, 20)
    book(points_gym, TUESDAY, "18:00", "19:00")
    services.bookings_release_no_shows(now=at(TUESDAY, "18:15"))
    assert points_balance(people.resident_record) == 15


# Feeds ---------------------------------------------------------------------------------------------------


def test_a_new_feed_link_revokes_the_old_one(people, canteen):
    first = services.feed_create(by=people.resident)
    second = services.feed_create(by=people.resident)
    first.refresh_from_db()
    assert first.revoked_at is not None and second.revoked_at is None
    assert refused(services.feed_create, by=people.resident, resource=canteen)
    assert services.feed_create(by=people.work_unit_staff, resource=canteen).resource == canteen


def test_resident_create_is_reused_for_other_buildings(people):
    # The audience rule reads the resident's building path; a resident of 2栋 is within the community.
    record = resident_create(created_by=people.admin, region=people.building_2, name="赵", room="2-301")
    assert record.region.is_within(people.community)
