"""Calendar feeds (RFC 5545): a person's bookings and a resource's, read back with icalendar. The feed's
secret URL needs no sign-in; revoked or unknown, it is 404."""

import datetime

import icalendar
import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation

from conftest import make_user
from gongzhi.core.models import Resident
from gongzhi.sharing import rules, services
from gongzhi.sharing.feeds import PRODID, mask_plate
from gongzhi.sharing.models import Booking, Status

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    with translation.override("en"):
        yield


def tomorrow() -> datetime.date:
    return timezone.localdate() + rules.DAY


def at(day: datetime.date, time: str) -> datetime.datetime:
    return rules.at(day, datetime.time.fromisoformat(time))


@pytest.fixture
def reserve(people):
    """Books through the service with the real clock (feeds show bookings relative to now)."""
    numbers = iter(range(1, 1000))

    def make(resource, day, start, end, *, by=None, **fields):
        ends_at = at(day, end) if end > start else at(day + rules.DAY, end)
        return services.booking_create(
            resource=resource,
            by=by or people.resident,
            starts_at=at(day, start),
            ends_at=ends_at,
            request_token=f"feed-{next(numbers)}",
            **fields,
        )

    return make


@pytest.fixture
def neighbour(people):
    user = make_user("13800000020", "李奶奶")
    Resident.objects.filter(pk=people.neighbour_record.pk).update(user=user)
    return user


def fetch(client, feed) -> icalendar.Calendar:
    response = client.get(reverse("sharing:feed", args=[feed.token]))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    return icalendar.Calendar.from_ical(response.content)


def events(calendar: icalendar.Calendar) -> dict[str, icalendar.Event]:
    return {str(event["UID"]): event for event in calendar.walk("VEVENT")}


def test_it_serves_a_persons_bookings(client, people, canteen, car_park, hall, reserve, neighbour):
    lunch = reserve(canteen, tomorrow(), "11:30", "12:30", party_size=2)
    night = reserve(car_park, tomorrow(), "19:00", "07:00", plate="川A12345")
    meeting = reserve(hall, tomorrow(), "14:00", "16:00")
    theirs = reserve(canteen, tomorrow(), "12:00", "13:00", by=neighbour)
    feed = services.feed_create(by=people.resident)

    calendar = fetch(client, feed)
    assert str(calendar["VERSION"]) == "2.0" and str(calendar["PRODID"]) == PRODID
    found = events(calendar)
    assert set(found) == {f"booking-{b.pk}@gongzhi" for b in (lunch, night, meeting)}
    assert f"booking-{theirs.pk}@gongzhi" not in found
    event = found[f"booking-{night.pk}@gongzhi"]
    assert (
        event["DTSTART"].to_ical()
        == at(tomorrow(), "19:00").astimezone(datetime.UTC).strftime("%Y%m%dT%H%M%SZ").encode()
    )
    assert event.decoded("DTSTART") == at(tomorrow(), "19:00")
    assert event.decoded("DTSTART").utcoffset() == datetime.timedelta(0)
    assert event.decoded("DTEND") == at(tomorrow() + rules.DAY, "07:00")
    assert str(event["SUMMARY"]) == "蜀都银行停车场" and str(event["LOCATION"]) == "清波路8号地下"
    assert "川A12345" in str(event["DESCRIPTION"])
    assert "DTSTAMP" in event
    assert str(event["URL"]) == f"http://testserver{reverse('sharing:booking', args=[night.pk])}"
    assert str(found[f"booking-{lunch.pk}@gongzhi"]["STATUS"]) == "CONFIRMED"
    assert "¥24.00, paid on site" in str(found[f"booking-{lunch.pk}@gongzhi"]["DESCRIPTION"])
    assert str(found[f"booking-{meeting.pk}@gongzhi"]["STATUS"]) == "TENTATIVE"


