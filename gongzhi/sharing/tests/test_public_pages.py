"""The residents' sharing pages: the list of resources, a resource's week, the booking form, a booking, my
bookings, checking in by the posted code, and the calendar link page. Pages use the real clock, so the
bookings here are made relative to now, on resources open all day."""

import datetime
import re

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation

from conftest import make_user
from gongzhi.core.models import Resident
from gongzhi.sharing import rules, services
from gongzhi.sharing.models import Booking, Feed, Resource, Status
from gongzhi.sharing.tests.conftest import hours

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english(client):
    """Messages are matched in English (the msgids), on the pages as in the services."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    with translation.override("en"):
        yield


def tomorrow() -> datetime.date:
    return timezone.localdate() + rules.DAY


def at(day: datetime.date, time: str) -> datetime.datetime:
    return rules.at(day, datetime.time.fromisoformat(time))


def _listed(people, by, **fields) -> Resource:
    resource = Resource(region=fields.pop("region", people.community), **fields)
    return services.resource_save(
        resource=resource, by=by, hours=fields.pop("hours_list", hours("00:00", "00:00"))
    )


@pytest.fixture
def gym(people):
    """The community's gym, open day and night: 10 places, an hour to two, 3 hours a person a week."""
    return _listed(
        people,
        people.community_worker,
        kind="gym",
        name="清波健身房",
        address="清波路1号",
        capacity=10,
        slot_minutes=60,
        min_minutes=60,
        max_minutes=120,
        hours_per_week=3,
        rules="请穿运动鞋",
    )


@pytest.fixture
def room(people):
    """The community's activity room, open day and night, one booking at a time."""
    return _listed(
        people,
        people.community_worker,
        kind="activity_room",
        name="清波活动室",
        address="清波路2号",
        capacity=1,
        slot_minutes=60,
        min_minutes=60,
        max_minutes=120,
        book_ahead_days=30,
    )


@pytest.fixture
def tokens():
    numbers = iter(range(1, 10_000))
    return lambda: f"page-{next(numbers)}"


@pytest.fixture
def reserve(people, tokens):
    """Books through the service with the real clock: reserve(gym, tomorrow(), "10:00", "11:00")."""

    def make(resource, day, start, end, *, by=None, now=None, **fields):
        return services.booking_create(
            resource=resource,
            by=by or people.resident,
            starts_at=at(day, start),
            ends_at=at(day, end),
            request_token=tokens(),
            now=now,
            **fields,
        )

    return make


@pytest.fixture
def neighbour(people):
    """A second resident of 清波社区 with an account (李奶奶 of 2栋)."""
    user = make_user("13800000020", "李奶奶")
    Resident.objects.filter(pk=people.neighbour_record.pk).update(user=user)
    return user


def page(response) -> str:
    return response.content.decode()


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def book_url(resource) -> str:
    return reverse("sharing:book", args=[resource.pk])


def form_token(client, resource) -> str:
    response = client.get(book_url(resource))
    return re.search(r'name="request_token" value="([^"]+)"', page(response)).group(1)


def post_booking(client, resource, day, start, minutes, **fields):
    data = {
        "day": day.isoformat(),
        "start": start,
        "end": str(minutes),
        "party_size": "1",
        "note": "",
        **fields,
    }
    data.setdefault("request_token", form_token(client, resource))
    return client.post(book_url(resource), data)


# The list of resources --------------------------------------------------------------------------------------


def test_it_lists_the_resources_open_to_a_resident(client, login, people, canteen, car_park, hall):
    login(people.resident)
    response = client.get(reverse("sharing:resources"))
    assert response.status_code == 200
    bookable = page(response).split('data-testid="bookable-resources"')[1]
    for resource in (canteen, car_park, hall):
        assert reverse("sharing:resource", args=[resource.pk]) in bookable
    assert "蜀都银行" in bookable and "清波路8号" in bookable
    assert "¥12.00 per booking, paid on site" in bookable
    assert "The owner confirms each booking" in bookable
    assert 'data-testid="managed-resources"' not in page(response)


