"""Volunteering reports and the honour roll: the figures on a small built dataset, small-group suppression,
the sensitive-tag rule, scoping, the Excel workbook, the opt-in rule, and a cost that does not grow."""

import datetime
import io
import re
from decimal import Decimal
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from gongzhi.core.models import AuditEvent, Resident
from gongzhi.core.services import resident_create
from gongzhi.volunteering import reports, services
from gongzhi.volunteering.models import Item, Outlet, PointsRule
from gongzhi.volunteering.reports import GroupLine, Period, Served

SHANGHAI = ZoneInfo("Asia/Shanghai")
YEAR_2026 = {"start": "2026-01-01", "end": "2026-12-31"}


@pytest.fixture(autouse=True)
def english(client):
    """Pages and messages are read in English (the msgids), whatever the state of the Chinese catalogue."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    with translation.override("en"):
        yield


def at(month: int, day: int, hour: int = 9) -> datetime.datetime:
    return datetime.datetime(2026, month, day, hour, tzinfo=SHANGHAI)


def volunteer(people, name: str, *, born: datetime.date | None, tags=(), region=None) -> Resident:
    resident = resident_create(
        created_by=people.admin, region=region or people.building, name=name, tags=list(tags)
    )
    Resident.objects.filter(pk=resident.pk).update(birth_date=born)
    resident.refresh_from_db()
    return resident


def past_activity(people, *, start, hours=2, by=None, region=None, organisation=None, **fields):
    """An activity that has already happened, made and opened ten days before it."""
    before = start - datetime.timedelta(days=10)
    made = services.activity_create(
        created_by=by or people.community_worker,
        region=region or people.community,
        organisation=organisation,
        now=before,
        title=fields.pop("title", "清理楼道"),
        place="清波院落",
        starts_at=start,
        ends_at=start + datetime.timedelta(hours=hours),
        cancel_deadline=start - datetime.timedelta(days=1),
        capacity=fields.pop("capacity", 50),
        points=fields.pop("points", 10),
        **fields,
    )
    return services.activity_open(activity=made, by=by or people.community_worker, now=before)


def serve(activity, resident, *, by, decision="approve", hours=None):
    """Signs the resident up, checks them in and out for the whole activity, and verifies."""
    signup = services.signup_create(
        activity=activity, resident=resident, now=activity.starts_at - datetime.timedelta(days=5)
    )
    if decision != "reject":
        services.attendance_mark(signup=signup, by=by, action="check_in", now=activity.starts_at)
        services.attendance_mark(signup=signup, by=by, action="check_out", now=activity.ends_at)
    return services.hours_verify(
        signup=signup,
        by=by,
        decision=decision,
        hours=hours,
        reason="" if decision == "approve" else "按实际时长",
        now=activity.ends_at + datetime.timedelta(hours=1),
    )


class Dataset:
    """清波社区 in 2026: six volunteers (five aged 66 with the elderly and low-income tags, one aged 14).

    - 3 March, run by the community, 2 hours at 10 points an hour: all six approved (12 h, 120 points);
    - 15 April, run by the agency, 15 points fixed: v1 adjusted to 2.5 h, v2 rejected, v3 still waiting;
    - an award of 30 points to v4; redemptions on 1 May of eggs at 5 points: v1 ×2 collected, v2 ×1
      reserved, v1 ×3 cancelled (refunded);
    - the award budget was funded with 1,000 points.
    """

    def __init__(self, people):
        self.people = people
        services.budget_fund(
            community=people.community, amount=1000, by=people.community_secretary, idempotency_key="fund"
        )
        elderly = ["elderly", "low_income"]
        self.v = [
            volunteer(people, f"志愿者{number}", born=datetime.date(1960, 6, 1), tags=elderly)
            for number in range(1, 6)
        ]
        self.v.append(volunteer(people, "小志愿者", born=datetime.date(2012, 1, 1)))
        self.march = past_activity(people, start=at(3, 3), title="清理楼道")
        for resident in self.v:
            serve(self.march, resident, by=people.community_worker)
        self.april = past_activity(
            people,
            start=at(4, 15, 14),
            hours=3,
            by=people.provider_staff,
            organisation=people.agency,
            title="陪伴老人",
            points_rule=PointsRule.FIXED,
            points=15,
        )
        serve(self.april, self.v[0], by=people.provider_staff, decision="adjust", hours=Decimal("2.5"))
        serve(self.april, self.v[1], by=people.provider_staff, decision="reject")
        services.signup_create(activity=self.april, resident=self.v[2], now=at(4, 1))
        services.points_award(
            community=people.community,
            resident=self.v[3],
            amount=30,
            reason="楼道长期保洁",
            awarded_by=people.community_worker,
            idempotency_key="award-v4",
        )
        outlet = services.outlet_save(
            outlet=Outlet(community=people.community, name="清波积分超市", kind=Outlet.Kind.OFFICE),
            by=people.community_worker,
        )
        self.eggs = services.item_save(
            item=Item(outlet=outlet, name="鸡蛋", unit="盒", price=5, stock=50), by=people.community_worker
        )
        collected = self.redeem(self.v[0], 2, "r1")
        services.redemption_hand_over(code=collected.code, by=people.community_worker, now=at(5, 1, 10))
        self.redeem(self.v[1], 1, "r2")
        cancelled = self.redeem(self.v[0], 3, "r3")
        services.redemption_cancel(redemption=cancelled, by=people.community_worker, now=at(5, 1, 11))

    def redeem(self, resident, quantity, token):
        return services.redemption_create(
            item=self.eggs, resident=resident, request_token=token, quantity=quantity, now=at(5, 1)
        )

    def opt_in(self, *residents):
        for resident in residents:
            services.volunteer_profile_update(
                volunteer=services.volunteer_profile_for(resident=resident), skills="", on_honour_roll=True
            )


@pytest.fixture
def dataset(people) -> Dataset:
    return Dataset(people)


def report_for(
    people, user=None, region=None, first=datetime.date(2026, 1, 1), last=datetime.date(2026, 12, 31)
):
    return reports.volunteering_report(
        user=user or people.community_worker,
        region=region or people.community,
        period=Period.between(first, last),
    )


def page(client, **params):
    return client.get(reverse("volunteering:reports"), params)


def row_text(html: str, attribute: str, value) -> str:
    """The text of the table row carrying data-<attribute>="<value>", tags removed."""
    match = re.search(rf'<tr data-{attribute}="{value}"[^>]*>(.*?)</tr>', html, re.S)
    assert match, f"no row {attribute}={value}"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(1))).strip()


# ------------------------------------------------------------------------------------------- the figures


def test_it_totals_verified_hours_and_points_of_the_period(people, dataset):
    report = report_for(people)
    assert report.totals == Served(volunteers=6, signups=7, hours=Decimal("14.5"), points=135)


def test_it_reports_hours_and_points_by_activity_with_those_awaiting_verification(people, dataset):
    lines = {line.title: line for line in report_for(people).activities}
    assert lines["清理楼道"].served == Served(6, 6, Decimal(12), 120)
    assert lines["清理楼道"].organisation == "" and lines["清理楼道"].awaiting == 0
    assert lines["陪伴老人"].served == Served(1, 1, Decimal("2.5"), 15)
    assert lines["陪伴老人"].organisation == people.agency.name and lines["陪伴老人"].awaiting == 1


def test_it_reports_the_community_and_each_provider_separately(people, dataset):
    community, agency = report_for(people).organisations
    assert (community.organisation_id, community.activities, community.served) == (
        None,
        1,
        Served(6, 6, Decimal(12), 120),
    )
    assert (agency.organisation_id, agency.name, agency.served) == (
        people.agency.pk,
        people.agency.name,
        Served(1, 1, Decimal("2.5"), 15),
    )


def test_it_reports_every_month_of_the_period(people, dataset):
    months = report_for(people).months
    assert [f"{line.month:%m}" for line in months] == [f"{month:02d}" for month in range(1, 13)]
    assert months[2].served == Served(6, 6, Decimal(12), 120)
    assert months[3].served == Served(1, 1, Decimal("2.5"), 15)
    assert all(line.served == Served() for index, line in enumerate(months) if index not in (2, 3))


def test_it_leaves_out_activities_outside_the_period(people, dataset):
    report = report_for(people, first=datetime.date(2026, 4, 1), last=datetime.date(2026, 4, 30))
    assert report.totals == Served(1, 1, Decimal("2.5"), 15)
    assert [line.title for line in report.activities] == ["陪伴老人"]
    assert [f"{line.month:%Y-%m}" for line in report.months] == ["2026-04"]


def test_it_counts_redemptions_by_outlet_and_item_without_cancelled_ones(people, dataset):
    (line,) = report_for(people).redemptions
    assert (line.outlet, line.item, line.unit) == ("清波积分超市", "鸡蛋", "盒")
    assert (line.redemptions, line.collected, line.quantity, line.points) == (2, 1, 3, 15)


def test_it_reports_points_outstanding_per_community(people, dataset):
    (line,) = report_for(people).liability
    # Earned 135 + 30, spent 15 (the cancelled redemption came back); budget 1000 - 135 - 30.
    assert (line.community, line.holders, line.passbooks, line.budget) == ("清波社区", 6, 150, 835)
    assert line.outstanding == 985


def test_it_shows_the_figures_on_the_page(people, login, dataset):
    html = page(login(people.community_worker), region=people.community.pk, **YEAR_2026).text
    assert row_text(html, "activity", dataset.march.pk).endswith("6 6 12.00 120 0")
    assert row_text(html, "organisation", people.agency.pk) == f"{people.agency.name} 1 1 1 2.50 15"
    assert row_text(html, "community", people.community.pk) == "清波社区 6 150 835 985"
    assert row_text(html, "group", "60_79") == "60 to 79 5 6 12.50 115"


def test_it_defaults_to_this_year(people, login):
    response = page(login(people.community_worker))
    assert response.status_code == 200
    period = response.context["report"].period
    assert (period.start.month, period.start.day, period.last_day.month, period.last_day.day) == (
        1,
        1,
        12,
        31,
    )


def test_it_refuses_a_period_that_ends_before_it_starts(people, login, dataset):
    client = login(people.community_worker)
    response = page(client, start="2026-05-01", end="2026-04-01")
    assert response.context["report"] is None
    assert "The end date comes before the start date." in response.text
    export = client.get(reverse("volunteering:reports_export"), {"start": "2026-05-01", "end": "2026-04-01"})
    assert export.status_code == 302 and export.url.startswith(reverse("volunteering:reports"))


def test_it_refuses_a_period_longer_than_three_years(people, login):
    response = page(login(people.community_worker), start="2020-01-01", end="2026-12-31")
    assert response.context["report"] is None
    assert "Choose a period of at most three years." in response.text


# -------------------------------------------------------------------------------- groups of residents


def test_it_suppresses_groups_of_fewer_than_five_volunteers(people, login, dataset):
    ages = {line.key: line for line in report_for(people).age_groups}
    assert ages["60_79"].served == Served(5, 6, Decimal("12.5"), 115)
    assert ages["under_18"].suppressed  # one volunteer aged 14
    assert all(ages[key].suppressed for key in ("18_59", "80_plus", "unknown"))
    html = page(login(people.community_worker), **YEAR_2026).text
    assert row_text(html, "group", "under_18") == "Under 18 &lt;5 — — —"
    assert row_text(html, "group", "living_alone") == "Elderly living alone &lt;5 — — —"


def test_it_hides_a_second_group_when_only_one_would_be_hidden_from_the_total(people):
    lines = [
        GroupLine("a", "a", Served(9, 9, Decimal(9), 90)),
        GroupLine("b", "b", Served(6, 6, Decimal(6), 60)),
        GroupLine("c", "c", Served(2, 2, Decimal(2), 20)),
    ]
    hidden = reports.hide_small_groups(lines, partition=True)
    assert [line.suppressed for line in hidden] == [False, True, True]
    overlapping = reports.hide_small_groups(lines, partition=False)
    assert [line.suppressed for line in overlapping] == [False, False, True]


def test_it_groups_sensitive_tags_only_for_those_who_may_see_them(people, login, dataset):
    worker_groups = {line.key for line in report_for(people, user=people.community_worker).tag_groups}
    assert "elderly" in worker_groups and "low_income" not in worker_groups
    html = page(login(people.community_worker), **YEAR_2026).text
    assert 'data-group="low_income"' not in html and 'data-group="elderly"' in html

    secretary = {line.key: line for line in report_for(people, user=people.community_secretary).tag_groups}
    assert secretary["low_income"].served == Served(5, 6, Decimal("12.5"), 115)
    html = page(login(people.community_secretary), **YEAR_2026).text
    assert row_text(html, "group", "low_income").endswith("5 6 12.50 115")


# ---------------------------------------------------------------------------------------------- scoping


def test_outsider_gets_404_for_a_region_they_do_not_oversee(people, login, dataset):
    client = login(people.outsider)
    assert page(client, region=people.community.pk).status_code == 404
    assert (
        client.get(reverse("volunteering:reports_export"), {"region": people.community.pk}).status_code == 404
    )
    assert page(client, region="not-a-number").status_code == 404
    assert page(client).status_code == 200  # their own community


@pytest.mark.parametrize("persona", ["resident", "provider_staff", "building_leader"])
def test_people_without_volunteering_oversight_get_404(people, login, persona):
    assert page(login(getattr(people, persona))).status_code == 404


def test_a_community_worker_cannot_open_the_street(people, login):
    assert page(login(people.community_worker), region=people.street.pk).status_code == 404


def test_it_shows_a_street_officer_every_community_of_the_street(people, login, dataset):
    services.budget_fund(community=people.sibling_community, amount=50, by=people.admin, idempotency_key="s")
    neighbour = volunteer(people, "东坡志愿者", born=None, region=people.sibling_community)
    sibling = past_activity(people, start=at(6, 1), by=people.admin, region=people.sibling_community)
    serve(sibling, neighbour, by=people.admin)
    street = report_for(people, user=people.street_officer, region=people.street)
    assert street.totals == Served(7, 8, Decimal("16.5"), 155)
    assert [line.community for line in street.liability] == ["清波社区", "东坡社区"]
    assert report_for(people).totals.volunteers == 6  # the community alone
    client = login(people.street_officer)
    assert page(client, region=people.street.pk, **YEAR_2026).status_code == 200
    assert page(client, region=people.sibling_community.pk, **YEAR_2026).status_code == 200


# ------------------------------------------------------------------------------------------ the workbook


def test_it_exports_the_same_numbers_to_excel_without_names_or_an_audit_event(people, login, dataset):
    client = login(people.community_secretary)
    before = AuditEvent.objects.count()
    response = client.get(
        reverse("volunteering:reports_export"), {"region": people.community.pk, **YEAR_2026}
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert "volunteering-" in response["Content-Disposition"]
    workbook = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True)
    sheets = {sheet.title: [list(row) for row in sheet.iter_rows(values_only=True)] for sheet in workbook}
    assert list(sheets) == [
        "Summary",
        "By activity",
        "By organisation",
        "By age",
        "By group of residents",
        "By month",
        "Redemptions",
        "Points outstanding",
    ]
    summary = {row[0]: row[1] for row in sheets["Summary"][1:]}
    assert summary["Volunteers active"] == 6 and summary["Verified hours"] == 14.5
    assert summary["Points paid for verified hours"] == 135 and summary["Points outstanding now"] == 985
    activities = {row[1]: row for row in sheets["By activity"][1:]}
    assert activities["清理楼道"][4:] == [6, 6, 12, 120, 0]
    assert activities["陪伴老人"][3:] == [people.agency.name, 1, 1, 2.5, 15, 1]
    ages = {row[0]: row[1:] for row in sheets["By age"][1:] if row and row[0]}
    assert ages["60 to 79"] == [5, 6, 12.5, 115] and ages["Under 18"][0] == "<5"
    groups = {row[0]: row[1:] for row in sheets["By group of residents"][1:] if row and row[0]}
    assert groups["Low income"] == [5, 6, 12.5, 115]  # the secretary may see sensitive groups
    months = {row[0]: row[1:] for row in sheets["By month"][1:]}
    assert months["2026-03"] == [6, 6, 12, 120] and months["2026-04"] == [1, 1, 2.5, 15]
    assert sheets["Redemptions"][1] == ["清波社区", "清波积分超市", "鸡蛋", "盒", 2, 1, 3, 15]
    assert sheets["Points outstanding"][1] == ["清波社区", 6, 150, 835, 985]
    cells = " ".join(
        str(cell) for rows in sheets.values() for row in rows for cell in row if cell is not None
    )
    assert not any(resident.name in cells for resident in dataset.v)
    assert AuditEvent.objects.count() == before


def test_the_workbook_leaves_out_sensitive_groups_for_a_worker(people, login, dataset):
    response = login(people.community_worker).get(reverse("volunteering:reports_export"), YEAR_2026)
    workbook = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True)
    groups = [row[0] for row in workbook["By group of residents"].iter_rows(values_only=True) if row]
    assert "Elderly (60+)" in groups and "Low income" not in groups


# ------------------------------------------------------------------------------------------------- cost


def test_the_report_costs_the_same_number_of_queries_whatever_the_data(
    people, login, dataset, django_assert_max_num_queries
):
    client = login(people.street_officer)
    with CaptureQueriesContext(connection) as few:
        assert page(client, region=people.street.pk, **YEAR_2026).status_code == 200
    more = [volunteer(people, f"新志愿者{number}", born=datetime.date(1990, 1, 1)) for number in range(8)]
    for month in (7, 8, 9):
        activity = past_activity(people, start=at(month, 5), title=f"{month}月活动")
        for resident in more:
            serve(activity, resident, by=people.community_worker)
    for number, resident in enumerate(more):
        dataset.redeem(resident, 1, f"more-{number}")
    with django_assert_max_num_queries(len(few)):
        html = page(client, region=people.street.pk, **YEAR_2026).text
    assert row_text(html, "group", "18_59") == "18 to 59 8 24 48.00 480"
    assert len(few) <= 16

    with CaptureQueriesContext(connection) as export:
        client.get(reverse("volunteering:reports_export"), {"region": people.street.pk, **YEAR_2026})
    assert len(export) <= len(few)


# ------------------------------------------------------------------------------------------ honour roll


def honour(client, **params):
    return client.get(reverse("volunteering:honour"), params)


def test_the_honour_roll_lists_only_volunteers_who_opted_in(people, dataset):
    dataset.opt_in(dataset.v[0], dataset.v[1], dataset.v[3])
    roll = reports.honour_roll(region=people.community, period="all")
    assert [(line.rank, line.name, line.value) for line in roll.by_hours] == [
        (1, "志愿者1", Decimal("4.5")),
        (2, "志愿者2", Decimal(2)),
        (2, "志愿者4", Decimal(2)),
    ]
    # v1 earned 20 + 15; the refund of a cancelled redemption is not earning. v4 earned 20 and an award of 30.
    assert [(line.rank, line.name, line.value) for line in roll.by_points] == [
        (1, "志愿者4", 50),
        (2, "志愿者1", 35),
        (3, "志愿者2", 20),
    ]
    names = {line.name for line in roll.by_hours + roll.by_points}
    assert "志愿者3" not in names and "小志愿者" not in names


def test_the_honour_roll_leaves_out_children_under_14_even_if_they_opted_in(people, dataset):
    child = dataset.v[5]
    dataset.opt_in(child)
    Resident.objects.filter(pk=child.pk).update(birth_date=datetime.date(2013, 1, 1))
    before_birthday = datetime.datetime(2026, 12, 31, 12, tzinfo=SHANGHAI)
    assert reports.honour_roll(region=people.community, period="all", now=before_birthday).by_hours == []
    on_birthday = datetime.datetime(2027, 1, 1, 12, tzinfo=SHANGHAI)
    roll = reports.honour_roll(region=people.community, period="all", now=on_birthday)
    assert [line.name for line in roll.by_hours] == [child.name]
    assert [line.name for line in roll.by_points] == [child.name]


def test_the_honour_roll_leaves_out_a_reversed_award(people, dataset):
    dataset.opt_in(dataset.v[3])
    posted = services.points_award(
        community=people.community,
        resident=dataset.v[3],
        amount=40,
        reason="记错了",
        awarded_by=people.community_worker,
        idempotency_key="award-mistake",
    )
    services.ledger_reverse(transaction=posted, idempotency_key="award-mistake-reversed", memo="更正")
    (line,) = reports.honour_roll(region=people.community, period="all").by_points
    assert line.value == 50


def test_the_honour_roll_counts_hours_of_the_period_chosen(people, dataset):
    dataset.opt_in(dataset.v[0])
    december = datetime.datetime(2026, 12, 5, 12, tzinfo=SHANGHAI)
    assert reports.honour_roll(region=people.community, period="month", now=december).by_hours == []
    (line,) = reports.honour_roll(region=people.community, period="year", now=december).by_hours
    assert line.value == Decimal("4.5")
    next_year = datetime.datetime(2027, 1, 5, 12, tzinfo=SHANGHAI)
    assert reports.honour_roll(region=people.community, period="year", now=next_year).by_hours == []


def test_a_resident_sees_the_honour_roll_of_their_community_street_and_district(people, login, dataset):
    dataset.opt_in(dataset.v[0])
    client = login(people.resident)
    response = honour(client, period="all")
    assert response.status_code == 200
    assert response.context["region"] == people.community
    assert "志愿者1" in response.text and "志愿者2" not in response.text
    choices = [value for value, _label in response.context["form"].fields["region"].choices]
    assert choices == [people.district.pk, people.street.pk, people.community.pk]
    for region in (people.street, people.district):
        assert "志愿者1" in honour(client, region=region.pk, period="all").text


@pytest.mark.parametrize(
    "region", ["city", "other_community", "other_district", "sibling_community", "building"]
)
def test_a_resident_gets_404_for_other_regions(people, login, region):
    assert honour(login(people.resident), region=getattr(people, region).pk).status_code == 404


def test_staff_see_the_honour_roll_of_their_scope_only(people, login, dataset):
    dataset.opt_in(dataset.v[0])
    officer = login(people.street_officer)
    assert "志愿者1" in honour(officer, region=people.community.pk, period="all").text
    assert honour(officer, region=people.sibling_community.pk).status_code == 200
    assert honour(officer, region=people.other_community.pk).status_code == 404
    outsider = login(people.outsider)
    assert honour(outsider, region=people.community.pk).status_code == 404
    assert honour(outsider).context["region"] == people.other_community


def test_someone_without_a_home_or_scope_is_told_how_to_see_the_roll(people, login):
    response = honour(login(people.provider_staff))
    assert response.status_code == 200
    assert 'data-testid="honour-no-region"' in response.text


def test_the_honour_roll_refuses_an_unknown_period(people, login, dataset):
    response = honour(login(people.resident), period="decade")
    assert response.status_code == 200 and response.context["roll"] is None
    assert "Select a valid choice" in response.text


def test_the_honour_roll_costs_the_same_number_of_queries_whatever_the_data(
    people, login, dataset, django_assert_max_num_queries
):
    dataset.opt_in(*dataset.v)
    client = login(people.resident)
    with CaptureQueriesContext(connection) as few:
        honour(client, period="all")
    more = [volunteer(people, f"新志愿者{number}", born=None) for number in range(25)]
    dataset.opt_in(*more)
    activity = past_activity(people, start=at(7, 5))
    for resident in more:
        serve(activity, resident, by=people.community_worker)
    with django_assert_max_num_queries(len(few)):
        response = honour(client, period="all")
    assert len(response.context["roll"].by_hours) == reports.HONOUR_SIZE
