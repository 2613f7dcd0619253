"""The analysis API at /api/v1/analysis/: surveys to read and answer (online, or entered by their owners from
paper), their results with small counts suppressed, the needs register and the needs dashboard; refused
answers come back all at once and save nothing, and anything outside the caller's scope is a 404."""

import pytest
from django.test import Client
from django.utils import translation

from gongzhi.analysis import services
from gongzhi.analysis.models import Mode, Response
from gongzhi.analysis.tests import test_need_pages as need_pages
from gongzhi.analysis.tests.test_need_pages import THIS_YEAR, make_need, needs_survey

# The dashboard's fixture (gongzhi/analysis/tests/test_need_pages.py), shared rather than copied.
two_years = need_pages.two_years

API = "/api/v1/analysis"
EN = {"Accept-Language": "en"}


def get(client, url, **params):
    return client.get(f"{API}{url}", params, headers=EN)


def post(client, url, payload):
    return client.post(f"{API}{url}", payload, content_type="application/json", headers=EN)


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def ids(page) -> list[int]:
    return [item["id"] for item in page["items"]]


@pytest.fixture(autouse=True)
def english_messages():
    with translation.override("en"):
        yield


@pytest.fixture
def survey(people):
    """清波's open needs survey: a needs question (key "needs") and a single choice (key "years")."""
    return needs_survey(people)


# ---------------------------------------------------------------------------------------------- surveys


def test_it_answers_401_without_a_caller(client, db):
    assert client.get(f"{API}/surveys").status_code == 401


def test_a_resident_lists_the_surveys_open_to_them(people, survey):
    page = get(signed_in(people.resident), "/surveys").json()
    assert page["count"] == 1
    (item,) = page["items"]
    assert (item["id"], item["title"], item["status"]) == (survey.pk, "社区需求调查", "open")
    assert (item["open_to_me"], item["answered"]) == (True, False)
    assert item["region"]["name"] == "清波社区" and item["audience_group"] == "all"


def test_staff_list_the_surveys_they_oversee_and_outsiders_see_none(people, survey, token_for, token_client):
    draft = services.survey_create(by=people.community_worker, region=people.community, title="草稿")
    street = get(token_client(token_for(people.street_officer)), "/surveys").json()
    assert set(ids(street)) == {survey.pk, draft.pk}
    assert all(not item["open_to_me"] for item in street["items"])
    assert get(signed_in(people.outsider), "/surveys").json()["count"] == 0
    assert get(signed_in(people.resident), "/surveys", open_to_me=True).json()["count"] == 1


def test_a_survey_comes_with_its_questions(people, survey):
    response = get(signed_in(people.resident), f"/surveys/{survey.pk}")
    assert response.status_code == 200
    needs, years = response.json()["questions"]
    assert (needs["key"], needs["kind"], needs["required"]) == ("needs", "needs", True)
    assert {"index": 2, "value": "health", "label": "Health"} in needs["options"]
    assert years["options"] == [
        {"index": 0, "value": "不到5年", "label": "不到5年"},
        {"index": 1, "value": "5年以上", "label": "5年以上"},
    ]


def test_a_survey_outside_the_callers_reach_is_404(people, survey):
    assert get(signed_in(people.outsider), f"/surveys/{survey.pk}").status_code == 404
    assert get(signed_in(people.outsider), f"/surveys/{survey.pk}/results").status_code == 404
    assert (
        post(signed_in(people.outsider), f"/surveys/{survey.pk}/responses", {"answers": {}}).status_code
        == 404
    )
    assert get(signed_in(people.resident), "/surveys/999999").status_code == 404


def test_a_resident_answers_once(people, survey):
    client = signed_in(people.resident)
    response = post(
        client, f"/surveys/{survey.pk}/responses", {"answers": {"needs": ["health", 5], "years": 1}}
    )
    assert response.status_code == 201, response.json()
    assert (response.json()["survey_id"], response.json()["mode"]) == (survey.pk, "online")
    saved = Response.objects.get()
    assert saved.mode == Mode.ONLINE and saved.building == people.building
    assert sorted(saved.answers.values_list("option", flat=True)) == [
        1,
        2,
        5,
    ]  # years: 1; needs: health (2) and housing (5)
    assert get(client, f"/surveys/{survey.pk}").json()["answered"] is True

    again = post(client, f"/surveys/{survey.pk}/responses", {"answers": {"needs": ["safety"], "years": 0}})
    assert again.status_code == 400
    assert again.json()["detail"] == "This resident has already answered this survey."
    assert Response.objects.count() == 1