def test_it_filters_by_kind_and_searches_by_name(client, login, people, canteen, car_park, hall):
    login(people.resident)
    by_kind = page(client.get(reverse("sharing:resources"), {"kind": "parking"}))
    assert "蜀都银行停车场" in by_kind and "蜀都银行职工食堂" not in by_kind and "清波议事厅" not in by_kind
    by_name = page(client.get(reverse("sharing:resources"), {"q": "议事"}))
    assert "清波议事厅" in by_name and "蜀都银行停车场" not in by_name
    nothing = page(client.get(reverse("sharing:resources"), {"q": "游泳"}))
    assert "Nothing open to you matches this search." in nothing


def test_it_swaps_only_the_results_for_htmx(client, login, people, canteen):
    login(people.resident)
    response = client.get(
        reverse("sharing:resources"),
        {"q": "食堂"},
        headers={"HX-Request": "true", "HX-Target": "resource-results"},
    )
    assert page(response).startswith('<div id="resource-results">')
    assert "蜀都银行职工食堂" in page(response) and "<html" not in page(response)


def test_it_lists_apart_the_resources_the_user_runs(client, login, people, canteen, car_park, hall):
    login(people.work_unit_staff)
    response = page(client.get(reverse("sharing:resources")))
    managed = response.split('data-testid="managed-resources"')[1]
    assert reverse("sharing:manage_resource", args=[canteen.pk]) in managed
    assert reverse("sharing:manage_resource", args=[car_park.pk]) in managed
    assert "清波议事厅" not in managed
    assert "Nothing is open to you yet." in response


def test_an_outsider_sees_no_resources(client, login, people, canteen, hall):
    login(people.outsider)
    response = page(client.get(reverse("sharing:resources")))
    assert "蜀都银行职工食堂" not in response and "清波议事厅" not in response


def test_the_list_queries_do_not_grow_with_resources(
    client, login, people, canteen, django_assert_max_num_queries
):
    login(people.community_worker)
    with django_assert_max_num_queries(10):
        client.get(reverse("sharing:resources"))
    for n in range(30):
        _listed(people, people.community_worker, kind="desk", name=f"工位{n:02}", address="创新中心")
    login(people.resident)
    with django_assert_max_num_queries(10):
        response = client.get(reverse("sharing:resources"))
    assert page(response).count('<article class="card"') == 20
    login(people.community_worker)
    with django_assert_max_num_queries(10):
        response = client.get(reverse("sharing:resources"))
    assert page(response).count('<article class="card"') == 20


# A resource and its week ------------------------------------------------------------------------------------


def test_it_shows_a_resource_and_its_week(client, login, people, gym):
    login(people.resident)
    response = client.get(reverse("sharing:resource", args=[gym.pk]), {"week": tomorrow().isoformat()})
    content = page(response)
    assert response.status_code == 200
    assert "请穿运动鞋" in content and "清波路1号" in content and "Free" in content
    assert "Residents of 清波社区" in content
    assert "All day" in content
    day = tomorrow()
    slot_link = f"{book_url(gym)}?day={day.isoformat()}&amp;start=10:00"
    assert slot_link in content
    assert "10 left" in content


def test_it_shows_the_places_left_in_a_pooled_slot(client, login, people, gym, reserve):
    reserve(gym, tomorrow(), "10:00", "11:00", party_size=3)
    login(people.resident)
    content = page(client.get(reverse("sharing:resource", args=[gym.pk]), {"week": tomorrow().isoformat()}))
    day = content.split(f'data-testid="day-{tomorrow().isoformat()}"')[1].split("</details>")[0]
    ten = day.split("start=10:00")[1].split("</a>")[0]
    assert "7 left" in ten


