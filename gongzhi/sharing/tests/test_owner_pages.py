"""The owner's pages: the resources a user runs with the requests awaiting them, the resource form with its
weekly hours, the desk (the day's bookings, check-in, cancel, approve, decline), closed days, photos, the
check-in poster and the calendar link; and that nobody else reaches any of them."""

import base64
import datetime
import io

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone, translation
from PIL import Image

from gongzhi.core.qr import qr_png
from gongzhi.sharing import rules, services
from gongzhi.sharing.models import Blackout, Booking, Feed, OpeningHours, Photo, Resource, Status
from gongzhi.sharing.tests.conftest import TUESDAY, hours

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def english(client):
    """Messages are matched in English (the msgids), on the pages as in the services."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def gym(people):
    """The work unit's gym, open round the clock, so that bookings can be made relative to the real clock;
    check-in opens an hour ahead."""
    resource = Resource(
        region=people.community,
        organisation=people.work_unit,
        kind="gym",
        name="蜀都银行健身房",
        address="清波路8号三楼",
        capacity=10,
        slot_minutes=30,
        min_minutes=30,
        max_minutes=120,
        checkin_opens_minutes=60,
    )
    return services.resource_save(resource=resource, by=people.work_unit_staff, hours=hours("00:00", "00:00"))


def next_slot() -> datetime.datetime:
    """The next half-hour boundary from now: a booking starting then may be checked in to at once."""
    now = timezone.localtime().replace(second=0, microsecond=0)
    return now + datetime.timedelta(minutes=30 - now.minute % 30)


@pytest.fixture
def gym_booking(people, gym, token):
    start = next_slot()
    return services.booking_create(
        resource=gym,
        by=people.resident,
        starts_at=start,
        ends_at=start + datetime.timedelta(minutes=60),
        request_token=token(),
    )


def resource_data(people, rows=None, **fields) -> dict:
    """The resource form as a work unit's staff member fills it in for a new canteen."""
    rows = rows if rows is not None else [(day, "11:30", "13:00") for day in range(5)]
    data = {
        "owner": f"organisation:{people.work_unit.pk}",
        "kind": "canteen",
        "name": "蜀都银行二食堂",
        "region": people.community.pk,
        "address": "清波路10号",
        "description": "",
        "rules": "请自带餐具",
        "capacity": 30,
        "slot_minutes": 30,
        "min_minutes": 30,
        "max_minutes": 90,
        "book_ahead_days": 7,
        "cancel_before_minutes": 60,
        "buffer_minutes": 0,
        "hours_per_week": "",
        "bookings_at_once": "",
        "no_show_limit": 3,
        "checkin_opens_minutes": 15,
        "release_after_minutes": 15,
        "price_kind": "cash",
        "price_per": "booking",
        "price_amount": "12",
        "is_active": "on",
        "hours-TOTAL_FORMS": len(rows),
        "hours-INITIAL_FORMS": len(rows),
        "hours-MIN_NUM_FORMS": 0,
        "hours-MAX_NUM_FORMS": 28,
    }
    for n, (weekday, opens, closes) in enumerate(rows):
        data.update({f"hours-{n}-weekday": weekday, f"hours-{n}-opens": opens, f"hours-{n}-closes": closes})
    data.update(fields)
    return {name: value for name, value in data.items() if value is not None}


def png_upload(name="hall.png") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


# ---------------------------------------------------------------------------------------------------------
# Who reaches the manage pages
# ---------------------------------------------------------------------------------------------------------


def manage_urls(resource, booking=None, blackout=None) -> list[tuple[str, str]]:
    urls = [
        ("get", reverse("sharing:manage_resource", args=[resource.pk])),
        ("get", reverse("sharing:resource_edit", args=[resource.pk])),
        ("post", reverse("sharing:resource_edit", args=[resource.pk])),
        ("get", reverse("sharing:manage_poster", args=[resource.pk])),
        ("post", reverse("sharing:manage_checkin_renew", args=[resource.pk])),
        ("post", reverse("sharing:manage_blackout_add", args=[resource.pk])),
        ("post", reverse("sharing:manage_photo_add", args=[resource.pk])),
        ("post", reverse("sharing:manage_feed_create", args=[resource.pk])),
    ]
    if blackout is not None:
        urls.append(("post", reverse("sharing:manage_blackout_remove", args=[resource.pk, blackout.pk])))
    if booking is not None:
        urls += [
            ("post", reverse("sharing:manage_booking_decide", args=[booking.pk])),
            ("post", reverse("sharing:manage_booking_cancel", args=[booking.pk])),
            ("post", reverse("sharing:manage_booking_check_in", args=[booking.pk])),
        ]
    return urls


