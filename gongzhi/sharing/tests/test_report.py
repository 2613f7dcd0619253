"""The contribution report: hours opened and booked worked out by hand, the month a night's hours fall in,
who counts as served, the ranking of units, scoping, the page, its workbook, and a cost that does not grow.

Bookings in the past are written directly: the services refuse a time that has already passed."""

import datetime
import io
import itertools
import json
import re
from decimal import Decimal

import openpyxl
import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from conftest import make_user
from gongzhi.core.models import AuditEvent, Organisation, RoleAssignment
from gongzhi.sharing import reports, rules, services
from gongzhi.sharing.models import Blackout, Booking, Resource, Status
from gongzhi.sharing.tests.conftest import NOW, TUESDAY, at, hours

AFTER_2025 = rules.at(datetime.date(2026, 1, 10), datetime.time(9))
JUNE = 5  # month indexes
JANUARY, FEBRUARY = 0, 1
keys = itertools.count(1)


@pytest.fixture(autouse=True)
def english(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    with translation.override("en"):
        yield


def listed_since(resource: Resource, day: datetime.date) -> Resource:
    Resource.objects.filter(pk=resource.pk).update(created_at=rules.at(day, datetime.time()))
    resource.refresh_from_db()
    return resource


def held(resource, start, end, *, by, status=Status.CHECKED_IN, resident=None, organisation=None, places=1):
    """A booking as the services would have left it, written directly because its time has passed."""
    return Booking.objects.create(
        resource=resource,
        booked_by=by,
        resident=resident,
        organisation=organisation,
        starts_at=start,
        ends_at=end,
        blocked_until=end,
        release_at=start + datetime.timedelta(minutes=15),
        exclusive=resource.is_exclusive,
        party_size=places,
        status=status,
        checked_in_at=start if status == Status.CHECKED_IN else None,
        request_key=f"held-{next(keys)}",
    )


def report_2025(people, **scope):
    return reports.contribution_report(**(scope or {"region": people.street}), year=2025, now=AFTER_2025)


def line(report, resource) -> reports.Line:
    return next(
        line
        for line in report.lines
        if line.kind == resource.kind and line.owner.organisation_id == resource.organisation_id
    )


# ------------------------------------------------------------------------------------------ hours opened


def test_it_counts_a_canteen_open_at_lunch_as_seats_times_hours(people, canteen):
    listed_since(canteen, datetime.date(2024, 1, 1))
    report = report_2025(people)
    assert line(report, canteen).months[JUNE].opened == Decimal(1800)  # 1.5 h × 30 days × 40 seats
    assert line(report, canteen).total.opened == Decimal("21900")  # × 365 days
    assert report.counted_until == datetime.date(2025, 12, 31)


def test_a_blackout_day_removes_that_day(people, canteen):
    listed_since(canteen, datetime.date(2024, 1, 1))
    Blackout.objects.create(
        resource=canteen, first_day=datetime.date(2025, 6, 10), last_day=datetime.date(2025, 6, 10)
    )
    assert line(report_2025(people), canteen).months[JUNE].opened == Decimal(1740)  # 29 days


def test_a_night_car_park_counts_13_hours_on_each_day_they_fall_on(people, car_park):
    listed_since(car_park, datetime.date(2024, 1, 1))
    months = line(report_2025(people), car_park).months
    # 1 January has the end of 31 December's night (00:00-08:00) and the start of its own (19:00-24:00).
    assert months[JANUARY].opened == Decimal(31 * 13 * 20)
    assert months[FEBRUARY].opened == Decimal(28 * 13 * 20)


def test_a_blackout_day_takes_the_morning_of_one_night_and_the_evening_of_the_next(people, car_park):
    listed_since(car_park, datetime.date(2024, 1, 1))
    Blackout.objects.create(
        resource=car_park, first_day=datetime.date(2025, 2, 10), last_day=datetime.date(2025, 2, 10)
    )
    assert line(report_2025(people), car_park).months[FEBRUARY].opened == Decimal(27 * 13 * 20)


def test_it_counts_from_the_day_the_resource_was_listed(people, canteen):
    listed_since(canteen, datetime.date(2025, 6, 16))
    months = line(report_2025(people), canteen).months
    assert months[JUNE - 1].opened == 0
    assert months[JUNE].opened == Decimal(15 * 60)


def test_this_year_counts_until_the_end_of_today(people, canteen):
    listed_since(canteen, datetime.date(2026, 1, 1))
    report = reports.contribution_report(
        region=people.street, year=2026, now=rules.at(datetime.date(2026, 6, 15), datetime.time(10))
    )
    assert line(report, canteen).months[JUNE].opened == Decimal(15 * 60)
    assert line(report, canteen).months[JUNE + 1].opened == 0
    assert report.counted_until == datetime.date(2026, 6, 15)


def test_a_year_not_yet_begun_counts_nothing(people, canteen):
    report = reports.contribution_report(region=people.street, year=2027, now=NOW)
    assert report.total.opened == 0 and report.counted_until is None


def test_an_unlisted_resource_opens_no_hours_but_its_bookings_count(people, canteen):
    listed_since(canteen, datetime.date(2024, 1, 1))
    held(
        canteen,
        at(datetime.date(2025, 6, 2), "11:30"),
        at(datetime.date(2025, 6, 2), "12:30"),
        by=people.resident,
        resident=people.resident_record,
    )
    Resource.objects.filter(pk=canteen.pk).update(is_active=False)
    figures = line(report_2025(people), canteen).total
    assert figures.opened == 0 and figures.booked == 1 and figures.utilisation is None


def test_a_nights_hours_fall_on_the_two_days_it_spans():
    friday_night = hours("19:00", "08:00", days=[4])
    pattern = reports.weekly_pattern(friday_night)
    assert pattern[4] == [(19 * 3600, 24 * 3600)] and pattern[5] == [(0, 8 * 3600)]
    assert pattern[0] == []


def test_overlapping_periods_count_once():
    pattern = reports.weekly_pattern([*hours("08:00", "12:00", days=[0]), *hours("11:00", "13:00", days=[0])])
    assert pattern[0] == [(8 * 3600, 13 * 3600)]


def test_open_seconds_start_at_the_listing_and_skip_blackout_days():
    pattern = reports.weekly_pattern(hours("19:00", "08:00"))
    start = at(datetime.date(2025, 3, 1), "06:00")  # listed at dawn: two hours of the night are left
    end = rules.at(datetime.date(2025, 3, 4), datetime.time())
    days = dict(reports.open_seconds(pattern, {datetime.date(2025, 3, 2)}, start, end))
    assert days == {datetime.date(2025, 3, 1): 7 * 3600, datetime.date(2025, 3, 3): 13 * 3600}


# ------------------------------------------------------------------------------------------ hours booked


def test_a_night_booked_from_the_31st_to_the_1st_counts_in_both_months(people, car_park):
    listed_since(car_park, datetime.date(2024, 1, 1))
    held(
        car_park,
        at(datetime.date(2025, 1, 31), "19:00"),
        at(datetime.date(2025, 2, 1), "08:00"),
        by=people.resident,
        resident=people.resident_record,
    )
    months = line(report_2025(people), car_park).months
    assert (months[JANUARY].booked, months[FEBRUARY].booked) == (5, 8)


def test_it_counts_only_bookings_that_held_their_places(people, canteen):
    listed_since(canteen, datetime.date(2024, 1, 1))
    day = datetime.date(2025, 6, 3)
    for status in Status.values:
        held(
            canteen,
            at(day, "11:30"),
            at(day, "12:00"),
            by=people.resident,
            resident=people.resident_record,
            status=status,
            places=2,
        )
    figures = line(report_2025(people), canteen).months[JUNE]
    # Confirmed, checked in and no-show: 3 × half an hour × 2 seats. Pending, cancelled, declined: nothing.
    assert figures.booked == 3
    assert figures.utilisation == Decimal("0.2")  # 3 / 1,800 place-hours


def test_bookings_of_one_slot_add_up_their_places(people, canteen):
    listed_since(canteen, datetime.date(2024, 1, 1))
    day = datetime.date(2025, 6, 3)
    for places in (1, 3, 4):
        held(
            canteen,
            at(day, "12:00"),
            at(day, "13:00"),
            by=people.resident,
            resident=people.resident_record,
            places=places,
        )
    assert line(report_2025(people), canteen).months[JUNE].booked == 8


# ---------------------------------------------------------------------------------------------- served


def test_it_counts_distinct_residents_and_organisations_served(people, canteen, hall):
    for resource in (canteen, hall):
        listed_since(resource, datetime.date(2024, 1, 1))
    june, july = datetime.date(2025, 6, 3), datetime.date(2025, 7, 3)
    me, neighbour, stranger = people.resident_record, people.neighbour_record, people.other_resident_record
    held(canteen, at(june, "11:30"), at(june, "12:00"), by=people.resident, resident=me)
    held(
        canteen, at(june + rules.DAY, "11:30"), at(june + rules.DAY, "12:00"), by=people.resident, resident=me
    )
    held(canteen, at(july, "11:30"), at(july, "12:00"), by=people.resident, resident=me)
    held(
        canteen,
        at(june, "12:00"),
        at(june, "12:30"),
        by=people.admin,
        resident=neighbour,
        status=Status.CONFIRMED,
    )
    held(
        canteen,
        at(june, "12:30"),
        at(june, "13:00"),
        by=people.admin,
        resident=stranger,
        status=Status.NO_SHOW,
    )
    held(hall, at(june, "14:00"), at(june, "16:00"), by=people.provider_staff, organisation=people.agency)
    report = report_2025(people)
    canteen_line = line(report, canteen)
    assert (canteen_line.months[JUNE].residents, canteen_line.months[JUNE + 1].residents) == (2, 1)
    assert canteen_line.total.residents == 2  # the same resident in June and July counts once
    assert line(report, hall).total.organisations == 1
    assert (report.total.residents, report.total.organisations) == (2, 1)


def test_a_confirmed_booking_serves_only_once_it_is_over(people, canteen, book):
    services.resource_save(resource=canteen, by=people.work_unit_staff, hours=hours("00:00", "00:00"))
    listed_since(canteen, datetime.date(2026, 1, 1))
    book(canteen, TUESDAY, "11:30", "12:00")
    during = reports.contribution_report(region=people.street, year=2026, now=at(TUESDAY, "11:45"))
    after = reports.contribution_report(region=people.street, year=2026, now=at(TUESDAY, "12:00"))
    assert during.total.booked == after.total.booked == Decimal("0.5")
    assert (during.total.residents, after.total.residents) == (0, 1)


# ------------------------------------------------------------------------------------- owners and ranks


def test_the_community_opens_its_own_resources_as_an_owner(people, canteen, hall):
    report = report_2025(people)
    owners = [owner.owner for owner in report.owners]
    assert [owner.name for owner in owners] == ["清波社区 (the community)", "蜀都银行"]
    assert owners[0].is_community and owners[1].organisation_id == people.work_unit.pk
    assert [kind.kind for kind in report.kinds] == ["canteen", "hall"]


def test_it_ranks_units_by_hours_opened_and_by_residents_served(people, canteen, hall):
    listed_since(canteen, datetime.date(2024, 1, 1))
    listed_since(hall, datetime.date(2024, 1, 1))
    gym_owner = Organisation.objects.create(name="清波体育馆", kind="work_unit", region=people.community)
    gym_staff = make_user("13800000099", "体育馆职员")
    RoleAssignment.objects.create(user=gym_staff, role="work_unit_staff", organisation=gym_owner)
    gym = services.resource_save(
        resource=Resource(
            region=people.community,
            organisation=gym_owner,
            kind="gym",
            name="体育馆",
            address="清波路",
            capacity=10,
        ),
        by=gym_staff,
        hours=hours("09:00", "21:00"),
    )
    listed_since(gym, datetime.date(2024, 1, 1))
    day = datetime.date(2025, 6, 3)
    held(canteen, at(day, "11:30"), at(day, "12:00"), by=people.resident, resident=people.resident_record)
    report = report_2025(people)
    # The gym: 12 h × 10 places a day, 120; the canteen: 1.5 h × 40 seats, 60. The hall is the community's.
    assert [(r.rank, r.owner.name) for r in report.by_opened] == [(1, "清波体育馆"), (2, "蜀都银行")]
    assert [(r.rank, r.owner.name, r.value) for r in report.by_residents] == [
        (1, "蜀都银行", 1),
        (2, "清波体育馆", 0),
    ]


def test_an_organisation_report_holds_only_its_own_resources(people, canteen, hall):
    report = report_2025(people, organisation=people.work_unit)
    assert [owner.owner.name for owner in report.owners] == ["蜀都银行"]


# ---------------------------------------------------------------------------------------------- scoping


LAST_YEAR = timezone.localdate().year - 1


def page(client, **params):
    return client.get(reverse("sharing:report"), {"year": LAST_YEAR, **params})


@pytest.fixture
def last_year(people, canteen, car_park, hall):
    """Last year's whole history: the canteen and car park listed all year, one lunch and one night used."""
    for resource in (canteen, car_park, hall):
        listed_since(resource, datetime.date(LAST_YEAR, 1, 1))
    day = datetime.date(LAST_YEAR, 3, 10)
    held(
        canteen,
        at(day, "11:30"),
        at(day, "12:30"),
        by=people.resident,
        resident=people.resident_record,
        places=2,
    )
    held(
        car_park,
        at(day, "19:00"),
        at(day + rules.DAY, "07:00"),
        by=people.resident,
        resident=people.resident_record,
    )
    return day


def test_the_street_officer_reads_the_street_report(people, login, last_year):
    response = page(login(people.street_officer), scope=f"region-{people.street.pk}")
    assert response.status_code == 200
    html = response.text
    assert 'data-figure="residents"><h3>Residents served</h3><p><strong>1</strong>' in html
    march = re.search(r'<tr data-month="\d{4}-03">(.*?)</tr>', html, re.S).group(1)
    assert ">14<" in march  # 2 seats × 1 h and 12 h of parking
    assert f'data-owner="organisation-{people.work_unit.pk}"' in html
    assert f"scope=region-{people.community.pk}" in html  # drills down to the community


def test_by_default_staff_see_the_top_of_their_scope(people, login):
    response = login(people.community_worker).get(reverse("sharing:report"))
    assert response.status_code == 200
    assert response.context["scope"] == people.community


def test_another_streets_staff_get_404(people, login):
    response = page(login(people.outsider), scope=f"region-{people.street.pk}")
    assert response.status_code == 404


def test_a_community_worker_gets_404_for_the_street_above(people, login):
    assert page(login(people.community_worker), scope=f"region-{people.street.pk}").status_code == 404


def test_a_resident_gets_404(people, login):
    client = login(people.resident)
    assert client.get(reverse("sharing:report")).status_code == 404
    assert page(client, scope=f"region-{people.community.pk}").status_code == 404
    assert (
        client.get(reverse("sharing:report_export"), {"scope": f"region-{people.community.pk}"}).status_code
        == 404
    )


def test_a_work_units_staff_read_their_own_units_report(people, login, last_year):
    client = login(people.work_unit_staff)
    response = page(client)
    assert response.context["scope"] == people.work_unit
    assert page(client, scope=f"organisation-{people.agency.pk}").status_code == 404
    assert page(client, scope=f"region-{people.community.pk}").status_code == 404


def test_only_staff_and_organisations_have_a_report_to_read(people):
    assert reports.may_read_report(people.street_officer) and reports.may_read_report(people.work_unit_staff)
    assert not reports.may_read_report(people.resident)


def test_a_malformed_scope_is_404(people, login):
    client = login(people.street_officer)
    for scope in ("region-x", "street-1", "region-", f"region-{people.building.pk}"):
        assert page(client, scope=scope).status_code == 404


def test_a_year_not_offered_is_refused_clearly(people, login):
    client = login(people.street_officer)
    response = page(client, year="1999")
    assert response.status_code == 200 and response.context["report"] is None
    assert "Select a valid choice" in response.text
    export = client.get(reverse("sharing:report_export"), {"year": "x"})
    assert export.status_code == 302 and export["Location"].startswith(reverse("sharing:report"))


# ----------------------------------------------------------------------------------- chart and workbook


def test_the_charts_read_their_data_from_json_not_inline_script(people, login, last_year):
    html = page(login(people.street_officer)).text
    data = json.loads(
        re.search(r'<script id="report-chart-data" type="application/json">(.*?)</script>', html, re.S).group(
            1
        )
    )
    assert data["opened"]["months"][2] > 0 and data["booked"]["months"][2] == 14
    assert data["kinds"] == ["Canteen", "Parking", "Meeting hall"]
    inline = [s for s in re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", html) if "application/json" not in s]
    assert not inline


def test_the_workbook_has_the_reports_figures_and_is_not_an_audited_export(people, login, last_year):
    client = login(people.street_officer)
    before = AuditEvent.objects.count()
    response = client.get(reverse("sharing:report_export"), {"year": LAST_YEAR})
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    workbook = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True)
    sheets = {sheet.title: [list(row) for row in sheet.iter_rows(values_only=True)] for sheet in workbook}
    assert list(sheets) == [
        "Summary",
        "By owner, kind and month",
        "By owner and kind",
        "By owner",
        "By kind",
        "By month",
        "Ranking by hours opened",
        "Ranking by residents served",
    ]
    detail = {
        (row[0], row[1], row[2]): row[3:] for row in sheets["By owner, kind and month"][1:] if len(row) > 3
    }
    canteen_march = detail[("蜀都银行", "Canteen", f"{LAST_YEAR}-03")]
    assert canteen_march[0] == 1.5 * 31 * 40 and canteen_march[1] == 2 and canteen_march[3] == 1
    assert sheets["Ranking by hours opened"][1] == [1, "蜀都银行", float(line_total(sheets, "蜀都银行"))]
    assert AuditEvent.objects.count() == before


def line_total(sheets, owner):
    return next(row[2] for row in sheets["By owner"][1:] if row and row[0] == owner)


# ------------------------------------------------------------------------------------------------- cost


def test_the_report_costs_the_same_number_of_queries_whatever_the_data(
    people, login, last_year, django_assert_max_num_queries
):
    client = login(people.street_officer)
    with CaptureQueriesContext(connection) as few:
        assert page(client).status_code == 200
    day = datetime.date(LAST_YEAR, 5, 1)
    more = []
    for number in range(12):
        resource = services.resource_save(
            resource=Resource(
                region=people.community,
                organisation=people.work_unit,
                kind="desk",
                name=f"工位{number}",
                address="清波路",
                capacity=5,
            ),
            by=people.work_unit_staff,
            hours=hours("09:00", "18:00"),
        )
        more.append(listed_since(resource, datetime.date(LAST_YEAR, 1, 1)))
        Blackout.objects.create(resource=resource, first_day=day, last_day=day)
    Booking.objects.bulk_create(
        Booking(
            resource=resource,
            booked_by=people.resident,
            resident=people.resident_record if hour % 2 else people.neighbour_record,
            starts_at=at(day + rules.DAY * hour, "09:00"),
            ends_at=at(day + rules.DAY * hour, "10:00"),
            blocked_until=at(day + rules.DAY * hour, "10:00"),
            release_at=at(day + rules.DAY * hour, "09:15"),
            exclusive=False,
            status=Status.CHECKED_IN,
            checked_in_at=at(day + rules.DAY * hour, "09:00"),
            request_key=f"many-{resource.pk}-{hour}",
        )
        for resource in more
        for hour in range(20)
    )
    with django_assert_max_num_queries(len(few)):
        html = page(client).text
    assert 'data-kind="desk"' in html
    with CaptureQueriesContext(connection) as export:
        client.get(reverse("sharing:report_export"), {"year": LAST_YEAR})
    assert len(export) <= len(few)


def test_the_report_itself_is_five_queries(people, last_year, django_assert_num_queries):
    with django_assert_num_queries(5):
        reports.contribution_report(region=people.street, year=LAST_YEAR)