def test_it_marks_a_booked_exclusive_slot(client, login, people, room, reserve, neighbour):
    reserve(room, tomorrow(), "10:00", "11:00", by=neighbour)
    login(people.resident)
    content = page(client.get(reverse("sharing:resource", args=[room.pk]), {"week": tomorrow().isoformat()}))
    day = content.split(f'data-testid="day-{tomorrow().isoformat()}"')[1].split("</details>")[0]
    assert "start=10:00" not in day and "start=11:00" in day
    assert "Booked" in day


def test_it_shows_why_a_day_is_closed(client, login, people, gym):
    services.blackout_add(
        resource=gym, by=people.community_worker, first_day=tomorrow(), last_day=tomorrow(), reason="消防检查"
    )
    login(people.resident)
    response = client.get(reverse("sharing:resource", args=[gym.pk]), {"week": tomorrow().isoformat()})
    day = page(response).split(f'data-testid="day-{tomorrow().isoformat()}"')[1].split("</details>")[0]
    assert "Closed: 消防检查" in day and "start=" not in day


def test_it_swaps_in_the_next_week_with_htmx(client, login, people, gym):
    login(people.resident)
    next_monday = rules.week_start(timezone.localdate()) + 7 * rules.DAY
    response = client.get(
        reverse("sharing:resource", args=[gym.pk]),
        {"week": next_monday.isoformat()},
        headers={"HX-Request": "true", "HX-Target": "week"},
    )
    content = page(response)
    assert content.startswith('<div id="week"') and "<html" not in content
    assert f'data-testid="day-{next_monday.isoformat()}"' in content
    assert f"?week={(next_monday - 7 * rules.DAY).isoformat()}" in content


def test_a_week_out_of_range_shows_this_week(client, login, people, gym):
    login(people.resident)
    this_monday = rules.week_start(timezone.localdate())
    for asked in ("9999-12-27", "0001-01-01", "2020-01-06", "nonsense"):
        response = client.get(reverse("sharing:resource", args=[gym.pk]), {"week": asked})
        assert f'data-testid="day-{this_monday.isoformat()}"' in page(response)


def test_a_visitor_who_may_not_book_sees_no_booking_links(client, login, people, gym):
    login(people.street_officer)
    content = page(client.get(reverse("sharing:resource", args=[gym.pk])))
    assert "not open to you for booking" in content and book_url(gym) not in content


def test_a_resource_not_open_to_the_user_is_404(client, login, people, gym, canteen):
    login(people.outsider)
    assert client.get(reverse("sharing:resource", args=[gym.pk])).status_code == 404
    assert client.get(book_url(canteen)).status_code == 404
    login(people.resident)
    assert client.get(reverse("sharing:resource", args=[gym.pk + canteen.pk + 100])).status_code == 404


def test_the_week_queries_do_not_grow_with_bookings(
    client, login, people, gym, reserve, neighbour, django_assert_max_num_queries
):
    login(people.resident)
    with django_assert_max_num_queries(14):
        client.get(reverse("sharing:resource", args=[gym.pk]))
    Resource.objects.filter(pk=gym.pk).update(hours_per_week=None)
    for hour in range(8, 20):
        for person in (people.resident, neighbour):
            reserve(gym, tomorrow(), f"{hour:02}:00", f"{hour + 1:02}:00", by=person, party_size=2)
    with django_assert_max_num_queries(14):
        response = client.get(reverse("sharing:resource", args=[gym.pk]), {"week": tomorrow().isoformat()})
    assert "6 left" in page(response)


# The booking form -------------------------------------------------------------------------------------------


def test_it_prefills_the_form_from_a_slot(client, login, people, gym):
    login(people.resident)
    day = tomorrow()
    content = page(client.get(book_url(gym), {"day": day.isoformat(), "start": "22:00"}))
    assert f'value="{day.isoformat()}"' in content and 'value="22:00"' in content
    assert '<option value="60" selected>23:00</option>' in content
    assert '<option value="120">00:00 (next day)</option>' in content
    assert 'name="party_size"' in content and 'name="plate"' not in content


