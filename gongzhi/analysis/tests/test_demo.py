"""The demo's community analysis: it loads through the services, and the needs dashboard of 清波社区 has
figures for both years, ranked differently."""

import pytest
from django.db.models import Count
from django.utils import timezone

from gongzhi.analysis import selectors
from gongzhi.analysis.demo import ANSWERS_A_YEAR, demo_analysis_create
from gongzhi.analysis.models import Asset, AssetKind, Mode, Need, NeedStatus, Response, Survey, SurveyStatus
from gongzhi.core.demo import demo_district_build

HOUSEHOLDS = 80  # enough adults in 清波 for the full 150 answers a year


@pytest.fixture
def built(db):
    built = demo_district_build(households=HOUSEHOLDS)
    demo_analysis_create(built)
    return built


def test_it_loads_both_editions_of_the_needs_survey_answered_on_paper_or_assisted(built):
    this_year = timezone.localdate().year
    editions = Survey.objects.filter(title="社区居民需求调查").order_by("year")
    assert [(s.year, s.status) for s in editions] == [
        (this_year - 1, SurveyStatus.CLOSED),
        (this_year, SurveyStatus.OPEN),
    ]
    assert editions[0].lineage == editions[1].lineage
    for survey in editions:
        assert list(survey.questions.values_list("key", "kind")) == [
            ("needs", "needs"),
            ("satisfaction", "scale"),
            ("times", "multiple"),
            ("ideas", "long_text"),
        ]
        responses = Response.objects.filter(survey=survey)
        assert responses.count() == ANSWERS_A_YEAR
        assert set(responses.values_list("mode", flat=True)) == {Mode.PAPER, Mode.ASSISTED}
        assert set(responses.values_list("entered_by", flat=True)) == {built.users["community_worker"].pk}
        # One answer per resident: every respondent key differs.
        assert responses.values("respondent_key").distinct().count() == ANSWERS_A_YEAR
        assert all(r.submitted_at.year == survey.year for r in responses)

    meals = Survey.objects.get(title="老年人助餐需求调查")
    assert (meals.status, meals.audience_group) == (SurveyStatus.OPEN, "elderly")
    assert all(",elderly," in groups for groups in meals.responses.values_list("groups", flat=True))
    assert meals.responses.exists()


def test_the_dashboard_ranks_this_years_needs_against_last_years(built):
    qingbo = built.places["qingbo"]
    ranking = selectors.needs_ranking(qingbo, year=timezone.localdate().year)

    assert ranking[0].category == "elderly_care"
    by_category = {rank.category: rank for rank in ranking}
    assert by_category["elderly_care"].change > 0
    assert by_category["environment"].change < 0
    assert all(rank.count is not None and rank.last_year is not None for rank in ranking[:5])
    last_year_top = max(ranking, key=lambda rank: rank.last_year or 0)
    assert last_year_top.category == "environment"


def test_the_register_rests_on_the_surveys_and_actions_moved_needs(built):
    needs = Need.objects.filter(community=built.places["qingbo"])
    assert 4 <= needs.count() <= 5
    statuses = dict(needs.values_list("status").annotate(n=Count("pk")).order_by())
    assert {NeedStatus.PLANNED, NeedStatus.ADDRESSING, NeedStatus.MET} <= set(statuses)
    meals = needs.get(category="elderly_care")
    assert meals.people_count > 12  # the survey's answers and the visit's twelve
    assert {evidence.kind for evidence in meals.evidence.all()} == {"survey", "note"}


def test_the_asset_map_holds_every_kind_but_work_units_and_skills_have_consent(built):
    assets = Asset.objects.filter(community=built.places["qingbo"])
    kinds = set(assets.values_list("kind", flat=True))
    assert kinds == {
        AssetKind.SKILL,
        AssetKind.ASSOCIATION,
        AssetKind.INSTITUTION,
        AssetKind.SPACE,
        AssetKind.CULTURE,
    }
    skills = assets.filter(kind=AssetKind.SKILL)
    assert skills.count() == 3
    assert all(skill.willing_to_help and skill.resident.community == skill.community for skill in skills)
    assert assets.filter(name="清波书画社").exists()
