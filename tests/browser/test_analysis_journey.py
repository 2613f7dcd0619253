"""Community analysis's whole journey, as the issue tells it: a community worker builds a needs survey for the
elderly, an elderly resident answers it on a phone, the worker types in two paper answers one after the
other, then reads the needs ranking and the community profile and downloads the dashboard's workbook."""

import datetime

import openpyxl
import pytest
from django.utils import timezone
from playwright.sync_api import expect

from conftest import make_user
from gongzhi.analysis import services
from gongzhi.analysis.models import Mode, Response, Survey
from gongzhi.analysis.profile import years_before
from gongzhi.core.models import Resident
from gongzhi.core.services import resident_create

pytestmark = pytest.mark.browser

DESK = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
ELDERLY_MOBILE = "13800000021"


@pytest.fixture(autouse=True)
def patient_assertions():
    """Assertions wait as long as the page's actions do (conftest: 10 s): the machine is shared and busy."""
    expect.set_options(timeout=10_000)
    yield
    expect.set_options(timeout=5_000)


def switch_to(page, sign_in, user, mobile: str, viewport: dict):
    page.context.clear_cookies()
    page.set_viewport_size(viewport)
    sign_in(user, mobile)


def elderly(people, name: str, sex: str, room: str) -> Resident:
    """A resident of 清波 aged 76 on today's date: in the survey's group and in the pyramid's 75-79 band."""
    resident = resident_create(
        created_by=people.admin, region=people.building, name=name, room=room, tags=["elderly"]
    )
    born = years_before(timezone.localdate(), 76) - datetime.timedelta(days=30)
    Resident.objects.filter(pk=resident.pk).update(birth_date=born, sex=sex)
    resident.refresh_from_db()
    return resident


def fill_answers(form, *, needs: list[str], satisfaction: int):
    for category in needs:
        form.locator(f"input[name=q1][value={category}]").check()
    form.locator(f"input[name=q2][value='{satisfaction}']").check()


