"""Surveys: building, versioning, answering (online, assisted, paper), the one-answer rules, and the counts,
with every figure worked out by hand."""

import datetime
from decimal import Decimal

import pytest
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import translation

from conftest import make_user
from gongzhi.analysis import selectors, services
from gongzhi.analysis.models import (
    Action,
    Group,
    Mode,
    NeedStatus,
    OnePer,
    Response,
    SurveyParticipation,
    SurveyStatus,
)
from gongzhi.core.exceptions import ServiceError
from gongzhi.core.models import Resident, ResidentTag
from gongzhi.core.services import resident_create

TODAY = datetime.date(2026, 11, 28)


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def survey(people):
    """清波社区's needs survey for everyone, anonymous, one answer per resident: a needs question, a scale and
    an optional text."""
    survey = services.survey_create(
        by=people.community_worker, region=people.community, title="社区需求调查", year=2026
    )
    services.question_add(
        survey=survey, by=people.community_worker, kind="needs", text="您最需要哪些服务？", key="needs"
    )
    services.question_add(
        survey=survey,
        by=people.community_worker,
        kind="scale",
        text="您对社区服务满意吗？",
        key="satisfaction",
    )
    services.question_add(
        survey=survey,
        by=people.community_worker,
        kind="long_text",
        text="其他建议",
        key="ideas",
        required=False,
    )
    return services.survey_open(survey=survey, by=people.community_worker)


def refused(call, **kwargs) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        call(**kwargs)
    return caught.value


def residents(people, count, *, region=None, birth_date=None, tags=()):
    made = []
    for number in range(count):
        resident = resident_create(
            created_by=people.admin,
            region=region or people.building,
            name=f"居民{number}",
            room=f"9-{number}",
            tags=list(tags),
        )
        resident.birth_date = birth_date
        resident.save(update_fields=["birth_date"])
        made.append(resident)
    return made


# Building -------------------------------------------------------------------------------------------------


def test_it_numbers_questions_and_offers_the_needs_categories(survey):
    questions = list(survey.questions.all())
    assert [(q.number, q.key) for q in questions] == [(1, "needs"), (2, "satisfaction"), (3, "ideas")]
    assert "elderly_care" in questions[0].options
    assert (questions[1].minimum, questions[1].maximum) == (1, 5)


@pytest.mark.parametrize(
    ("kind", "options", "minimum", "maximum", "field"),
    [
        ("single", ["只有一个"], None, None, "options"),
        ("multiple", ["甲", "甲"], None, None, "options"),
        ("needs", ["not_a_category"], None, None, "options"),
        ("short_text", ["甲", "乙"], None, None, "options"),
        ("scale", [], 5, 5, "maximum"),
        ("scale", [], 0, 20, "maximum"),
        ("number", [], 10, 1, "maximum"),
        ("essay", [], None, None, "kind"),
    ],
)
def test_it_refuses_a_malformed_question(people, kind, options, minimum, maximum, field):
    survey = services.survey_create(by=people.community_worker, region=people.community, title="草稿")
    error = refused(
        services.question_add,
        survey=survey,
        by=people.community_worker,
        kind=kind,
        text="问题",
        options=options,
        minimum=minimum,
        maximum=maximum,
    )
    assert error.field == field
    assert not survey.questions.exists()


def test_only_the_communitys_staff_build_its_surveys(people):
    assert refused(services.survey_create, by=people.outsider, region=people.community, title="x")
    assert refused(services.survey_create, by=people.resident, region=people.community, title="x")
    street_survey = services.survey_create(by=people.street_officer, region=people.street, title="街道调查")
    assert street_survey.audience_region == people.street


def test_a_survey_with_answers_keeps_its_questions(people, survey):
    services.response_submit(
        survey=survey, by=people.resident, answers={"needs": ["health"], "satisfaction": 4}
    )
    error = refused(
        services.question_add, survey=survey, by=people.community_worker, kind="short_text", text="新问题"
    )
    assert "new version" in str(error.message)
    question = survey.questions.get(key="ideas")
    assert refused(services.question_remove, question=question, by=people.community_worker)