def test_it_relabels_the_ends_with_htmx(client, login, people, gym):
    login(people.resident)
    response = client.get(
        book_url(gym),
        {"day": tomorrow().isoformat(), "start": "09:00", "end": "120"},
        headers={"HX-Request": "true", "HX-Target": "end-field"},
    )
    content = page(response)
    assert content.startswith('<div id="end-field">')
    assert '<option value="120" selected>11:00</option>' in content


def test_it_offers_no_end_past_closing_time(client, login, people, canteen):
    login(people.resident)
    content = page(client.get(book_url(canteen), {"day": tomorrow().isoformat(), "start": "12:30"}))
    assert '<option value="30" selected>13:00</option>' in content
    assert "13:30" not in content


def test_it_books_and_shows_the_booking(client, login, people, gym):
    login(people.resident)
    response = post_booking(client, gym, tomorrow(), "10:00", 60, party_size="2", note="带孩子")
    booking = Booking.objects.get()
    assert response.status_code == 302 and response.url == reverse("sharing:booking", args=[booking.pk])
    assert (booking.party_size, booking.note, booking.status) == (2, "带孩子", Status.CONFIRMED)
    assert booking.starts_at == at(tomorrow(), "10:00") and booking.ends_at == at(tomorrow(), "11:00")
    shown = client.get(response.url)
    assert "Booked." in messages_of(shown)
    assert "Confirmed" in page(shown)


def test_it_asks_for_the_plate_of_a_car(client, login, people, car_park):
    login(people.resident)
    response = post_booking(client, car_park, tomorrow(), "19:00", 60)
    assert response.status_code == 400
    assert "Give the vehicle plate." in page(response)
    response = post_booking(client, car_park, tomorrow(), "19:00", 13 * 60, plate="川a 12345")
    booking = Booking.objects.get()
    assert booking.plate == "川A12345" and booking.ends_at == at(tomorrow() + rules.DAY, "08:00")
    assert "川A12345" in page(client.get(response.url))


def test_it_books_for_an_organisation_its_staff_act_for(client, login, people, room):
    room.audience_organisations.add(people.agency)
    login(people.provider_staff)
    content = page(client.get(book_url(room)))
    assert "Myself, as a resident" not in content and "青羊社工中心" in content
    response = post_booking(client, room, tomorrow(), "14:00", 120, organisation=str(people.agency.pk))
    assert response.status_code == 302
    booking = Booking.objects.get()
    assert booking.organisation == people.agency and booking.resident is None


@pytest.mark.parametrize(
    ("day_offset", "start", "minutes", "message", "field"),
    [
        (-1, "10:00", 60, "This time has already passed.", "start"),
        (1, "10:00", 180, "The longest booking is 120 minutes.", "end"),
        (1, "10:30", 60, "Times go in steps of 60 minutes.", "start"),
        (30, "10:00", 60, "Bookings open 14 days ahead; this is too far ahead.", "start"),
    ],
)
def test_it_refuses_bad_times_with_the_reason(
    client, login, people, gym, day_offset, start, minutes, message, field
):
    login(people.resident)
    day = timezone.localdate() + day_offset * rules.DAY
    response = post_booking(client, gym, day, start, minutes)
    assert response.status_code == 400
    assert response.context["form"].errors[field] == [message]
    assert message in page(response)
    assert not Booking.objects.exists()


def test_it_refuses_a_time_outside_the_opening_hours(client, login, people, canteen):
    login(people.resident)
    response = post_booking(client, canteen, tomorrow(), "14:00", 30)
    assert response.context["form"].errors["start"] == ["This is outside the opening hours."]
    assert not Booking.objects.exists()


def test_it_refuses_an_overlapping_booking(client, login, people, room, reserve, neighbour):
    reserve(room, tomorrow(), "10:00", "12:00", by=neighbour)
    login(people.resident)
    response = post_booking(client, room, tomorrow(), "11:00", 60)
    assert response.context["form"].errors["start"] == ["This time is already booked."]
    assert Booking.objects.count() == 1