def test_bad_answers_come_back_all_at_once_and_nothing_is_saved(people, survey):
    response = post(
        signed_in(people.resident),
        f"/surveys/{survey.pk}/responses",
        {"answers": {"needs": ["health", "flying"], "colour": "blue"}},
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "colour": "This survey has no such question.",
        "needs": "Choose one of the options.",
        "years": "This question must be answered.",
    }
    assert not Response.objects.exists()


def test_staff_enter_a_paper_questionnaire_for_a_resident(people, survey):
    client = signed_in(people.community_worker)
    payload = {"answers": {"needs": ["elderly_care"], "years": 1}, "mode": "paper"}
    refused = post(client, f"/surveys/{survey.pk}/responses", payload)
    assert refused.status_code == 400 and refused.json()["field"] == "resident_id"

    payload["resident_id"] = people.neighbour_record.pk
    response = post(client, f"/surveys/{survey.pk}/responses", payload)
    assert response.status_code == 201, response.json()
    saved = Response.objects.get()
    assert (saved.mode, saved.entered_by, saved.building) == (
        "paper",
        people.community_worker,
        people.building_2,
    )

    online = post(client, f"/surveys/{survey.pk}/responses", payload | {"mode": "online"})
    assert online.status_code == 400 and online.json()["field"] == "mode"
    assert Response.objects.count() == 1


def test_staff_cannot_enter_answers_for_a_resident_outside_their_roster(people, survey):
    payload = {"answers": {"needs": ["health"], "years": 1}, "mode": "assisted"}
    payload["resident_id"] = people.other_resident_record.pk
    response = post(signed_in(people.community_worker), f"/surveys/{survey.pk}/responses", payload)
    assert response.status_code == 404
    # A resident may not enter answers for a neighbour: the service's refusal.
    payload["resident_id"] = people.neighbour_record.pk
    response = post(signed_in(people.resident), f"/surveys/{survey.pk}/responses", payload)
    assert response.status_code == 400
    assert response.json()["detail"] == "Only the survey's owners can enter answers for residents."
    assert not Response.objects.exists()


def test_results_are_counted_and_small_breakdowns_suppressed(people, survey):
    need_pages.answer_on_paper(people, survey, [{"needs": ["health"], "years": 1}] * 6)
    need_pages.answer_on_paper(people, survey, [{"needs": ["safety"], "years": 0}] * 2)
    client = signed_in(people.street_officer)
    results = get(client, f"/surveys/{survey.pk}/results").json()
    assert (results["total"], results["group"], results["region"]) == (8, "", None)
    needs = results["questions"][0]
    assert (needs["key"], needs["answered"]) == ("needs", 8)
    counts = {option["label"]: option["count"] for option in needs["options"]}
    assert (counts["Health"], counts["Safety"], counts["Housing and repairs"]) == (6, 2, 0)
    assert next(o for o in needs["options"] if o["label"] == "Health")["share"] == "0.750"

    building = get(client, f"/surveys/{survey.pk}/results", region_id=people.building.pk).json()
    assert building["region"]["name"] == "1栋" and building["total"] == 8
    counts = {option["label"]: option["count"] for option in building["questions"][0]["options"]}
    assert (counts["Health"], counts["Safety"]) == (6, None)  # 2 is suppressed

    elderly = get(client, f"/surveys/{survey.pk}/results", group="elderly").json()
    assert elderly["total"] == 0 and elderly["group"] == "elderly"
    assert get(client, f"/surveys/{survey.pk}/results", region_id=people.other_building.pk).status_code == 404
    assert get(signed_in(people.resident), f"/surveys/{survey.pk}/results").status_code == 404


def test_the_survey_list_reads_in_a_bounded_number_of_queries(people, survey, django_assert_max_num_queries):
    for number in range(20):
        services.survey_create(by=people.community_worker, region=people.community, title=f"调查{number}")
    client = signed_in(people.community_worker)
    with django_assert_max_num_queries(10):
        response = get(client, "/surveys")
    assert response.json()["count"] == 21