def test_a_new_version_keeps_the_keys_and_replaces_the_old_when_opened(people, survey):
    version = services.survey_new_version(survey=survey, by=people.community_worker)
    assert (version.version, version.status, version.lineage) == (2, SurveyStatus.DRAFT, survey.lineage)
    assert list(version.questions.values_list("key", flat=True)) == ["needs", "satisfaction", "ideas"]
    services.question_remove(question=version.questions.get(key="ideas"), by=people.community_worker)
    services.question_add(
        survey=version, by=people.community_worker, kind="short_text", text="联系方式？", key="contact"
    )
    assert list(version.questions.values_list("number", "key")) == [
        (1, "needs"),
        (2, "satisfaction"),
        (3, "contact"),
    ]
    assert refused(services.survey_new_version, survey=survey, by=people.community_worker)
    services.survey_open(survey=version, by=people.community_worker)
    survey.refresh_from_db()
    assert survey.status == SurveyStatus.CLOSED


def test_a_repeat_next_year_is_comparable_and_made_once(people, survey):
    repeat = services.survey_repeat(survey=survey, by=people.community_worker, year=2027)
    assert (repeat.year, repeat.version, repeat.lineage) == (2027, 1, survey.lineage)
    assert (
        refused(services.survey_repeat, survey=survey, by=people.community_worker, year=2027).field == "year"
    )
    assert (
        refused(services.survey_repeat, survey=survey, by=people.community_worker, year=2025).field == "year"
    )


def test_an_empty_survey_cannot_open(people):
    survey = services.survey_create(by=people.community_worker, region=people.community, title="空")
    assert "at least one question" in str(
        refused(services.survey_open, survey=survey, by=people.community_worker).message
    )


# Answering ------------------------------------------------------------------------------------------------


def test_a_resident_answers_once(people, survey):
    response = services.response_submit(
        survey=survey, by=people.resident, answers={"needs": ["health", "elderly_care"], "satisfaction": "4"}
    )
    assert response.mode == Mode.ONLINE and response.resident is None  # anonymous
    assert response.answers.count() == 3
    # For the participation ladder: that 张居民 answered a survey this month, and not which.
    participation = SurveyParticipation.objects.get()
    assert (participation.resident, participation.month.day) == (people.resident_record, 1)
    error = refused(
        services.response_submit,
        survey=survey,
        by=people.resident,
        answers={"needs": ["health"], "satisfaction": 3},
    )
    assert "already answered" in str(error.message)
    assert Response.objects.count() == 1


def test_the_database_refuses_a_second_answer_under_the_same_key(people, survey):
    response = services.response_submit(
        survey=survey, by=people.resident, answers={"needs": ["health"], "satisfaction": 4}
    )
    response.pk = None
    with pytest.raises(IntegrityError), transaction.atomic():
        response.save()


def test_it_lists_every_bad_answer_at_once_and_saves_nothing(people, survey):
    with pytest.raises(services.AnswersInvalid) as caught:
        services.response_submit(
            survey=survey,
            by=people.resident,
            answers={"needs": ["health", "health"], "satisfaction": 9, "nope": 1},
        )
    assert set(caught.value.errors) == {"needs", "satisfaction", "nope"}
    assert "1 to 5" in caught.value.errors["satisfaction"]
    assert not Response.objects.exists()


@pytest.mark.parametrize(
    ("answers", "key", "message"),
    [
        ({"satisfaction": 4}, "needs", "must be answered"),
        ({"needs": [], "satisfaction": 4}, "needs", "must be answered"),
        ({"needs": ["health"], "satisfaction": "3.5"}, "satisfaction", "scale"),
        ({"needs": ["health"], "satisfaction": "很好"}, "satisfaction", "number"),
        ({"needs": ["99"], "satisfaction": 3}, "needs", "options"),
        ({"needs": ["health"], "satisfaction": 3, "ideas": "长" * 5001}, "ideas", "5000"),
    ],
)
def test_it_refuses_each_bad_answer(people, survey, answers, key, message):
    with pytest.raises(services.AnswersInvalid) as caught:
        services.response_submit(survey=survey, by=people.resident, answers=answers)
    assert message in caught.value.errors[key]


def test_a_closed_survey_takes_no_answers(people, survey):
    services.survey_close(survey=survey, by=people.community_worker)
    error = refused(
        services.response_submit,
        survey=survey,
        by=people.resident,
        answers={"needs": ["health"], "satisfaction": 4},
    )
    assert "not open" in str(error.message)