def test_it_refuses_a_booking_over_the_weekly_quota(client, login, people, gym, reserve):
    day = tomorrow()
    # Both in tomorrow's week: the quota counts Monday to Sunday.
    reserve(gym, day, "08:00", "10:00")
    login(people.resident)
    response = post_booking(client, gym, day, "12:00", 120)
    assert response.context["form"].errors["end"] == [
        "This goes over the 3 hours a person may book in a week."
    ]
    assert Booking.objects.count() == 1


def test_a_doubled_submit_books_once(client, login, people, gym):
    login(people.resident)
    token = form_token(client, gym)
    first = post_booking(client, gym, tomorrow(), "10:00", 60, request_token=token)
    second = post_booking(client, gym, tomorrow(), "10:00", 60, request_token=token)
    assert Booking.objects.count() == 1
    assert first.url == second.url == reverse("sharing:booking", args=[Booking.objects.get().pk])


def test_it_books_weekly_and_lists_the_skipped_weeks(client, login, people, room, reserve, neighbour):
    day = tomorrow()
    reserve(room, day + 7 * rules.DAY, "18:00", "19:00", by=neighbour)
    login(people.resident)
    response = post_booking(client, room, day, "18:00", 60, weeks="3", skip_conflicts="on")
    assert response.status_code == 302
    mine = Booking.objects.filter(booked_by=people.resident).order_by("starts_at")
    assert [rules.local_day(b.starts_at) for b in mine] == [day, day + 14 * rules.DAY]
    summary = client.get(response.url)
    skipped = page(summary).split('data-testid="series-skipped"')[1]
    assert (day + 7 * rules.DAY).isoformat() in skipped and "This time is already booked." in skipped
    assert "2 of 3 weeks booked." in page(summary)


def test_a_weekly_booking_with_a_conflict_books_nothing_unless_told_to_skip(
    client, login, people, room, reserve, neighbour
):
    day = tomorrow()
    reserve(room, day + 7 * rules.DAY, "18:00", "19:00", by=neighbour)
    login(people.resident)
    response = post_booking(client, room, day, "18:00", 60, weeks="3")
    assert response.status_code == 400
    assert f"{(day + 7 * rules.DAY).isoformat()} cannot be booked: This time is already booked." in page(
        response
    )
    assert not Booking.objects.filter(booked_by=people.resident).exists()


def test_a_doubled_weekly_submit_books_once(client, login, people, room):
    login(people.resident)
    token = form_token(client, room)
    first = post_booking(client, room, tomorrow(), "18:00", 60, weeks="2", request_token=token)
    second = post_booking(client, room, tomorrow(), "18:00", 60, weeks="2", request_token=token)
    assert Booking.objects.count() == 2
    assert first.url == second.url
    assert client.get(second.url).status_code == 200


# A booking --------------------------------------------------------------------------------------------------


def test_it_shows_a_booking_to_its_booker(client, login, people, canteen, reserve):
    booking = reserve(canteen, tomorrow(), "11:30", "12:00", party_size=2)
    login(people.resident)
    content = page(client.get(reverse("sharing:booking", args=[booking.pk])))
    assert "蜀都银行职工食堂" in content and "Confirmed" in content
    assert "¥24.00, paid on site" in content
    assert f"{tomorrow().isoformat()}" in content and "11:30" in content and "12:00" in content
    assert "scan the code posted at the resource" in content
    assert 'data-testid="cancel-form"' in content


def test_another_persons_booking_is_404(client, login, people, gym, reserve, neighbour):
    booking = reserve(gym, tomorrow(), "10:00", "11:00")
    url = reverse("sharing:booking", args=[booking.pk])
    login(neighbour)
    assert client.get(url).status_code == 404
    assert client.post(reverse("sharing:booking_cancel", args=[booking.pk])).status_code == 404
    login(people.outsider)
    assert client.get(url).status_code == 404
    booking.refresh_from_db()
    assert booking.status == Status.CONFIRMED


