"""The dashboard page and its Excel export: who may open it, the figures it shows, bad period input, and a
cost that does not grow with the number of matters."""

import datetime
import io
import re
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from gongzhi.core.models import AuditEvent
from gongzhi.matters.models import Matter, Status, Tier

SHANGHAI = ZoneInfo("Asia/Shanghai")
MARCH = {"period": "month", "year": "2026", "month": "3"}


@pytest.fixture(autouse=True)
def english(client):
    """Assertions read the English msgids, whatever the state of the Chinese catalogue."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


def at(day: int, hour: int = 10) -> datetime.datetime:
    return datetime.datetime(2026, 3, day, hour, tzinfo=SHANGHAI)


@pytest.fixture
def march(people, report):
    """Reports `count` matters in March 2026, alternately in 清波社区 and 东坡社区; every other one answered
    in time, and the first closed as confirmed resolved with a rating of 5."""

    def make(count: int, *, start: int = 0) -> list[Matter]:
        made = []
        for number in range(start, start + count):
            region = people.building if number % 2 == 0 else people.sibling_community
            matter = report(region=region)
            fields = {
                "submitted_at": at(2 + number % 20),
                "response_due": at(3 + number % 20),
                "resolution_due": at(10 + number % 20),
            }
            if number % 2 == 0:
                fields.update(first_response_at=at(2 + number % 20, 12), response_seconds=7200)
            if number == 0:
                fields.update(
                    status=Status.CLOSED,
                    closed_at=at(8),
                    confirmation="resolved",
                    rating=5,
                    first_resolved_at=at(5),
                    resolved_tier=Tier.COMPOUND,
                    entry_tier=Tier.COMPOUND,
                )
            Matter.objects.filter(pk=matter.pk).update(**fields)
            made.append(matter)
        return made

    return make


def dashboard(client, **params):
    return client.get(reverse("matters:dashboard"), params)


def card(page: str, metric: str) -> str:
    """The text of one figure card, tags removed."""
    match = re.search(rf'<div class="card metric" data-metric="{metric}">(.*?)</div>', page, re.S)
    assert match, f"no card for {metric}"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(1)))


def test_it_shows_a_street_officer_the_street_figures(people, login, march):
    march(4)
    page = dashboard(login(people.street_officer), region=people.street.pk, **MARCH).text
    assert "苏坡街道 (Street) · 2026-03" in page
    assert "4" in card(page, "received")
    assert "50% 2 / 4" in card(page, "response")
    assert "100% 1 / 1" in card(page, "resolution")
    assert "100% 1 / 1" in card(page, "satisfaction") and "5 / 5" in card(page, "satisfaction")
    assert "2 h" in card(page, "response_time")
    rankings = page[page.index('data-testid="dashboard-rankings"') :]
    assert "清波社区" in rankings and "东坡社区" in rankings
    trend = page[page.index('data-testid="dashboard-trend"') :]
    assert "2026-03" in trend and "2025-04" in trend and "2025-03" not in trend


def test_it_embeds_the_trend_for_the_chart_as_data_not_script(people, login, march):
    march(2)
    page = dashboard(login(people.street_officer), region=people.street.pk, **MARCH).text
    assert '<script id="trend-data" type="application/json">' in page
    assert re.search(r'"months": \["2025-04", .*"2026-03"\]', page)
    assert "echarts-5.6.0.min.js" in page and "js/matters-dashboard.js" in page
    assert "<script>" not in page and " style=" not in page


def test_it_opens_on_the_users_own_region_and_this_month(people, login):
    page = dashboard(login(people.street_officer)).text
    today = datetime.datetime.now(SHANGHAI).date()
    assert f"苏坡街道 (Street) · {today:%Y-%m}" in page


def test_the_region_picker_offers_the_users_regions_down_to_communities(people, login):
    page = dashboard(login(people.district_officer)).text
    picker = page[page.index('name="region"') : page.index("</select>", page.index('name="region"'))]
    assert "青羊区" in picker and "苏坡街道" in picker and "清波社区" in picker and "东坡社区" in picker
    assert "清波院落" not in picker and "武侯区" not in picker


def test_rankings_link_to_each_smaller_regions_dashboard(people, login, march):
    march(2)
    page = dashboard(login(people.street_officer), region=people.street.pk, **MARCH).text
    assert f"region={people.community.pk}&amp;period=month&amp;year=2026&amp;month=3" in page
    community = dashboard(login(people.street_officer), region=people.community.pk, **MARCH)
    assert community.status_code == 200 and "清波院落" in community.text


def test_a_compound_has_nothing_below_it_to_rank(people, login):
    page = dashboard(login(people.compound_leader), **MARCH).text
    assert 'data-testid="dashboard-no-rankings"' in page


@pytest.mark.parametrize(
    ("persona", "region"),
    [
        ("outsider", "community"),
        ("outsider", "street"),
        ("community_worker", "sibling_community"),
        ("community_worker", "street"),
        ("street_officer", "other_community"),
    ],
)
def test_a_region_outside_the_users_scope_is_404(people, login, persona, region):
    client = login(getattr(people, persona))
    assert dashboard(client, region=getattr(people, region).pk, **MARCH).status_code == 404
    export = client.get(reverse("matters:dashboard_export"), {"region": getattr(people, region).pk, **MARCH})
    assert export.status_code == 404


@pytest.mark.parametrize("region", ["999999", "abc", "1.5"])
def test_a_missing_or_malformed_region_is_404(people, login, region):
    assert dashboard(login(people.street_officer), region=region).status_code == 404


def test_someone_who_oversees_no_matters_gets_404(people, login):
    assert dashboard(login(people.provider_staff)).status_code == 404
    assert login(people.work_unit_staff).get(reverse("matters:dashboard_export")).status_code == 404


def test_anonymous_visitors_are_sent_to_sign_in(client, people):
    for url in (reverse("matters:dashboard"), reverse("matters:dashboard_export")):
        response = client.get(url, {"region": people.street.pk})
        assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_an_end_before_the_start_is_a_form_error(people, login):
    page = dashboard(
        login(people.street_officer),
        region=people.street.pk,
        period="custom",
        start="2026-03-10",
        end="2026-03-01",
    ).text
    assert "The end date comes before the start date." in page
    assert 'data-testid="dashboard-figures"' not in page


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"period": "custom", "start": "2026-02-30", "end": "2026-03-01"}, "Enter a valid date."),
        ({"period": "custom", "start": "yesterday", "end": "2026-03-01"}, "Enter a valid date."),
        ({"period": "custom", "start": "", "end": "2026-03-01"}, "Give a date."),
        ({"period": "custom", "start": "2020-01-01", "end": "2026-03-01"}, "at most three years"),
        ({"period": "month", "year": "20x6", "month": "3"}, "Enter a whole number."),
        ({"period": "month", "year": "2026", "month": "13"}, "Select a valid choice."),
        ({"period": "week"}, "Select a valid choice."),
    ],
)
def test_bad_period_input_is_a_clear_form_error(people, login, params, message):
    page = dashboard(login(people.street_officer), region=people.street.pk, **params).text
    assert message in page
    assert 'data-testid="dashboard-figures"' not in page


def test_a_custom_period_counts_its_days(people, login, march):
    march(4)  # reported on 2, 3, 4 and 5 March
    page = dashboard(
        login(people.street_officer),
        region=people.street.pk,
        period="custom",
        start="2026-03-03",
        end="2026-03-04",
    ).text
    assert "2026-03-03 – 2026-03-04" in page
    assert '<span class="figure">2</span>' in page


def test_the_export_of_bad_input_goes_back_to_the_page(people, login):
    params = {"region": people.street.pk, "period": "custom", "start": "2026-03-10", "end": "2026-03-01"}
    response = login(people.street_officer).get(reverse("matters:dashboard_export"), params)
    assert response.status_code == 302 and response.url.startswith(reverse("matters:dashboard"))


def test_the_page_costs_the_same_queries_however_many_matters(
    people, login, march, django_assert_max_num_queries
):
    march(3)
    client = login(people.street_officer)
    with CaptureQueriesContext(connection) as few:
        dashboard(client, region=people.street.pk, **MARCH)
    march(30, start=3)
    cache.clear()  # the figures are cached for five minutes; count the queries that compute them
    with django_assert_max_num_queries(len(few)):
        page = dashboard(client, region=people.street.pk, **MARCH).text
    assert "33" in card(page, "received")
    assert len(few) <= 15


def test_it_serves_the_same_figures_for_five_minutes_without_computing_them_again(
    people, login, march, django_assert_max_num_queries
):
    march(3)
    client = login(people.street_officer)
    with CaptureQueriesContext(connection) as first:
        dashboard(client, region=people.street.pk, **MARCH)
    march(2, start=3)
    with CaptureQueriesContext(connection) as second:
        page = dashboard(client, region=people.street.pk, **MARCH).text
    assert len(second) < len(first)
    assert "3" in card(page, "received") and "5" not in card(page, "received")


def test_the_excel_export_holds_the_figures_rankings_and_trend(people, login, march):
    march(4)
    response = login(people.street_officer).get(
        reverse("matters:dashboard_export"), {"region": people.street.pk, **MARCH}
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "matters-dashboard-" in response["Content-Disposition"]
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["Figures", "Rankings", "Monthly trend"]
    figures = {row[0]: row[1:] for row in book["Figures"].iter_rows(values_only=True) if row and row[0]}
    assert figures["Region"][0] == "苏坡街道" and figures["Period"][0] == "2026-03"
    assert figures["Matters received"][3] == 4
    assert figures["Response rate"][:3] == (50, 2, 4)
    assert figures["Resolution rate"][:3] == (100, 1, 1)
    assert figures["Mean rating"][3] == 5
    rankings = list(book["Rankings"].iter_rows(values_only=True))
    assert rankings[0][:3] == ("Rank", "Region", "Matters received")
    assert {row[1]: row[2] for row in rankings[1:]} == {"清波社区": 2, "东坡社区": 2}
    trend = list(book["Monthly trend"].iter_rows(values_only=True))
    assert len(trend) == 13 and trend[-1][:5] == ("2026-03", 4, 50, 2, 4)


def test_the_export_holds_no_personal_data_and_is_not_audited(people, login, march):
    march(2)
    client = login(people.street_officer)
    before = AuditEvent.objects.count()
    response = client.get(reverse("matters:dashboard_export"), {"region": people.street.pk, **MARCH})
    assert response.status_code == 200 and AuditEvent.objects.count() == before
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    text = " ".join(
        str(value) for sheet in book for row in sheet.iter_rows(values_only=True) for value in row if value
    )
    assert people.resident.name not in text and "楼道灯坏了" not in text
