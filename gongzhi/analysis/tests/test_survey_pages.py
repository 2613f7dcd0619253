"""The survey pages: building, answering by link, staff entry, results and export, and who sees what."""

import io

import openpyxl
import pytest
from django.urls import reverse
from django.utils import translation

from gongzhi.analysis import services
from gongzhi.analysis.models import Mode, Response, Survey, SurveyStatus
from gongzhi.core.models import AuditEvent
from gongzhi.core.services import resident_create


@pytest.fixture(autouse=True)
def english(settings):
    """Assertions read the English msgids, in the services and in the pages."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def survey(people):
    survey = services.survey_create(
        by=people.community_worker, region=people.community, title="社区需求调查", year=2026
    )
    services.question_add(
        survey=survey,
        by=people.community_worker,
        kind="single",
        text="您住了多久？",
        options=["一年内", "更久"],
        key="stay",
    )
    services.question_add(
        survey=survey, by=people.community_worker, kind="scale", text="满意吗？", key="satisfaction"
    )
    services.question_add(
        survey=survey, by=people.community_worker, kind="long_text", text="建议", key="ideas", required=False
    )
    return services.survey_open(survey=survey, by=people.community_worker)


def answer_url(survey):
    return reverse("analysis:survey_answer", args=[survey.link_token])


def residents(people, count):
    return [
        resident_create(created_by=people.admin, region=people.building, name=f"居民{n}", room=f"9-{n}")
        for n in range(count)
    ]


def enter(client, survey, resident, answers, mode=Mode.PAPER):
    return client.post(
        reverse("analysis:survey_enter", args=[survey.pk]), {"mode": mode, "resident": resident.pk, **answers}
    )


def test_it_builds_opens_and_shares_a_survey(people, login):
    client = login(people.community_worker)
    response = client.post(
        reverse("analysis:survey_new"),
        {
            "title": "文化活动调查",
            "region": people.community.pk,
            "audience_group": "all",
            "anonymous": "on",
            "one_per": "resident",
        },
    )
    survey = Survey.objects.get(title="文化活动调查")
    assert response.url == reverse("analysis:survey", args=[survey.pk])
    client.post(
        reverse("analysis:survey_question_add", args=[survey.pk]),
        {"kind": "multiple", "text": "喜欢什么活动？", "options": "唱歌\n跳舞\n书法", "required": "on"},
    )
    client.post(
        reverse("analysis:survey_question_add", args=[survey.pk]),
        {"kind": "scale", "text": "满意吗？", "minimum": 0, "maximum": 10},
    )
    assert [(q.kind, q.options) for q in survey.questions.all()] == [
        ("multiple", ["唱歌", "跳舞", "书法"]),
        ("scale", []),
    ]
    client.post(reverse("analysis:survey_open", args=[survey.pk]))
    survey.refresh_from_db()
    assert survey.status == SurveyStatus.OPEN
    page = client.get(reverse("analysis:survey", args=[survey.pk])).content.decode()
    assert f"http://testserver{answer_url(survey)}" in page
    assert "<svg" in page


def test_it_shows_a_malformed_question_and_saves_nothing(people, login):
    survey = services.survey_create(by=people.community_worker, region=people.community, title="草稿")
    response = login(people.community_worker).post(
        reverse("analysis:survey_question_add", args=[survey.pk]),
        {"kind": "single", "text": "只有一个选项？", "options": "唯一"},
    )
    assert response.status_code == 422
    assert "at least two options" in response.content.decode()
    assert not survey.questions.exists()


def test_a_resident_answers_by_link(people, login, survey):
    client = login(people.resident)
    assert client.get(answer_url(survey)).status_code == 200
    response = client.post(answer_url(survey), {"stay": "1", "satisfaction": "4", "ideas": "多办活动"})
    assert "Thank you" in response.content.decode()
    assert Response.objects.filter(survey=survey, mode=Mode.ONLINE).count() == 1
    again = client.get(answer_url(survey)).content.decode()
    assert "already answered" in again
    client.post(answer_url(survey), {"stay": "0", "satisfaction": "2"})
    assert Response.objects.filter(survey=survey).count() == 1


def test_missing_answers_show_on_their_questions_and_the_others_are_kept(people, login, survey):
    response = login(people.resident).post(answer_url(survey), {"ideas": "多办活动"})
    assert response.status_code == 422
    page = response.content.decode()
    assert page.count("This question must be answered.") == 2
    assert "多办活动" in page
    assert not Response.objects.exists()


def test_a_closed_survey_or_another_audience_refuses_answers(people, login, survey):
    services.survey_close(survey=survey, by=people.community_worker)
    client = login(people.resident)
    assert "not open" in client.get(answer_url(survey)).content.decode()
    client.post(answer_url(survey), {"stay": "1", "satisfaction": "4"})
    assert not Response.objects.exists()

    elsewhere = services.survey_create(
        by=people.community_worker,
        region=people.community,
        title="2栋调查",
        audience_region=people.building_2,
    )
    services.question_add(
        survey=elsewhere, by=people.community_worker, kind="short_text", text="意见", key="idea"
    )
    services.survey_open(survey=elsewhere, by=people.community_worker)
    assert "for other residents" in client.get(answer_url(elsewhere)).content.decode()


def test_staff_enter_a_stack_of_paper_forms(people, login, survey):
    client = login(people.community_worker)
    first, second = residents(people, 2)
    search = client.get(reverse("analysis:survey_enter", args=[survey.pk]), {"q": "居民", "mode": "paper"})
    assert "居民0" in search.content.decode() and "居民1" in search.content.decode()
    response = enter(client, survey, first, {"stay": "0", "satisfaction": "3"})
    assert response.status_code == 302
    page = client.get(response.url).content.decode()
    assert "Saved the answers of 居民0" in page
    assert "You have entered 1 response." in page
    enter(client, survey, second, {"stay": "1", "satisfaction": "5"})
    assert (
        Response.objects.filter(survey=survey, mode=Mode.PAPER, entered_by=people.community_worker).count()
        == 2
    )


def fill(people, survey, count, *, tags=()):
    for n, resident in enumerate(
        resident_create(
            created_by=people.admin,
            region=people.building,
            name=f"填{len(tags)}{n}",
            room=f"8-{n}",
            tags=list(tags),
        )
        for n in range(count)
    ):
        services.response_submit(
            survey=survey,
            by=people.community_worker,
            resident=resident,
            mode=Mode.PAPER,
            answers={"stay": str(n % 2), "satisfaction": "4"},
        )


def test_results_show_figures_and_suppress_small_breakdowns(people, login, survey):
    fill(people, survey, 6)
    fill(people, survey, 2, tags=["disability"])
    client = login(people.community_worker)
    page = client.get(reverse("analysis:survey_results", args=[survey.pk])).content.decode()
    assert "<strong>8</strong>" in page
    assert "50%" in page  # 4 of 8 stayed a year or less
    filtered = client.get(reverse("analysis:survey_results", args=[survey.pk]), {"group": "disability"})
    assert "<strong>&lt;5</strong>" in filtered.content.decode()


def test_the_export_has_the_figures_and_is_audited(people, login, survey):
    fill(people, survey, 6)
    response = login(people.community_worker).get(reverse("analysis:survey_results_export", args=[survey.pk]))
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert ("Responses", 6) == rows[1][:2]
    assert any(row[1] == "一年内" and row[2] == 3 for row in rows)
    assert AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT, target_id=str(survey.pk)).exists()


def test_only_the_owners_of_an_identified_survey_see_who_answered(people, login):
    survey = services.survey_create(
        by=people.community_worker, region=people.community, title="实名调查", anonymous=False
    )
    services.question_add(
        survey=survey, by=people.community_worker, kind="short_text", text="意见", key="idea"
    )
    services.survey_open(survey=survey, by=people.community_worker)
    services.response_submit(survey=survey, by=people.resident, answers={"idea": "好"})
    url = reverse("analysis:survey_results", args=[survey.pk])
    assert "张居民" in login(people.community_worker).get(url).content.decode()
    assert "张居民" not in login(people.district_officer).get(url).content.decode()


@pytest.mark.parametrize("name", ["survey", "survey_results", "survey_enter"])
def test_an_outsider_gets_404(people, login, survey, name):
    assert login(people.outsider).get(reverse(f"analysis:{name}", args=[survey.pk])).status_code == 404


@pytest.mark.parametrize("name", ["survey", "survey_results"])
def test_a_resident_gets_404(people, login, survey, name):
    assert login(people.resident).get(reverse(f"analysis:{name}", args=[survey.pk])).status_code == 404


def test_a_district_officer_reads_results_but_does_not_run_the_survey(people, login, survey):
    client = login(people.district_officer)
    assert client.get(reverse("analysis:survey_results", args=[survey.pk])).status_code == 200
    builder = client.get(reverse("analysis:survey", args=[survey.pk]))
    assert builder.url == reverse("analysis:survey_results", args=[survey.pk])
    assert client.get(reverse("analysis:survey_enter", args=[survey.pk])).status_code == 404
    assert client.post(reverse("analysis:survey_close", args=[survey.pk])).status_code == 404


def test_the_list_shows_staff_their_surveys_and_residents_theirs(people, login, survey):
    page = login(people.community_worker).get(reverse("analysis:surveys")).content.decode()
    assert "社区需求调查" in page and reverse("analysis:survey_new") in page
    resident_page = login(people.resident).get(reverse("analysis:surveys")).content.decode()
    assert answer_url(survey) in resident_page and reverse("analysis:survey_new") not in resident_page
    assert "No surveys are open" in login(people.outsider).get(reverse("analysis:surveys")).content.decode()


def test_the_list_and_results_take_a_bounded_number_of_queries(
    people, login, survey, django_assert_max_num_queries
):
    for year in (2027, 2028):
        services.survey_repeat(survey=survey, by=people.community_worker, year=year)
    fill(people, survey, 6)
    client = login(people.community_worker)
    with django_assert_max_num_queries(12):
        client.get(reverse("analysis:surveys"))
    with django_assert_max_num_queries(16):
        client.get(reverse("analysis:survey_results", args=[survey.pk]), {"group": "elderly"})