def test_the_owner_sees_who_booked_masked(client, login, people, gym, reserve):
    booking = reserve(gym, tomorrow(), "10:00", "11:00")
    login(people.community_worker)
    content = page(client.get(reverse("sharing:booking", args=[booking.pk])))
    assert "张*民" in content and "张居民" not in content
    assert 'name="reason"' in content


def test_the_booker_cancels_before_the_deadline(client, login, people, gym, reserve):
    booking = reserve(gym, tomorrow(), "10:00", "11:00")
    login(people.resident)
    response = client.post(reverse("sharing:booking_cancel", args=[booking.pk]))
    assert response.url == reverse("sharing:booking", args=[booking.pk])
    booking.refresh_from_db()
    assert booking.status == Status.CANCELLED
    shown = client.get(response.url)
    assert "The booking is cancelled." in messages_of(shown)
    assert 'data-testid="cancel-form"' not in page(shown)


def test_it_refuses_to_cancel_after_the_deadline(client, login, people, gym, reserve):
    booking = reserve(gym, tomorrow(), "10:00", "11:00")
    Resource.objects.filter(pk=gym.pk).update(cancel_before_minutes=3 * 24 * 60)
    login(people.resident)
    content = page(client.get(reverse("sharing:booking", args=[booking.pk])))
    assert 'data-testid="cancel-form"' not in content and "it is too late now" in content
    response = client.post(reverse("sharing:booking_cancel", args=[booking.pk]))
    assert messages_of(client.get(response.url)) == [
        "Bookings can be cancelled up to 4320 minutes before the start."
    ]
    booking.refresh_from_db()
    assert booking.status == Status.CONFIRMED


# My bookings ------------------------------------------------------------------------------------------------


def test_it_lists_my_bookings_coming_up_and_past(client, login, people, gym, reserve, neighbour):
    coming = reserve(gym, tomorrow(), "10:00", "11:00")
    yesterday = timezone.localdate() - rules.DAY
    past = reserve(gym, yesterday, "10:00", "11:00", now=at(yesterday, "09:00"))
    theirs = reserve(gym, tomorrow(), "12:00", "13:00", by=neighbour)
    login(people.resident)
    upcoming = page(client.get(reverse("sharing:my_bookings")))
    assert reverse("sharing:booking", args=[coming.pk]) in upcoming
    assert reverse("sharing:booking", args=[past.pk]) not in upcoming
    assert reverse("sharing:booking", args=[theirs.pk]) not in upcoming
    assert "Confirmed" in upcoming
    earlier = page(client.get(reverse("sharing:my_bookings"), {"when": "past"}))
    assert reverse("sharing:booking", args=[past.pk]) in earlier
    assert reverse("sharing:booking", args=[coming.pk]) not in earlier


def test_my_bookings_queries_do_not_grow_with_bookings(
    client, login, people, gym, room, reserve, django_assert_max_num_queries
):
    reserve(gym, tomorrow(), "10:00", "11:00")
    login(people.resident)
    with django_assert_max_num_queries(7):
        client.get(reverse("sharing:my_bookings"))
    for offset in range(2, 12):
        reserve(room, timezone.localdate() + offset * rules.DAY, "10:00", "11:00")
        reserve(room, timezone.localdate() + offset * rules.DAY, "14:00", "15:00")
    with django_assert_max_num_queries(7):
        response = client.get(reverse("sharing:my_bookings"))
    assert page(response).count("<tr>") == 1 + 20


# Checking in by the posted code -----------------------------------------------------------------------------


