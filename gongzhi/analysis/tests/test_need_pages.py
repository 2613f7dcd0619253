"""The needs register's pages and the needs dashboard: adding a need, resting it on survey answers, recording
what was done, the dashboard's figures and drill-down, and who may see what."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from gongzhi.analysis import services
from gongzhi.analysis.models import Action, Evidence, Mode, Need, NeedStatus
from gongzhi.core.services import region_create, resident_create

THIS_YEAR = timezone.localdate().year


@pytest.fixture(autouse=True)
def english(settings):
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


def needs_survey(people, *, year=THIS_YEAR, region=None, by=None):
    by = by or people.community_worker
    survey = services.survey_create(by=by, region=region or people.community, title="社区需求调查", year=year)
    services.question_add(survey=survey, by=by, kind="needs", text="您最需要哪些服务？", key="needs")
    services.question_add(
        survey=survey, by=by, kind="single", text="您住多久了？", key="years", options=["不到5年", "5年以上"]
    )
    return services.survey_open(survey=survey, by=by)


def answer_on_paper(people, survey, answers_list, *, region=None, by=None):
    for number, answers in enumerate(answers_list):
        resident = resident_create(
            created_by=people.admin,
            region=region or people.building,
            name=f"居民{survey.pk}-{number}",
            room=f"{survey.pk}-{number}",
        )
        services.response_submit(
            survey=survey,
            by=by or people.community_worker,
            resident=resident,
            answers=answers,
            mode=Mode.PAPER,
        )


def make_need(people, title="老人就医难", **fields):
    return services.need_create(
        by=people.community_worker,
        community=people.community,
        title=title,
        category=fields.pop("category", "health"),
        need_type=fields.pop("need_type", "felt"),
        **fields,
    )


def form_data(people, **changes):
    return {
        "community": people.community.pk,
        "title": "老旧小区加装电梯",
        "description": "院落老人上下楼困难",
        "category": "housing",
        "need_type": "normative",
        "groups": ["elderly", "disability"],
        "regions": [people.compound.pk],
    } | changes


# The register --------------------------------------------------------------------------------------------


def test_it_creates_a_need_through_the_page(people, login):
    client = login(people.community_worker)
    page = client.get(reverse("analysis:need_new"))
    assert page.status_code == 200
    assert "what people say they want" in page.content.decode()
    response = client.post(reverse("analysis:need_new"), form_data(people))
    need = Need.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("analysis:need", args=[need.pk])
    assert (need.community, need.category, need.need_type) == (people.community, "housing", "normative")
    assert need.groups == ["elderly", "disability"]
    assert list(need.regions.all()) == [people.compound]
    page = client.get(reverse("analysis:need", args=[need.pk])).content.decode()
    assert "老旧小区加装电梯" in page and "清波院落" in page


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"title": ""}, "title", "This field is required."),
        ({"groups": ["elderly", "nobody"]}, "groups", "Select a valid choice"),
        ({"regions": ["OTHER_BUILDING"]}, "regions", "Select a valid choice"),
        ({"need_type": "imagined"}, "need_type", "Select a valid choice"),
    ],
)
def test_it_shows_bad_input_and_saves_nothing(people, login, changes, field, message):
    if changes.get("regions") == ["OTHER_BUILDING"]:
        changes = {"regions": [people.other_building.pk]}
    response = login(people.community_worker).post(reverse("analysis:need_new"), form_data(people, **changes))
    assert response.status_code == 400
    assert message in str(response.context["form"].errors[field])
    assert not Need.objects.exists()


def test_it_refuses_a_region_of_another_community_the_user_also_keeps(people, login):
    """A street officer keeps every community of the street: the service, not the choices, refuses 东坡's
    region for a need of 清波."""
    grid = region_create(parent=people.sibling_community, name="东坡一网格", level="grid")
    response = login(people.street_officer).post(
        reverse("analysis:need_new"), form_data(people, regions=[grid.pk])
    )
    assert response.status_code == 400
    assert "within the community" in str(response.context["form"].errors["regions"])
    assert not Need.objects.exists()


def test_the_register_lists_filters_and_offers_adding_to_its_keepers(people, login):
    make_need(people, "老人就医难", groups=["elderly"])
    make_need(people, "儿童放学无人看护", category="childcare", groups=["children"])
    services.need_create(
        by=people.outsider,
        community=people.other_community,
        title="别区需求",
        category="health",
        need_type="felt",
    )
    page = login(people.community_worker).get(reverse("analysis:needs")).content.decode()
    assert "老人就医难" in page and "儿童放学无人看护" in page and "别区需求" not in page
    assert 'data-testid="need-add"' in page
    filtered = login(people.community_worker).get(reverse("analysis:needs"), {"group": "children"})
    assert [need.title for need in filtered.context["page"].object_list] == ["儿童放学无人看护"]
    filtered = login(people.community_worker).get(reverse("analysis:needs"), {"category": "health"})
    assert [need.title for need in filtered.context["page"].object_list] == ["老人就医难"]
    district = login(people.district_officer).get(reverse("analysis:needs")).content.decode()
    assert "老人就医难" in district and 'data-testid="need-add"' not in district


def test_the_register_reads_in_a_bounded_number_of_queries(people, login, django_assert_max_num_queries):
    for number in range(40):
        make_need(people, f"需求{number}", groups=["elderly"])
    client = login(people.street_officer)
    with django_assert_max_num_queries(10):
        response = client.get(reverse("analysis:needs"))
    assert len(response.context["page"].object_list) == 30


# A need's page -------------------------------------------------------------------------------------------


def test_evidence_from_a_survey_option_counts_its_answers(people, login):
    survey = needs_survey(people)
    answer_on_paper(
        people,
        survey,
        [{"needs": ["health"], "years": 1}] * 6 + [{"needs": ["safety"], "years": 0}] * 2,
    )
    need = make_need(people)
    client = login(people.community_worker)
    page = client.get(reverse("analysis:need", args=[need.pk]))
    question = survey.questions.get(key="needs")
    option = question.options.index("health")
    sources = dict(page.context["survey_form"].fields["source"].choices)
    assert (
        sources[f"{question.pk}:{option}"] == f"社区需求调查 ({THIS_YEAR}) › 您最需要哪些服务？ › Health (6)"
    )
    response = client.post(
        reverse("analysis:need_evidence_survey", args=[need.pk]), {"source": f"{question.pk}:{option}"}
    )
    assert response.status_code == 302
    need.refresh_from_db()
    assert need.people_count == 6
    assert Evidence.objects.get(need=need).count == 6
    response = client.post(
        reverse("analysis:need_evidence_note", args=[need.pk]), {"note": "走访发现两户独居老人", "count": "2"}
    )
    need.refresh_from_db()
    assert need.people_count == 8
    assert "走访发现两户独居老人" in client.get(reverse("analysis:need", args=[need.pk])).content.decode()


def test_an_option_outside_the_list_adds_no_evidence(people, login):
    survey = needs_survey(people)
    need = make_need(people)
    question = survey.questions.get(key="needs")
    response = login(people.community_worker).post(
        reverse("analysis:need_evidence_survey", args=[need.pk]), {"source": f"{question.pk}:99"}
    )
    assert response.status_code == 400
    assert not Evidence.objects.exists()


def test_an_action_moves_the_status_and_appears_in_the_history(people, login):
    need = make_need(people)
    client = login(people.community_worker)
    response = client.post(
        reverse("analysis:need_act", args=[need.pk]),
        {"text": "联系社区卫生服务中心上门巡诊", "status": NeedStatus.ADDRESSING},
    )
    assert response.status_code == 302
    need.refresh_from_db()
    assert need.status == NeedStatus.ADDRESSING
    page = client.get(reverse("analysis:need", args=[need.pk])).content.decode()
    assert "联系社区卫生服务中心上门巡诊" in page and "Identified → Being addressed" in page
    response = client.post(reverse("analysis:need_act", args=[need.pk]), {"text": "", "status": "met"})
    assert response.status_code == 400
    assert Action.objects.count() == 1


def test_a_reader_sees_a_need_read_only(people, login):
    need = make_need(people)
    client = login(people.district_officer)
    page = client.get(reverse("analysis:need", args=[need.pk]))
    assert page.status_code == 200 and 'data-testid="need-act-form"' not in page.content.decode()
    response = client.post(reverse("analysis:need_act", args=[need.pk]), {"text": "越权", "status": "met"})
    assert response.status_code == 404
    assert not Action.objects.exists()


@pytest.mark.parametrize("persona", ["outsider", "resident"])
def test_outsiders_and_residents_get_404(people, login, persona):
    need = make_need(people)
    client = login(getattr(people, persona))
    assert client.get(reverse("analysis:need", args=[need.pk])).status_code == 404
    assert (
        client.post(reverse("analysis:need_act", args=[need.pk]), {"text": "x", "status": "met"}).status_code
        == 404
    )
    if persona == "resident":
        assert client.get(reverse("analysis:needs")).status_code == 404
        assert client.get(reverse("analysis:need_new")).status_code == 404
        assert client.get(reverse("analysis:dashboard")).status_code == 404


# The dashboard -------------------------------------------------------------------------------------------


@pytest.fixture
def two_years(people):
    """Last year 6 chose health and 2 safety; this year 7 chose health, 5 safety and 3 elderly care, all in
    清波's building 1, and 6 in 东坡 chose housing."""
    last = needs_survey(people, year=THIS_YEAR - 1)
    answer_on_paper(people, last, [{"needs": ["health"], "years": 1}] * 6)
    answer_on_paper(people, last, [{"needs": ["safety"], "years": 1}] * 2)
    this = services.survey_repeat(survey=last, by=people.community_worker, year=THIS_YEAR)
    services.survey_open(survey=this, by=people.community_worker)
    answer_on_paper(people, this, [{"needs": ["health", "safety"], "years": 1}] * 5)
    answer_on_paper(people, this, [{"needs": ["health", "elderly_care"], "years": 1}] * 2)
    answer_on_paper(people, this, [{"needs": ["elderly_care"], "years": 1}])
    sibling = needs_survey(people, region=people.street, by=people.street_officer)
    sibling_building = region_create(parent=people.sibling_community, name="东坡1栋", level="building")
    answer_on_paper(
        people,
        sibling,
        [{"needs": ["housing"], "years": 1}] * 6,
        region=sibling_building,
        by=people.street_officer,
    )
    return last, this


