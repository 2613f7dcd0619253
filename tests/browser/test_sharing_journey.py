"""Sharing's whole journey: a work unit lists its canteen and its car park through the owner's form, a
resident on a phone books a parking space for tonight and a canteen seat for lunch, checks in at the canteen
with the link its printed poster encodes, and the unit reads the contribution report and its Excel workbook.

The test runs on the real clock at any hour, so it books the first free times the week grid offers rather
than fixed ones, and what it expects of the report follows from the times it booked."""

import datetime
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import openpyxl
import pytest
from django.utils import timezone
from playwright.sync_api import expect

from gongzhi.sharing import rules
from gongzhi.sharing.models import Booking, Resource

pytestmark = pytest.mark.browser

DESK = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
# A time shown free in the grid must still be ahead when the form reaches the server a moment later.
LEAD = datetime.timedelta(minutes=2)


@pytest.fixture(autouse=True)
def patient_assertions():
    """Assertions wait as long as the page's actions do (conftest: 10 s), not Playwright's 5 s: the pages
    here do real work (a week's grid, a QR code, a year's report, its charts) on a shared, busy machine."""
    expect.set_options(timeout=10_000)
    yield
    expect.set_options(timeout=5_000)


def switch_to(page, sign_in, user, mobile: str, viewport: dict):
    page.context.clear_cookies()
    page.set_viewport_size(viewport)
    sign_in(user, mobile)