# ------------------------------------------------------------------------------------------------- needs


def test_the_register_lists_filters_and_shows_a_need(people):
    health = make_need(people, "老人就医难", groups=["elderly"])
    make_need(people, "儿童放学无人看护", category="childcare", groups=["children"])
    services.evidence_add_note(need=health, by=people.community_worker, note="走访发现", count=12)
    services.need_act(need=health, by=people.community_worker, text="联系社区医院上门", status="addressing")
    client = signed_in(people.district_officer)
    page = get(client, "/needs").json()
    assert [item["title"] for item in page["items"]] == ["老人就医难", "儿童放学无人看护"]
    assert page["items"][0]["people_count"] == 12 and page["items"][0]["status"] == "addressing"
    assert [item["title"] for item in get(client, "/needs", group="children").json()["items"]] == [
        "儿童放学无人看护"
    ]
    assert [item["title"] for item in get(client, "/needs", category="childcare").json()["items"]] == [
        "儿童放学无人看护"
    ]
    assert get(client, "/needs", community_id=people.community.pk).json()["count"] == 2
    assert get(client, "/needs", category="nonsense").status_code == 422

    detail = get(client, f"/needs/{health.pk}").json()
    assert detail["community"]["name"] == "清波社区" and detail["category_label"] == "Health"
    assert [(e["kind"], e["count"], e["note"]) for e in detail["evidence"]] == [("note", 12, "走访发现")]
    assert [(a["text"], a["status_after"]) for a in detail["actions"]] == [("联系社区医院上门", "addressing")]


def test_needs_outside_the_callers_scope_are_404(people):
    need = make_need(people)
    outsider = signed_in(people.outsider)
    assert get(outsider, f"/needs/{need.pk}").status_code == 404
    assert get(outsider, "/needs").json()["count"] == 0
    assert get(outsider, "/needs", community_id=people.community.pk).status_code == 404
    assert get(signed_in(people.resident), f"/needs/{need.pk}").status_code == 404


def test_the_register_reads_in_a_bounded_number_of_queries(people, django_assert_max_num_queries):
    for number in range(30):
        make_need(people, f"需求{number}")
    client = signed_in(people.street_officer)
    with django_assert_max_num_queries(12):
        response = get(client, "/needs", limit=30)
    assert len(response.json()["items"]) == 30


# --------------------------------------------------------------------------------------------- dashboard


def test_the_dashboard_ranks_a_communitys_needs_against_last_year(people, two_years):
    make_need(people)
    response = get(signed_in(people.community_worker), "/dashboard")
    assert response.status_code == 200
    dashboard = response.json()
    assert (dashboard["region"]["id"], dashboard["year"], dashboard["group"]) == (
        people.community.pk,
        THIS_YEAR,
        "",
    )
    assert [
        (rank["category"], rank["count"], rank["last_year"], rank["change"]) for rank in dashboard["ranking"]
    ] == [("health", 7, 6, 1), ("safety", 5, None, None), ("elderly_care", None, 0, None)]
    assert dashboard["needs_by_status"][0] == {"status": "identified", "label": "Identified", "count": 1}


def test_a_street_officer_drills_into_a_community_but_not_another_street(people, two_years):
    client = signed_in(people.street_officer)
    street = get(client, "/dashboard").json()
    assert ("housing", 6) in [(rank["category"], rank["count"]) for rank in street["ranking"]]
    community = get(client, "/dashboard", region_id=people.community.pk, group="elderly").json()
    assert (community["region"]["name"], community["ranking"]) == ("清波社区", [])
    assert get(client, "/dashboard", region_id=people.other_community.pk).status_code == 404
    assert get(client, "/dashboard", year=1800).status_code == 422
    assert get(signed_in(people.resident), "/dashboard").status_code == 404


def test_the_openapi_document_lists_the_analysis_paths(client, db):
    paths = set(client.get("/api/v1/openapi.json").json()["paths"])
    assert {
        f"{API}/surveys",
        f"{API}/surveys/{{survey_id}}",
        f"{API}/surveys/{{survey_id}}/responses",
        f"{API}/surveys/{{survey_id}}/results",
        f"{API}/needs",
        f"{API}/needs/{{need_id}}",
        f"{API}/dashboard",
    } <= paths