def test_the_uids_stay_the_same_from_fetch_to_fetch(client, people, canteen, reserve):
    reserve(canteen, tomorrow(), "11:30", "12:30")
    feed = services.feed_create(by=people.resident)
    first, second = fetch(client, feed), fetch(client, feed)
    assert set(events(first)) == set(events(second))
    assert [e["DTSTAMP"].to_ical() for e in first.walk("VEVENT")] == [
        e["DTSTAMP"].to_ical() for e in second.walk("VEVENT")
    ]


def test_a_released_booking_is_shown_cancelled_and_a_cancelled_one_leaves(client, people, canteen, reserve):
    released = reserve(canteen, tomorrow(), "11:30", "12:00")
    cancelled = reserve(canteen, tomorrow(), "12:00", "12:30")
    Booking.objects.filter(pk=released.pk).update(status=Status.NO_SHOW)
    services.booking_cancel(booking=cancelled, by=people.resident)
    feed = services.feed_create(by=people.resident)
    found = events(fetch(client, feed))
    assert str(found[f"booking-{released.pk}@gongzhi"]["STATUS"]) == "CANCELLED"
    assert f"booking-{cancelled.pk}@gongzhi" not in found


def test_a_resource_feed_shows_no_names_and_only_masked_plates(
    client, people, car_park, canteen, reserve, neighbour
):
    mine = reserve(car_park, tomorrow(), "19:00", "07:00", plate="川A12345")
    theirs = reserve(car_park, tomorrow(), "20:00", "06:00", plate="川B54321", by=neighbour)
    reserve(canteen, tomorrow(), "11:30", "12:00")
    feed = services.feed_create(by=people.work_unit_staff, resource=car_park)
    response = client.get(reverse("sharing:feed", args=[feed.token]))
    text = response.content.decode()
    for secret in ("川A12345", "川B54321", "张居民", "李奶奶", "张*民"):
        assert secret not in text
    found = events(icalendar.Calendar.from_ical(response.content))
    assert set(found) == {f"booking-{mine.pk}@gongzhi", f"booking-{theirs.pk}@gongzhi"}
    assert "川A***45" in str(found[f"booking-{mine.pk}@gongzhi"]["DESCRIPTION"])
    assert str(found[f"booking-{mine.pk}@gongzhi"]["SUMMARY"]) == "蜀都银行停车场"


def test_a_revoked_or_unknown_feed_is_404(client, people, canteen, reserve):
    reserve(canteen, tomorrow(), "11:30", "12:00")
    feed = services.feed_create(by=people.resident)
    url = reverse("sharing:feed", args=[feed.token])
    assert client.get(url).status_code == 200
    services.feed_revoke(feed=feed, by=people.resident)
    assert client.get(url).status_code == 404
    assert client.get(reverse("sharing:feed", args=["no-such-token"])).status_code == 404


def test_it_needs_no_sign_in_and_ignores_who_is_signed_in(client, login, people, canteen, reserve):
    reserve(canteen, tomorrow(), "11:30", "12:00")
    feed = services.feed_create(by=people.resident)
    assert len(events(fetch(client, feed))) == 1
    login(people.outsider)
    assert len(events(fetch(client, feed))) == 1


def test_the_feed_queries_do_not_grow_with_bookings(
    client, people, canteen, reserve, django_assert_max_num_queries
):
    feed = services.feed_create(by=people.resident)
    reserve(canteen, tomorrow(), "11:30", "12:00")
    with django_assert_max_num_queries(3):
        client.get(reverse("sharing:feed", args=[feed.token]))
    for offset in range(2, 12):
        reserve(canteen, timezone.localdate() + offset * rules.DAY, "11:30", "12:00")
    with django_assert_max_num_queries(3):
        response = client.get(reverse("sharing:feed", args=[feed.token]))
    assert len(events(icalendar.Calendar.from_ical(response.content))) == 11


def test_it_masks_a_plate():
    assert mask_plate("川A12345") == "川A***45"
    assert mask_plate("川AD12345") == "川A****45"
    assert mask_plate("京A1") == "***"