def test_it_hides_every_manage_page_from_a_resident(client, login, people, hall, book):
    booking = book(hall, TUESDAY, "14:00", "16:00")
    blackout = services.blackout_add(
        resource=hall,
        by=people.community_worker,
        first_day=TUESDAY + rules.DAY * 7,
        last_day=TUESDAY + rules.DAY * 7,
    )
    login(people.resident)
    for url in (reverse("sharing:manage"), reverse("sharing:resource_new")):
        assert client.get(url).status_code == 404
    assert client.post(reverse("sharing:resource_new"), resource_data(people)).status_code == 404
    for method, url in manage_urls(hall, booking, blackout):
        assert getattr(client, method)(url, {"decision": "approve", "reason": "x"}).status_code == 404, url
    booking.refresh_from_db()
    assert booking.status == Status.PENDING
    assert Blackout.objects.filter(pk=blackout.pk).exists()


def test_it_hides_a_resource_from_another_organisations_staff(client, login, people, canteen, book):
    booking = book(canteen, TUESDAY, "11:30", "12:00")
    token = canteen.checkin_token
    login(people.provider_staff)
    assert client.get(reverse("sharing:manage")).status_code == 200
    for method, url in manage_urls(canteen, booking):
        assert getattr(client, method)(url, {"reason": "x"}).status_code == 404, url
    canteen.refresh_from_db()
    booking.refresh_from_db()
    assert canteen.checkin_token == token and booking.status == Status.CONFIRMED


def test_it_hides_everything_from_an_outsider(client, login, people, canteen, hall, book):
    booking = book(hall, TUESDAY, "14:00", "16:00")
    login(people.outsider)
    # A community worker next door runs sharing in their own community, and nothing here.
    response = client.get(reverse("sharing:manage"))
    assert not response.context["page"].object_list and not response.context["pending"]
    assert "清波" not in response.content.decode()
    form = client.get(reverse("sharing:resource_new")).context["form"]
    assert people.community not in form.fields["region"].queryset
    for resource in (canteen, hall):
        for method, url in manage_urls(resource, booking if resource == hall else None):
            assert getattr(client, method)(url, {"decision": "approve"}).status_code == 404, url
    booking.refresh_from_db()
    assert booking.status == Status.PENDING


def test_it_lets_a_community_worker_run_the_hall_but_not_the_work_units_canteen(
    client, login, people, canteen, hall
):
    login(people.community_worker)
    assert client.get(reverse("sharing:manage_resource", args=[hall.pk])).status_code == 200
    assert client.get(reverse("sharing:resource_edit", args=[hall.pk])).status_code == 200
    assert client.get(reverse("sharing:resource_edit", args=[canteen.pk])).status_code == 404
    response = client.post(
        reverse("sharing:resource_edit", args=[canteen.pk]), resource_data(people, name="改名")
    )
    assert response.status_code == 404
    canteen.refresh_from_db()
    assert canteen.name == "蜀都银行职工食堂"


def test_it_offers_the_sharing_link_to_those_who_run_or_may_list_resources(client, login, people):
    for person, expected in (
        (people.work_unit_staff, True),
        (people.community_worker, True),
        (people.resident, False),
        (people.street_officer, False),
    ):
        login(person)
        flag = client.get(reverse("sharing:my_bookings")).context["may_run_sharing"]
        assert (flag() if callable(flag) else flag) is expected, person


# ---------------------------------------------------------------------------------------------------------
# The list of resources run, and the requests awaiting a decision
# ---------------------------------------------------------------------------------------------------------