@pytest.fixture
def booked_now(people, room):
    """The resident's booking of the room for the hour under way, made before it began; nobody is released
    before the hour ends, so check-in is open whenever the test runs."""
    Resource.objects.filter(pk=room.pk).update(release_after_minutes=60)
    room.refresh_from_db()
    start = timezone.localtime().replace(minute=0, second=0, microsecond=0)
    return services.booking_create(
        resource=room,
        by=people.resident,
        starts_at=start,
        ends_at=start + datetime.timedelta(hours=1),
        request_token="now",
        now=start - datetime.timedelta(hours=1),
    )


def test_it_checks_in_by_the_posted_code(client, login, people, room, booked_now):
    login(people.resident)
    url = reverse("sharing:checkin", args=[room.checkin_token])
    shown = page(client.get(url))
    assert "Check in at 清波活动室" in shown and "Check-in is open" in shown
    booked_now.refresh_from_db()
    assert booked_now.status == Status.CONFIRMED
    response = client.post(url)
    assert response.url == reverse("sharing:booking", args=[booked_now.pk])
    booked_now.refresh_from_db()
    assert booked_now.status == Status.CHECKED_IN
    assert "Checked in at" in page(client.get(response.url))


def test_it_says_when_there_is_nothing_to_check_in(client, login, people, room, gym, reserve):
    reserve(room, tomorrow(), "10:00", "11:00")
    login(people.resident)
    response = client.post(reverse("sharing:checkin", args=[room.checkin_token]))
    assert response.status_code == 400
    assert "You have no booking here to check in to now." in page(response)
    assert not Booking.objects.filter(status=Status.CHECKED_IN).exists()


def test_an_unknown_or_replaced_code_is_404(client, login, people, room):
    old = room.checkin_token
    services.checkin_token_renew(resource=room, by=people.community_worker)
    login(people.resident)
    response = client.get(reverse("sharing:checkin", args=[old]))
    assert response.status_code == 404 and "has been replaced" in page(response)
    assert client.post(reverse("sharing:checkin", args=[old])).status_code == 404


def test_the_code_of_a_resource_not_open_to_the_user_is_404(client, login, people, room):
    login(people.outsider)
    assert client.get(reverse("sharing:checkin", args=[room.checkin_token])).status_code == 404


def test_checking_in_needs_a_sign_in(client, room):
    response = client.get(reverse("sharing:checkin", args=[room.checkin_token]))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


# The calendar link page -------------------------------------------------------------------------------------


def test_it_makes_and_revokes_my_calendar_link(client, login, people):
    login(people.resident)
    assert 'data-testid="feed-create"' in page(client.get(reverse("sharing:feeds")))
    client.post(reverse("sharing:feeds"))
    feed = Feed.objects.get(user=people.resident, revoked_at=None)
    content = page(client.get(reverse("sharing:feeds")))
    path = reverse("sharing:feed", args=[feed.token])
    assert f"http://testserver{path}" in content and f"webcal://testserver{path}" in content
    assert client.get(path).status_code == 200
    client.post(reverse("sharing:feed_revoke", args=[feed.pk]))
    assert 'data-testid="feed-create"' in page(client.get(reverse("sharing:feeds")))
    assert client.get(path).status_code == 404


def test_a_new_link_revokes_the_old(client, login, people):
    login(people.resident)
    client.post(reverse("sharing:feeds"))
    old = Feed.objects.get()
    client.post(reverse("sharing:feeds"))
    assert client.get(reverse("sharing:feed", args=[old.token])).status_code == 404
    assert Feed.objects.filter(revoked_at=None).count() == 1


def test_someone_elses_link_cannot_be_revoked(client, login, people, neighbour):
    feed = services.feed_create(by=neighbour)
    login(people.resident)
    assert client.post(reverse("sharing:feed_revoke", args=[feed.pk])).status_code == 404
    feed.refresh_from_db()
    assert feed.revoked_at is None


def test_the_navigation_links_to_sharing(client, login, people):
    login(people.resident)
    content = page(client.get(reverse("sharing:my_bookings")))
    assert f'<a href="{reverse("sharing:resources")}" aria-current="page">Sharing</a>' in content