def ranking_of(response):
    return [
        (row["rank"].category, row["rank"].count, row["rank"].last_year, row["change"])
        for row in response.context["rows"]
    ]


def test_the_dashboard_shows_a_communitys_needs_against_last_year(people, login, two_years):
    make_need(people)
    client = login(people.community_worker)
    response = client.get(reverse("analysis:dashboard"))
    assert response.context["region"] == people.community
    assert ranking_of(response) == [
        ("health", 7, 6, 1),
        ("safety", 5, None, None),  # last year's 2 are suppressed
        ("elderly_care", None, 0, None),  # this year's 3 are suppressed
    ]
    page = response.content.decode()
    assert "&lt;5" in page and 'id="needs-chart-data"' in page
    assert response.context["by_status"][0][2] == 1
    assert not response.context["children"]  # no drill-down below a community


def test_the_street_drills_down_to_its_communities(people, login, two_years):
    client = login(people.street_officer)
    response = client.get(reverse("analysis:dashboard"))
    assert response.context["region"] == people.street
    assert ("housing", 6, 0, 6) in ranking_of(response)
    children = [child for child, query in response.context["children"]]
    assert children == [people.community, people.sibling_community]
    query = dict(response.context["children"])[people.community]
    response = client.get(f"{reverse('analysis:dashboard')}?{query}")
    assert response.context["region"] == people.community
    assert [rank[0] for rank in ranking_of(response)] == ["health", "safety", "elderly_care"]