def test_it_lists_the_resources_the_user_runs_with_their_counts(
    client, login, people, gym, hall, gym_booking, book
):
    book(hall, TUESDAY, "14:00", "16:00")
    login(people.work_unit_staff)
    response = client.get(reverse("sharing:manage"))
    page = response.content.decode()
    assert "蜀都银行健身房" in page and "清波议事厅" not in page
    assert reverse("sharing:resource_new") in page
    [row] = response.context["page"].object_list
    assert row.today == (1 if rules.local_day(gym_booking.starts_at) == timezone.localdate() else 0)
    assert row.pending == 0

    login(people.community_worker)
    response = client.get(reverse("sharing:manage"))
    [row] = response.context["page"].object_list
    assert row.name == "清波议事厅" and row.pending == 1
    assert "张居民" in response.content.decode()
    assert len(response.context["pending"]) == 1


def test_the_manage_page_queries_do_not_grow_with_resources_and_requests(
    client, login, people, hall, book, django_assert_max_num_queries
):
    book(hall, TUESDAY, "08:00", "09:00")
    login(people.community_worker)
    with django_assert_max_num_queries(9):
        client.get(reverse("sharing:manage"))
    for n in range(8):
        resource = Resource(
            region=people.compound,
            kind="activity_room",
            name=f"活动室{n}",
            address="清波院落",
            capacity=1,
            needs_approval=True,
            min_minutes=60,
        )
        services.resource_save(resource=resource, by=people.community_worker, hours=hours("08:00", "21:00"))
        services.booking_create(
            resource=resource,
            by=people.resident,
            starts_at=rules.at(TUESDAY, datetime.time(10)),
            ends_at=rules.at(TUESDAY, datetime.time(11)),
            request_token=f"room{n}",
            now=rules.at(datetime.date(2026, 11, 30), datetime.time(9)),
        )
    with django_assert_max_num_queries(9):
        response = client.get(reverse("sharing:manage"))
    assert len(response.context["page"].object_list) == 9
    assert len(response.context["pending"]) == 9


# ---------------------------------------------------------------------------------------------------------
# Listing a resource and changing it
# ---------------------------------------------------------------------------------------------------------


def test_it_lists_a_work_units_resource_with_its_hours_and_audience(client, login, people):
    login(people.work_unit_staff)
    response = client.get(reverse("sharing:resource_new"))
    assert response.status_code == 200
    assert "runs past midnight" in response.content.decode()
    data = resource_data(
        people,
        rows=[(0, "11:30", "13:00"), (0, "17:30", "19:00"), (5, "19:00", "08:00")],
        audience_regions=[people.compound.pk],
        audience_organisations=[people.agency.pk],
    )
    response = client.post(reverse("sharing:resource_new"), data)
    resource = Resource.objects.get(name="蜀都银行二食堂")
    assert response.status_code == 302
    assert response["Location"] == reverse("sharing:manage_resource", args=[resource.pk])
    assert resource.organisation == people.work_unit and resource.community == people.community
    assert resource.price_amount == 12 and resource.created_by == people.work_unit_staff
    assert [(h.weekday, f"{h.opens:%H:%M}", f"{h.closes:%H:%M}") for h in resource.hours.all()] == [
        (0, "11:30", "13:00"),
        (0, "17:30", "19:00"),
        (5, "19:00", "08:00"),
    ]
    assert list(resource.audience_regions.all()) == [people.compound]
    assert list(resource.audience_organisations.all()) == [people.agency]


def test_it_lists_the_communitys_own_resource(client, login, people):
    login(people.community_worker)
    data = resource_data(
        people,
        owner=f"community:{people.community.pk}",
        kind="hall",
        name="清波小会议室",
        region=people.compound.pk,
        capacity=1,
        price_kind="free",
        price_amount="",
        needs_approval="on",
    )
    response = client.post(reverse("sharing:resource_new"), data)
    assert response.status_code == 302
    room = Resource.objects.get(name="清波小会议室")
    assert room.organisation is None and room.community == people.community and room.needs_approval