def list_resource(page, community, *, every_day: tuple[str, str], **fields):
    """Lists a resource through the owner's form: the same hours filled in for all seven days, then the
    fields given (checkboxes as booleans, selects and inputs as text)."""
    page.goto("/sharing/manage/")
    page.get_by_test_id("list-resource").click()
    form = page.get_by_test_id("resource-form")
    every = form.get_by_test_id("every-day")
    every.locator("input[name=every-opens]").fill(every_day[0])
    every.locator("input[name=every-closes]").fill(every_day[1])
    every.locator("button[name=hours_action]").click()
    expect(form.locator("input[name=hours-6-closes]")).to_have_value(every_day[1])
    form.locator("select[name=region]").select_option(str(community.pk))
    for name, value in fields.items():
        field = form.locator(f"[name={name}]")
        if isinstance(value, bool):
            field.set_checked(value)
        elif field.evaluate("element => element.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
    form.locator("button[type=submit]:not([name=hours_action])").click()
    expect(page.get_by_test_id("opening-hours")).to_contain_text(f"{every_day[0]}–{every_day[1]}")
    return Resource.objects.get(name=fields["name"])


def tap_first_free_time(page) -> datetime.datetime:
    """Taps the first free time in the week grid that starts at least LEAD from now, turning to next week
    when this one has none left (late on a Sunday); returns when it starts."""
    for _week in range(2):
        week = page.get_by_test_id("week")
        slots = week.get_by_test_id("slot")
        hrefs = slots.evaluate_all("links => links.map(link => link.getAttribute('href'))")
        not_before = timezone.now() + LEAD
        for index, href in enumerate(hrefs):
            query = parse_qs(urlsplit(href).query)
            starts_at = rules.at(
                datetime.date.fromisoformat(query["day"][0]), datetime.time.fromisoformat(query["start"][0])
            )
            if starts_at >= not_before:
                slot = slots.nth(index)
                if not slot.is_visible():  # on a phone the days after the first free one are folded
                    slot.locator("xpath=ancestor::details[1]/summary").click()
                slot.click()
                expect(page.get_by_test_id("booking-form")).to_be_visible()
                return starts_at
        label = week.locator(".week-label").inner_text()
        week.locator("a[rel=next]").click()
        expect(page.get_by_test_id("week").locator(".week-label")).not_to_have_text(label)
    raise AssertionError("The grid offers no free time this week or the next.")


def booked_until_tonight(bookings) -> Decimal:
    """The place-hours the report counts for these bookings: it counts up to the end of today."""
    midnight = rules.at(timezone.localdate() + rules.DAY, datetime.time())
    held = sum(
        (max(min(booking.ends_at, midnight) - booking.starts_at, datetime.timedelta()) * booking.party_size
         for booking in bookings),
        datetime.timedelta(),
    )  # fmt: skip
    return Decimal(held.total_seconds()) / 3600


def test_a_work_units_canteen_and_car_park_serve_a_resident(people, page, sign_in, live_server, tmp_path):
    staff, resident = people.work_unit_staff, people.resident

    switch_to(page, sign_in, staff, "13800000010", DESK)
    # The next lunch is always less than a day away, whatever the hour the test runs: opening check-in a
    # day ahead (the form's longest) lets the resident check in on the real clock, through the poster's
    # link, without moving the booking in the database.
    canteen = list_resource(
        page, people.community, every_day=("11:30", "13:00"), kind="canteen", name="蜀都银行职工食堂",
        address="清波路8号蜀都银行一楼", capacity="40", slot_minutes="30", min_minutes="30",
        max_minutes="90", checkin_opens_minutes="1440", price_kind="cash", price_amount="12",
        price_per="booking",
    )  # fmt: skip
    car_park = list_resource(
        page, people.community, every_day=("19:00", "08:00"), kind="parking", name="蜀都银行停车场",
        address="清波路8号蜀都银行地下车库", capacity="20", slot_minutes="60", min_minutes="60",
        max_minutes="780", needs_plate=True, price_kind="free",
    )  # fmt: skip
    assert (car_park.organisation, car_park.capacity, car_park.needs_plate) == (people.work_unit, 20, True)
    assert [(h.opens, h.closes) for h in car_park.hours.all()] == [(datetime.time(19), datetime.time(8))] * 7
    page.goto(f"/sharing/manage/{canteen.pk}/")
    page.locator(f"a[href='/sharing/manage/{canteen.pk}/poster/']").click()
    expect(page.get_by_test_id("poster").locator("img.poster-code")).to_be_visible()
    checkin_link = page.locator(".poster-link").inner_text().strip()
    assert checkin_link == f"{live_server.url}/sharing/checkin/{canteen.checkin_token}/"

    switch_to(page, sign_in, resident, "13800000001", PHONE)
    page.locator("nav.site-nav a[href='/sharing/']").click()
    page.wait_for_url("**/sharing/")  # loaded, so the search box searches as the resident types
    page.get_by_role("searchbox").fill("停车场")
    results = page.get_by_test_id("bookable-resources")
    expect(results.get_by_test_id(f"resource-{canteen.pk}")).to_have_count(0)
    results.get_by_role("link", name="蜀都银行停车场").click()
    # Tonight's first free hour: this evening's 19:00, or the next hour of a night already begun.
    tap_first_free_time(page)
    form = page.get_by_test_id("booking-form")
    form.locator("input[name=plate]").fill("川A12345")
    until = form.locator("select[name=end]")
    until.select_option(until.locator("option").last.get_attribute("value"))  # to the morning
    form.locator("button[type=submit]").click()
    expect(page.get_by_test_id("booking-status")).to_have_class("status status-confirmed")
    parking = Booking.objects.get(resource=car_park)
    assert (parking.status, parking.plate) == ("confirmed", "川A12345")
    assert parking.resident == people.resident_record
    assert timezone.localtime(parking.ends_at).time() == datetime.time(8)

    page.locator("nav.site-nav a[href='/sharing/']").click()
    page.wait_for_url("**/sharing/")
    page.locator("select[name=kind]").select_option("canteen")
    results = page.get_by_test_id("bookable-resources")
    expect(results.get_by_test_id(f"resource-{car_park.pk}")).to_have_count(0)
    results.get_by_role("link", name="蜀都银行职工食堂").click()
    lunch_starts = tap_first_free_time(page)
    page.get_by_test_id("booking-form").locator("button[type=submit]").click()
    expect(page.get_by_test_id("booking-status")).to_have_class("status status-confirmed")
    lunch = Booking.objects.get(resource=canteen)
    assert (lunch.starts_at, lunch.party_size, lunch.price_due) == (lunch_starts, 1, Decimal(12))

    # At the canteen's door the resident scans the poster, which opens its check-in link.
    page.goto(checkin_link)
    lunch_time = f"{timezone.localtime(lunch_starts):%H:%M}"
    expect(page.get_by_test_id("checkin-bookings")).to_contain_text(lunch_time)
    page.get_by_test_id("checkin-button").click()
    expect(page.get_by_test_id("booking-status")).to_have_class("status status-checked_in")
    lunch.refresh_from_db()
    assert (lunch.status, lunch.checked_in_by) == ("checked_in", resident)

    switch_to(page, sign_in, staff, "13800000010", DESK)
    page.locator("nav.site-nav a[href='/sharing/']").click()
    page.locator("nav.subnav a[href='/sharing/report/']").click()
    expect(page.get_by_test_id("report-scope")).to_contain_text("蜀都银行")
    work_unit = f"organisation-{people.work_unit.pk}"
    owner = page.get_by_test_id("report-owners").locator(f"tbody[data-owner={work_unit}]")
    expect(owner.locator("tr[data-kind=canteen]")).to_be_visible()
    expect(owner.locator("tr[data-kind=parking]")).to_be_visible()
    expect(page.locator(".report-chart canvas").first).to_be_visible()
    # The report counts up to the end of today: tonight's parking until midnight (none of it when the test
    # runs in the day's last hour and the first free hour was tomorrow's), lunch and the resident it served
    # only when the lunch is today's.
    booked = booked_until_tonight([parking, lunch])
    served = 1 if rules.local_day(lunch.starts_at) == timezone.localdate() else 0
    summary = page.get_by_test_id("report-summary")
    assert Decimal(summary.locator("[data-figure=booked] strong").inner_text()) == booked
    assert int(summary.locator("[data-figure=residents] strong").inner_text()) == served
    assert Decimal(summary.locator("[data-figure=opened] strong").inner_text()) > 0
    month = f"{timezone.localdate():%Y-%m}"
    this_month = page.get_by_test_id("report-months").locator(f"tr[data-month='{month}']")
    assert Decimal(this_month.locator("td").nth(1).inner_text()) == booked

    with page.expect_download() as download:
        page.get_by_test_id("report-export").click()
    workbook_file = tmp_path / download.value.suggested_filename
    assert workbook_file.suffix == ".xlsx"
    download.value.save_as(workbook_file)
    workbook = openpyxl.load_workbook(workbook_file)
    summary_sheet = workbook.worksheets[0]
    assert summary_sheet["B2"].value == "蜀都银行"
    assert Decimal(str(summary_sheet["B6"].value)) == booked