def test_a_survey_for_the_elderly_refuses_younger_residents(people):
    survey = services.survey_create(
        by=people.community_worker, region=people.community, title="老年人需求", audience_group=Group.ELDERLY
    )
    services.question_add(
        survey=survey, by=people.community_worker, kind="needs", text="需要什么？", key="needs"
    )
    services.survey_open(survey=survey, by=people.community_worker)
    # 张居民 was born in 1990; 李奶奶 is tagged elderly and answers with a worker's help.
    assert "other residents" in str(
        refused(
            services.response_submit, survey=survey, by=people.resident, answers={"needs": ["health"]}
        ).message
    )
    response = services.response_submit(
        survey=survey,
        by=people.community_worker,
        resident=people.neighbour_record,
        answers={"needs": ["elderly_care"]},
        mode=Mode.ASSISTED,
    )
    assert (response.mode, response.entered_by) == (Mode.ASSISTED, people.community_worker)
    assert Group.ELDERLY in response.groups and Group.VULNERABLE in response.groups


def test_only_the_owners_enter_answers_for_others(people, survey):
    error = refused(
        services.response_submit,
        survey=survey,
        by=people.outsider,
        resident=people.neighbour_record,
        answers={"needs": ["health"], "satisfaction": 3},
        mode=Mode.PAPER,
    )
    assert "owners" in str(error.message)


def test_one_answer_per_household(people):
    survey = services.survey_create(
        by=people.community_worker,
        region=people.community,
        title="户调查",
        one_per=OnePer.HOUSEHOLD,
        anonymous=False,
    )
    services.question_add(
        survey=survey,
        by=people.community_worker,
        kind="number",
        text="家里几口人？",
        key="size",
        minimum=1,
        maximum=20,
    )
    services.survey_open(survey=survey, by=people.community_worker)
    same_home = resident_create(created_by=people.admin, region=people.building, name="张妻", room="1-101")
    services.response_submit(survey=survey, by=people.resident, answers={"size": 3})
    error = refused(
        services.response_submit,
        survey=survey,
        by=people.community_worker,
        resident=same_home,
        answers={"size": 3},
        mode=Mode.PAPER,
    )
    assert "household has already" in str(error.message)
    response = Response.objects.get()
    assert response.resident == people.resident_record  # identified: the owners see who answered
    assert list(selectors.respondents_of(survey)) == [response]


def test_a_resident_outside_the_audience_region_cannot_answer(people):
    survey = services.survey_create(
        by=people.community_worker,
        region=people.community,
        title="2栋调查",
        audience_region=people.building_2,
    )
    services.question_add(
        survey=survey, by=people.community_worker, kind="short_text", text="意见", key="idea"
    )
    services.survey_open(survey=survey, by=people.community_worker)
    assert refused(services.response_submit, survey=survey, by=people.resident, answers={"idea": "好"})
    assert selectors.surveys_open_to(people.resident) == []


# Counting -------------------------------------------------------------------------------------------------


def test_it_counts_the_answers_by_hand(people, survey):
    worker = people.community_worker
    # Seven on paper: health chosen by 5, elderly care by 3; satisfaction 2,3,3,4,4,4,5 (average 25/7).
    choices = [
        ["health"],
        ["health"],
        ["health", "elderly_care"],
        ["health", "elderly_care"],
        ["health"],
        ["elderly_care"],
        ["safety"],
    ]
    scores = [2, 3, 3, 4, 4, 4, 5]
    for resident, needs, score in zip(residents(people, 7), choices, scores, strict=True):
        services.response_submit(
            survey=survey,
            by=worker,
            resident=resident,
            answers={"needs": needs, "satisfaction": score},
            mode=Mode.PAPER,
        )
    total, results = selectors.survey_results(survey)
    assert total == 7
    needs, satisfaction, ideas = results
    counts = {option.label: option.count for option in needs.options}
    assert (counts["Health"], counts["Elderly care"], counts["Safety"], counts["Childcare and youth"]) == (
        5,
        3,
        1,
        0,
    )
    assert needs.options[[o.label for o in needs.options].index("Health")].share == Decimal("0.714")
    assert satisfaction.average == Decimal("3.57")
    assert (ideas.answered, ideas.texts) == (0, 0)


def test_a_breakdown_suppresses_small_counts(people, survey):
    worker = people.community_worker
    elderly = residents(people, 3, birth_date=datetime.date(1950, 1, 1))
    younger = residents(people, 6, region=people.building_2, birth_date=datetime.date(1990, 1, 1))
    for resident in elderly + younger:
        services.response_submit(
            survey=survey,
            by=worker,
            resident=resident,
            answers={"needs": ["health"], "satisfaction": 5},
            mode=Mode.PAPER,
        )
    total, results = selectors.survey_results(survey, group=Group.ELDERLY)
    assert total is None  # 3 elderly answered: fewer than 5, not shown
    assert results[0].options[[o.label for o in results[0].options].index("Health")].count is None
    assert results[1].average is None
    total, results = selectors.survey_results(survey, region=people.building_2)
    assert total == 6 and results[1].average == Decimal("5.00")