def test_the_district_drills_down_to_its_streets(people, login, two_years):
    response = login(people.district_officer).get(reverse("analysis:dashboard"))
    assert [child for child, query in response.context["children"]] == [people.street]


def test_the_elderly_tab_counts_only_the_elderly(people, login, two_years):
    response = login(people.community_worker).get(reverse("analysis:dashboard"), {"group": "elderly"})
    assert response.context["rows"] == []  # the paper answers above name no elderly resident


def test_another_streets_region_is_404(people, login):
    client = login(people.street_officer)
    assert client.get(reverse("analysis:dashboard"), {"region": people.other_community.pk}).status_code == 404
    assert client.get(reverse("analysis:dashboard"), {"region": "x"}).status_code == 404
    outsider = login(people.outsider)
    assert outsider.get(reverse("analysis:dashboard"), {"region": people.community.pk}).status_code == 404


def test_the_dashboard_reads_in_a_bounded_number_of_queries(
    people, login, two_years, django_assert_max_num_queries
):
    for number in range(20):
        make_need(people, f"需求{number}")
    client = login(people.street_officer)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("analysis:dashboard"), {"group": "elderly", "year": THIS_YEAR})
    assert response.status_code == 200


def test_a_bad_year_falls_back_to_this_year(people, login):
    response = login(people.community_worker).get(reverse("analysis:dashboard"), {"year": "abc"})
    assert response.status_code == 200 and response.context["year"] == datetime.date.today().year