def test_it_offers_only_the_owners_the_user_acts_for(client, login, people):
    login(people.work_unit_staff)
    form = client.get(reverse("sharing:resource_new")).context["form"]
    assert [value for value, _label in form.fields["owner"].choices] == [
        f"organisation:{people.work_unit.pk}"
    ]
    assert people.other_community not in form.fields["region"].queryset
    data = resource_data(people, owner=f"community:{people.community.pk}")
    response = client.post(reverse("sharing:resource_new"), data)
    assert response.status_code == 400
    assert "owner" in response.context["form"].errors
    assert not Resource.objects.exists()


def test_it_refuses_a_place_outside_the_community_chosen(client, login, people):
    login(people.community_worker)
    data = resource_data(people, owner=f"community:{people.community.pk}", region=people.sibling_community.pk)
    response = client.post(reverse("sharing:resource_new"), data)
    assert response.status_code == 400
    assert "region" in response.context["form"].errors
    assert not Resource.objects.exists()


@pytest.mark.parametrize(
    "fields, field, message",
    [
        ({"min_minutes": 120, "max_minutes": 60}, "max_minutes", "cannot be shorter than the shortest"),
        ({"min_minutes": 20}, "min_minutes", "at least one slot"),
        ({"max_minutes": 75}, "max_minutes", "multiple of the slot"),
        ({"price_amount": ""}, "price_amount", "Give the price, or make it free."),
        ({"price_kind": "points", "price_amount": "2.5"}, "price_amount", "Points are whole numbers."),
        ({"capacity": 0}, "capacity", "greater than or equal to 1"),
        ({"slot_minutes": 2000}, "slot_minutes", "less than or equal to 1440"),
        ({"name": ""}, "name", "required"),
    ],
)
def test_it_refuses_a_bad_resource_and_saves_nothing(client, login, people, fields, field, message):
    login(people.work_unit_staff)
    response = client.post(reverse("sharing:resource_new"), resource_data(people, **fields))
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert message in " ".join(errors.get(field, [])), errors
    assert not Resource.objects.exists()


@pytest.mark.parametrize(
    "rows, message",
    [
        ([(0, "11:30", "")], "Give both the opening and the closing time"),
        ([(0, "25:00", "13:00")], "Enter a valid time"),
        ([(0, "11:30", "13:00"), (0, "11:30", "14:00")], "Two periods start at the same time on Monday"),
        ([(0, "", "")], "Give at least one opening period"),
        ([(9, "11:30", "13:00")], "Select a valid choice"),
    ],
)
def test_it_refuses_bad_hours_rows_and_saves_nothing(client, login, people, rows, message):
    login(people.work_unit_staff)
    response = client.post(reverse("sharing:resource_new"), resource_data(people, rows=rows))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Resource.objects.exists() and not OpeningHours.objects.exists()


def test_it_fills_the_same_hours_every_day_without_saving(client, login, people):
    login(people.work_unit_staff)
    data = resource_data(
        people,
        rows=[(0, "11:30", "13:00")],
        **{"hours_action": "every_day", "every-opens": "19:00", "every-closes": "08:00"},
    )
    response = client.post(reverse("sharing:resource_new"), data, **HTMX)
    assert response.status_code == 200
    rows = response.context["hours"]
    assert [row.initial for row in rows] == [
        {"weekday": day, "opens": datetime.time(19), "closes": datetime.time(8)} for day in range(7)
    ]
    # The rest of the form keeps what was typed, and complains about nothing yet.
    form = response.context["form"]
    assert not form.is_bound and form.initial["name"] == "蜀都银行二食堂"
    assert not Resource.objects.exists()


def test_it_asks_for_both_times_of_the_every_day_shortcut(client, login, people):
    login(people.work_unit_staff)
    data = resource_data(people, **{"hours_action": "every_day", "every-opens": "19:00", "every-closes": ""})
    response = client.post(reverse("sharing:resource_new"), data)
    assert "Give the opening and the closing time." in response.content.decode()
    assert len(response.context["hours"].forms) == 5