def test_a_needs_survey_for_the_elderly_from_builder_to_export(people, page, sign_in, tmp_path):
    worker = people.community_worker
    grandpa = elderly(people, "陈大爷", "M", "1-301")
    Resident.objects.filter(pk=grandpa.pk).update(user=make_user(ELDERLY_MOBILE, "陈大爷"))
    on_paper = [elderly(people, "赵婆婆", "F", "1-302"), elderly(people, "钱婆婆", "F", "1-303")]
    more = [
        elderly(people, name, "F", f"1-30{n}") for n, name in enumerate(("孙婆婆", "周婆婆", "吴婆婆"), 4)
    ]

    # The worker builds the survey through the builder.
    switch_to(page, sign_in, worker, "13800000005", DESK)
    page.goto("/analysis/surveys/new/")
    form = page.get_by_test_id("survey-form")
    form.locator("input[name=title]").fill("老年人需求调查")
    form.locator("textarea[name=intro]").fill("了解老人家最需要的服务。")
    expect(form.locator("select[name=region]")).to_have_value(str(people.community.pk))
    form.locator("select[name=audience_group]").select_option("elderly")
    form.locator("button[type=submit]").click()
    expect(page.get_by_test_id("question-form")).to_be_visible()
    survey = Survey.objects.get(title="老年人需求调查")
    assert (survey.region, survey.audience_group) == (people.community, "elderly")

    for kind, text in (("needs", "您最需要哪些服务？"), ("scale", "您对社区为老服务满意吗？")):
        form = page.get_by_test_id("question-form")
        form.locator("select[name=kind]").select_option(kind)
        form.locator("input[name=text]").fill(text)
        form.locator("button[type=submit]").click()
        expect(page.get_by_test_id("questions")).to_contain_text(text)
    assert list(survey.questions.values_list("key", "kind", "minimum", "maximum")) == [
        ("q1", "needs", None, None),
        ("q2", "scale", 1, 5),
    ]
    page.get_by_test_id("survey-open").click()
    link = page.get_by_test_id("survey-link").inner_text().strip()
    assert link.endswith(f"/analysis/s/{survey.link_token}/")
    expect(page.get_by_test_id("distribution").locator("figure.qr svg")).to_be_visible()

    # The elderly resident opens the link on a phone and answers.
    switch_to(page, sign_in, grandpa, ELDERLY_MOBILE, PHONE)
    page.goto(link)
    form = page.get_by_test_id("answer-form")
    fill_answers(form, needs=["elderly_care", "health"], satisfaction=4)
    form.locator("button[type=submit]").click()
    expect(page.get_by_test_id("survey-thanks")).to_be_visible()
    online = Response.objects.get(survey=survey)
    assert (online.mode, online.groups) == (Mode.ONLINE, ",elderly,")

    # The worker types in two paper forms, one after the other.
    switch_to(page, sign_in, worker, "13800000005", DESK)
    page.goto(f"/analysis/surveys/{survey.pk}/")
    page.get_by_test_id("survey-enter").click()
    for resident, needs in zip(on_paper, (["elderly_care"], ["elderly_care", "culture"]), strict=True):
        search = page.get_by_test_id("resident-search")
        search.locator("input[name=q]").fill(resident.name)
        search.locator("button[type=submit]").click()
        page.get_by_test_id("resident-matches").get_by_role("link", name=resident.name).click()
        expect(page.get_by_test_id("chosen-resident")).to_contain_text(resident.name)
        form = page.get_by_test_id("answer-form")
        fill_answers(form, needs=needs, satisfaction=3)
        form.locator("button[type=submit]").click()  # "save and enter the next"
        expect(page.get_by_test_id("chosen-resident")).to_have_count(0)
    expect(page.get_by_test_id("entered-count")).to_contain_text("2")
    paper = Response.objects.filter(survey=survey, mode=Mode.PAPER)
    assert sorted(paper.values_list("entered_by", flat=True)) == [worker.pk, worker.pk]

    # The dashboard suppresses counts under 5, so three more paper forms are entered through the service
    # (as the enter page does) to bring elderly care to five and show a figure; health stays under five.
    for resident, needs in zip(more, (["elderly_care"], ["elderly_care"], ["health"]), strict=True):
        services.response_submit(
            survey=survey, by=worker, resident=resident, mode=Mode.PAPER,
            answers={"q1": needs, "q2": 5},
        )  # fmt: skip

    page.goto(f"/analysis/dashboard/?region={people.community.pk}")
    ranking = page.get_by_test_id("dashboard-ranking")
    year = str(timezone.localdate().year)
    care = ranking.locator("tr[data-category=elderly_care]")
    expect(care.locator(f"td[data-label='{year}']")).to_have_text("5")
    expect(ranking.locator("tr[data-category=health]").locator(f"td[data-label='{year}']")).to_have_text("<5")
    expect(ranking.locator("tr[data-category=culture]")).to_have_count(1)
    expect(ranking.locator("tbody tr").first).to_have_attribute("data-category", "elderly_care")
    expect(page.locator("#needs-chart canvas")).to_be_visible()

    with page.expect_download() as download:
        page.get_by_test_id("dashboard-export").click()
    workbook_file = tmp_path / download.value.suggested_filename
    assert workbook_file.suffix == ".xlsx"
    download.value.save_as(workbook_file)
    sheet = openpyxl.load_workbook(workbook_file).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][1:3] == (year, str(int(year) - 1))
    assert rows[1][1:4] == (5, 0, 5)  # elderly care first: five this year, none last year

    # The profile: the five women of 76 (and any of the personas that age) make a figure in the pyramid;
    # the one man of that age does not.
    today = timezone.localdate()
    women = Resident.objects.filter(
        community=people.community, sex="F",
        birth_date__gt=years_before(today, 80), birth_date__lte=years_before(today, 75),
    ).count()  # fmt: skip
    assert women >= 5
    page.goto(f"/analysis/profile/?region={people.community.pk}")
    expect(page.get_by_test_id("profile-population")).to_be_visible()
    band = page.get_by_test_id("profile-pyramid").locator("tr[data-band='75-79']")
    expect(band.locator("td").nth(1)).to_have_text(str(women))
    expect(band.locator("td").nth(0)).to_have_text("<5")
    expect(page.locator("#pyramid-chart canvas")).to_be_visible()