def test_the_needs_ranking_compares_with_last_year(people, survey):
    worker = people.community_worker
    next_year = services.survey_repeat(survey=survey, by=worker, year=2027)
    services.survey_open(survey=next_year, by=worker)
    people_2026 = residents(people, 6)
    for resident in people_2026:
        services.response_submit(
            survey=survey,
            by=worker,
            resident=resident,
            answers={"needs": ["health"], "satisfaction": 3},
            mode=Mode.PAPER,
        )
    for resident in people_2026[:5] + residents(people, 2, region=people.building_2):
        services.response_submit(
            survey=next_year,
            by=worker,
            resident=resident,
            answers={"needs": ["health", "safety"], "satisfaction": 3},
            mode=Mode.PAPER,
        )
    ranking = selectors.needs_ranking(people.community, year=2027)
    assert [(rank.category, rank.count, rank.last_year) for rank in ranking] == [
        ("health", 7, 6),
        ("safety", 7, 0),
    ]


def test_a_results_page_reads_in_a_fixed_number_of_queries(people, survey, django_assert_max_num_queries):
    for resident in residents(people, 12):
        services.response_submit(
            survey=survey,
            by=people.community_worker,
            resident=resident,
            answers={"needs": ["health"], "satisfaction": 4},
            mode=Mode.PAPER,
        )
    with django_assert_max_num_queries(4):
        selectors.survey_results(survey)


# The needs register ---------------------------------------------------------------------------------------


def test_a_need_rests_on_counted_answers_and_keeps_its_history(people, survey):
    worker = people.community_worker
    for resident in residents(people, 6):
        services.response_submit(
            survey=survey,
            by=worker,
            resident=resident,
            answers={"needs": ["health"], "satisfaction": 3},
            mode=Mode.PAPER,
        )
    need = services.need_create(
        by=worker,
        community=people.community,
        title="老人就医难",
        category="health",
        need_type="felt",
        groups=["elderly"],
    )
    question = survey.questions.get(key="needs")
    services.evidence_add_survey(
        need=need, by=worker, question=question, option=question.options.index("health")
    )
    services.evidence_add_note(need=need, by=worker, note="网格员走访发现2户独居老人无法自行就医", count=2)
    need.refresh_from_db()
    assert need.people_count == 8
    services.need_act(need=need, by=worker, text="联系社区卫生服务中心上门巡诊", status=NeedStatus.ADDRESSING)
    action = services.need_act(need=need, by=worker, text="每月上门巡诊已开展", status=NeedStatus.MET)
    assert (action.status_before, action.status_after) == (NeedStatus.ADDRESSING, NeedStatus.MET)
    with pytest.raises(DatabaseError), transaction.atomic():
        Action.objects.filter(pk=action.pk).update(text="改写历史")


def test_the_register_is_kept_by_the_communitys_staff(people):
    error = refused(
        services.need_create,
        by=people.outsider,
        community=people.community,
        title="x",
        category="health",
        need_type="felt",
    )
    assert "staff" in str(error.message)
    assert (
        refused(
            services.need_create,
            by=people.community_worker,
            community=people.community,
            title="x",
            category="health",
            need_type="felt",
            groups=["nobody"],
        ).field
        == "groups"
    )


def test_outsiders_cannot_reach_surveys_or_needs(people, survey):
    from django.http import Http404

    with pytest.raises(Http404):
        selectors.access_survey(people.outsider, survey.pk)
    with pytest.raises(Http404):
        selectors.access_run_survey(people.district_officer, survey.pk)  # the district reads, does not run it
    assert selectors.access_survey(people.district_officer, survey.pk) == survey


def test_an_unlinked_user_cannot_answer(people, survey):
    user = make_user("13600000055", "无档案")
    assert "resident record" in str(
        refused(
            services.response_submit, survey=survey, by=user, answers={"needs": ["health"], "satisfaction": 3}
        ).message
    )
    assert not Resident.objects.filter(user=user).exists()
    assert ResidentTag.objects.filter(resident=people.neighbour_record, tag="elderly").exists()