def test_it_adds_an_hours_row_for_the_next_day(client, login, people):
    login(people.work_unit_staff)
    data = resource_data(people, rows=[(2, "08:00", "12:00")], hours_action="add_row")
    response = client.post(reverse("sharing:resource_new"), data, **HTMX)
    assert [row.initial["weekday"] for row in response.context["hours"]] == ["2", 3]
    assert not Resource.objects.exists()


def test_it_changes_a_resource_and_its_hours(client, login, people, canteen):
    login(people.work_unit_staff)
    form = client.get(reverse("sharing:resource_edit", args=[canteen.pk])).context["form"]
    assert form.initial["owner"] == f"organisation:{people.work_unit.pk}"
    data = resource_data(people, name="蜀都银行职工食堂（新）", rows=[(6, "11:00", "13:30")], capacity=50)
    response = client.post(reverse("sharing:resource_edit", args=[canteen.pk]), data)
    assert response.status_code == 302
    canteen.refresh_from_db()
    assert canteen.name == "蜀都银行职工食堂（新）" and canteen.capacity == 50
    assert [(h.weekday, h.opens) for h in canteen.hours.all()] == [(6, datetime.time(11))]


def test_it_shows_the_services_refusal_on_the_field(client, login, people, hall, book):
    book(hall, TUESDAY, "14:00", "16:00")
    login(people.community_worker)
    data = resource_data(
        people,
        owner=f"community:{people.community.pk}",
        kind="hall",
        name="清波议事厅",
        capacity=5,
        min_minutes=60,
        max_minutes=240,
        price_kind="free",
    )
    response = client.post(reverse("sharing:resource_edit", args=[hall.pk]), data)
    assert response.status_code == 400
    assert "exclusive and pooled use cannot be switched" in " ".join(
        response.context["form"].errors["capacity"]
    )
    # The heading shows the resource as it is, not as the refused change would have it.
    hall.refresh_from_db()
    assert hall.capacity == 1 and response.context["resource"].capacity == 1


# ---------------------------------------------------------------------------------------------------------
# The desk
# ---------------------------------------------------------------------------------------------------------


def test_the_desk_shows_a_days_bookings_with_the_booker_and_plate(client, login, people, car_park, book):
    book(car_park, TUESDAY, "19:00", "07:00", plate="川A12345")
    login(people.work_unit_staff)
    response = client.get(reverse("sharing:manage_resource", args=[car_park.pk]), {"day": "2026-12-01"})
    page = response.content.decode()
    assert "张居民" in page and "川A12345" in page
    assert "19:00–07:00" in page and "(next day)" in page
    other_day = client.get(reverse("sharing:manage_resource", args=[car_park.pk]), {"day": "2026-12-03"})
    assert "川A12345" not in other_day.content.decode()


def test_the_desk_falls_back_to_today_for_a_nonsense_day(client, login, people, canteen):
    login(people.work_unit_staff)
    response = client.get(reverse("sharing:manage_resource", args=[canteen.pk]), {"day": "2026-13-45"})
    assert response.status_code == 200 and response.context["day"] == timezone.localdate()


def test_the_desk_queries_do_not_grow_with_bookings(
    client, login, people, canteen, book, django_assert_max_num_queries
):
    url = reverse("sharing:manage_resource", args=[canteen.pk])
    book(canteen, TUESDAY, "11:30", "12:00")
    login(people.work_unit_staff)
    with django_assert_max_num_queries(14):
        client.get(url, {"day": "2026-12-01"})
    for n in range(10):
        book(canteen, TUESDAY, "12:00", "12:30", party_size=n % 3 + 1)
    with django_assert_max_num_queries(14):
        response = client.get(url, {"day": "2026-12-01"})
    assert len(response.context["bookings"]) == 11


def test_staff_check_a_booker_in(client, login, people, gym, gym_booking):
    login(people.work_unit_staff)
    response = client.post(
        reverse("sharing:manage_booking_check_in", args=[gym_booking.pk]), {"from": "desk"}, **HTMX
    )
    assert response.status_code == 200
    assert "张居民 is checked in." in response.content.decode()
    gym_booking.refresh_from_db()
    assert gym_booking.status == Status.CHECKED_IN and gym_booking.checked_in_by == people.work_unit_staff


def test_it_tells_why_a_check_in_is_refused(client, login, people, canteen, book):
    booking = book(canteen, TUESDAY, "11:30", "12:00")
    login(people.work_unit_staff)
    response = client.post(reverse("sharing:manage_booking_check_in", args=[booking.pk]), {"from": "desk"})
    assert response.status_code == 302
    assert response["Location"].endswith("?day=2026-12-01")
    assert "Check-in opens at 11:15." in client.get(response["Location"]).content.decode()
    booking.refresh_from_db()
    assert booking.status == Status.CONFIRMED


def test_staff_cancel_a_booking_with_a_reason(client, login, people, canteen, book):
    booking = book(canteen, TUESDAY, "11:30", "12:00")
    login(people.work_unit_staff)
    url = reverse("sharing:manage_booking_cancel", args=[booking.pk])
    response = client.post(url, {"reason": "", "from": "desk"}, **HTMX)
    assert "Tell the booker why the booking is cancelled." in response.content.decode()
    booking.refresh_from_db()
    assert booking.status == Status.CONFIRMED
    response = client.post(url, {"reason": "食堂检修", "from": "desk"}, **HTMX)
    assert "Cancelled: 张居民 is told why." in response.content.decode()
    booking.refresh_from_db()
    assert booking.status == Status.CANCELLED and booking.reason == "食堂检修"


def test_the_owner_approves_a_request_once(client, login, people, hall, book):
    booking = book(hall, TUESDAY, "14:00", "16:00")
    login(people.community_worker)
    url = reverse("sharing:manage_booking_decide", args=[booking.pk])
    response = client.post(url, {"decision": "approve"})
    assert response.status_code == 302 and response["Location"] == reverse("sharing:manage")
    booking.refresh_from_db()
    assert booking.status == Status.CONFIRMED and booking.decided_by == people.community_worker
    response = client.post(url, {"decision": "approve"}, **HTMX)
    assert "This request has already been decided." in response.content.decode()
    response = client.post(url, {"decision": "decline", "reason": "太晚了"}, **HTMX)
    assert "This request has already been decided." in response.content.decode()
    booking.refresh_from_db()
    assert booking.status == Status.CONFIRMED


def test_the_owner_declines_only_with_a_reason(client, login, people, hall, book):
    booking = book(hall, TUESDAY, "14:00", "16:00")
    login(people.community_worker)
    url = reverse("sharing:manage_booking_decide", args=[booking.pk])
    response = client.post(url, {"decision": "decline", "reason": "  "}, **HTMX)
    assert "Tell the booker why the request is declined." in response.content.decode()
    booking.refresh_from_db()
    assert booking.status == Status.PENDING
    response = client.post(url, {"decision": "decline", "reason": "当天有会"}, follow=True)
    assert "Declined: 张居民 is told why." in response.content.decode()
    booking.refresh_from_db()
    assert booking.status == Status.DECLINED and booking.reason == "当天有会"


def test_the_desk_lists_requests_on_other_days_apart(client, login, people, hall, book):
    book(hall, TUESDAY, "14:00", "16:00")
    login(people.community_worker)
    today = client.get(reverse("sharing:manage_resource", args=[hall.pk]), {"day": "2026-11-30"})
    assert len(today.context["pending"]) == 1 and not today.context["bookings"]
    tuesday = client.get(reverse("sharing:manage_resource", args=[hall.pk]), {"day": "2026-12-01"})
    assert not tuesday.context["pending"] and len(tuesday.context["bookings"]) == 1


# ---------------------------------------------------------------------------------------------------------
# Closed days, photos, the poster, the calendar link
# ---------------------------------------------------------------------------------------------------------


def test_it_closes_days_and_cancels_their_bookings(client, login, people, canteen, book):
    booking = book(canteen, TUESDAY, "11:30", "12:00")
    login(people.work_unit_staff)
    desk = client.get(reverse("sharing:manage_resource", args=[canteen.pk])).content.decode()
    assert "Bookings on these days are cancelled at once" in desk
    response = client.post(
        reverse("sharing:manage_blackout_add", args=[canteen.pk]),
        {"first_day": "2026-12-01", "last_day": "2026-12-02", "reason": "设备检修"},
    )
    assert response.status_code == 302
    booking.refresh_from_db()
    assert booking.status == Status.CANCELLED and booking.reason == "设备检修"
    blackout = Blackout.objects.get(resource=canteen)
    client.post(reverse("sharing:manage_blackout_remove", args=[canteen.pk, blackout.pk]))
    assert not Blackout.objects.exists()


def test_it_refuses_closed_days_in_the_wrong_order(client, login, people, canteen, book):
    booking = book(canteen, TUESDAY, "11:30", "12:00")
    login(people.work_unit_staff)
    response = client.post(
        reverse("sharing:manage_blackout_add", args=[canteen.pk]),
        {"first_day": "2026-12-02", "last_day": "2026-12-01"},
    )
    assert response.status_code == 400
    assert "The last day cannot be before the first." in response.content.decode()
    assert not Blackout.objects.exists()
    booking.refresh_from_db()
    assert booking.status == Status.CONFIRMED


def test_it_cannot_remove_another_resources_closed_days(client, login, people, canteen, hall):
    blackout = services.blackout_add(
        resource=hall, by=people.community_worker, first_day=TUESDAY, last_day=TUESDAY
    )
    login(people.work_unit_staff)
    response = client.post(reverse("sharing:manage_blackout_remove", args=[canteen.pk, blackout.pk]))
    assert response.status_code == 404
    assert Blackout.objects.filter(pk=blackout.pk).exists()


def test_it_adds_a_photo_and_refuses_what_is_not_one(client, login, people, hall, media_root):
    login(people.community_worker)
    url = reverse("sharing:manage_photo_add", args=[hall.pk])
    assert client.post(url, {"photo": png_upload()}).status_code == 302
    assert Photo.objects.filter(resource=hall).count() == 1
    fake = SimpleUploadedFile("hall.png", b"not a picture", content_type="image/png")
    response = client.post(url, {"photo": fake})
    assert response.status_code == 400
    assert "Upload a JPEG, PNG or WebP photo." in response.content.decode()
    assert Photo.objects.filter(resource=hall).count() == 1


def test_the_poster_carries_the_check_in_link_until_renewed(client, login, people, canteen):
    login(people.work_unit_staff)
    old = canteen.checkin_token
    poster = client.get(reverse("sharing:manage_poster", args=[canteen.pk])).content.decode()
    link = "http://testserver" + reverse("sharing:checkin", args=[old])
    assert link in poster
    assert f'src="data:image/png;base64,{base64.b64encode(qr_png(link, scale=12)).decode()}"' in poster
    response = client.post(reverse("sharing:manage_checkin_renew", args=[canteen.pk]), follow=True)
    canteen.refresh_from_db()
    assert canteen.checkin_token != old
    page = response.content.decode()
    assert reverse("sharing:checkin", args=[canteen.checkin_token]) in page and old not in page


def test_it_makes_and_revokes_the_resources_calendar_link(client, login, people, canteen):
    login(people.work_unit_staff)
    desk = reverse("sharing:manage_resource", args=[canteen.pk])
    client.post(reverse("sharing:manage_feed_create", args=[canteen.pk]))
    feed = Feed.objects.get(resource=canteen, revoked_at=None)
    page = client.get(desk).content.decode()
    assert f"http://testserver/sharing/feeds/{feed.token}.ics" in page
    client.post(reverse("sharing:manage_feed_revoke", args=[canteen.pk, feed.pk]))
    feed.refresh_from_db()
    assert feed.revoked_at is not None
    assert feed.token not in client.get(desk).content.decode()


def test_it_keeps_the_booking_list_of_the_desk_to_the_resource(
    client, login, people, canteen, car_park, book
):
    book(car_park, TUESDAY, "19:00", "07:00", plate="川A12345")
    login(people.work_unit_staff)
    response = client.get(reverse("sharing:manage_resource", args=[canteen.pk]), {"day": "2026-12-01"})
    assert not response.context["bookings"]
    assert Booking.objects.count() == 1
