"""The matters API at /api/v1/matters/: scope, reporting, the handling journey, refusals and personal data."""

import pytest
from django.test import Client

from gongzhi.core.services import api_token_create
from gongzhi.matters.models import Category, CoHandler, Event, Matter, Status, Tier

MATTERS = "/api/v1/matters/"


def get(client, url, **params):
    return client.get(url, params, headers={"Accept-Language": "en"})


def post(client, url, payload=None):
    return client.post(url, payload or {}, content_type="application/json", headers={"Accept-Language": "en"})


def bearer(user) -> Client:
    _token, secret = api_token_create(user=user, name="script")
    return Client(enforce_csrf_checks=True, headers={"Authorization": f"Bearer {secret}"})


def ids(page) -> set[int]:
    return {item["id"] for item in page["items"]}


# Scope


def test_it_lists_public_matters_to_an_outsider_but_not_private_ones(people, login, report):
    public = report("repairs")
    private = report("neighbour-dispute", description="楼上装修太吵")
    page = get(login(people.outsider), MATTERS).json()
    assert ids(page) == {public.pk}
    assert page["count"] == 1
    assert private.pk in ids(get(login(people.compound_leader), MATTERS).json())


def test_it_answers_404_for_a_private_matter_outside_scope(people, login, report):
    private = report("neighbour-dispute", description="楼上装修太吵")
    url = f"{MATTERS}{private.pk}"
    response = get(login(people.outsider), url)
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}
    assert get(login(people.outsider), f"{MATTERS}999999").json() == {"detail": "Not found."}
    assert get(login(people.resident), url).status_code == 200
    assert get(login(people.compound_leader), url).status_code == 200


def test_it_refuses_any_action_on_a_matter_outside_scope_with_404(people, login, report):
    private = report("neighbour-dispute", description="楼上装修太吵")
    response = post(login(people.outsider), f"{MATTERS}{private.pk}/accept")
    assert response.status_code == 404
    assert Matter.objects.get(pk=private.pk).status == Status.SUBMITTED


def test_it_answers_401_without_a_caller(client, db):
    assert client.get(MATTERS).status_code == 401


def test_it_filters_by_status_category_region_and_mine(people, login, report, categories):
    repairs = report("repairs")
    noise = report("noise", by=people.building_leader, region=people.building_2)
    elsewhere = report("repairs", by=people.outsider, region=people.other_building)
    client = login(people.admin)
    assert ids(get(client, MATTERS, category="noise").json()) == {noise.pk}
    assert ids(get(client, MATTERS, region_id=people.community.pk).json()) == {repairs.pk, noise.pk}
    assert ids(get(client, MATTERS, region_id=people.building_2.pk).json()) == {noise.pk}
    assert ids(get(client, MATTERS, region_id=people.other_district.pk).json()) == {elsewhere.pk}
    assert ids(get(client, MATTERS, status="closed").json()) == set()
    assert get(client, MATTERS, status="lost").status_code == 422
    assert ids(get(login(people.resident), MATTERS, mine=True).json()) == {repairs.pk}


def test_it_lists_newest_first_and_pages(people, login, report):
    matters = [report("repairs", description=f"第{n}件") for n in range(3)]
    page = get(login(people.resident), MATTERS, limit=2).json()
    assert page["count"] == 3
    assert [item["id"] for item in page["items"]] == [matters[2].pk, matters[1].pk]


def test_it_lists_a_handlers_queue(people, login, report):
    at_compound = report("repairs")
    at_community = report("parking", description="车位被占")
    assert ids(get(login(people.compound_leader), MATTERS, queue=True).json()) == {at_compound.pk}
    assert ids(get(login(people.community_worker), MATTERS, queue=True).json()) == {at_community.pk}
    assert ids(get(login(people.resident), MATTERS, queue=True).json()) == set()
    assert ids(get(login(people.compound_leader), MATTERS, queue=True, mine=True).json()) == set()


def test_it_lists_matters_in_a_bounded_number_of_queries(
    people, login, report, django_assert_max_num_queries
):
    # The session, the user, their roles, the count and one page: five, however many matters there are.
    client = login(people.community_worker)
    for n in range(3):
        report("repairs", description=f"第{n}件")
    with django_assert_max_num_queries(5):
        assert get(client, MATTERS).json()["count"] == 3
    for n in range(17):
        report("noise" if n % 2 else "neighbour-dispute", by=people.building_leader, description=f"第{n}件")
    client = login(people.community_worker)
    with django_assert_max_num_queries(5):
        page = get(client, MATTERS).json()
    assert page["count"] == 20
    assert all(item["reporter_name"] for item in page["items"])


# Reporting


def test_it_reports_a_matter_at_the_callers_building_and_routes_it(people, report, categories):
    response = post(
        bearer(people.resident),
        MATTERS,
        {"category_id": categories["repairs"].pk, "description": "楼道灯坏了\n三楼", "urgency": "urgent"},
    )
    assert response.status_code == 201
    matter = response.json()
    assert matter["region"] == {"id": people.building.pk, "name": "1栋", "level": "building"}
    assert matter["tier"] == Tier.COMPOUND
    assert matter["handling_region"]["id"] == people.compound.pk
    assert matter["status"] == "submitted" and matter["urgency"] == "urgent"
    assert matter["summary"] == "楼道灯坏了"
    assert matter["reporter_name"] == "张居民"
    assert [event["kind"] for event in matter["timeline"]] == ["submitted"]
    assert matter["allowed_actions"] == ["withdraw"]
    stored = Matter.objects.get(pk=matter["id"])
    assert stored.reporter == people.resident and stored.entered_by == people.resident


def test_it_reports_at_a_chosen_place_with_coordinates(people, login, categories):
    response = post(
        login(people.resident),
        MATTERS,
        {
            "category_id": categories["parking"].pk,
            "description": "车位被占",
            "region_id": people.community.pk,
            "latitude": 30.6712345678,
            "longitude": 104.0212345678,
        },
    )
    assert response.status_code == 201
    matter = response.json()
    assert matter["tier"] == Tier.COMMUNITY and matter["region"]["id"] == people.community.pk
    assert matter["latitude"] == 30.671235 and matter["longitude"] == 104.021235


def test_it_reports_for_a_resident_without_an_account_at_their_building(people, login, categories):
    response = post(
        login(people.grid_worker),
        MATTERS,
        {
            "category_id": categories["repairs"].pk,
            "description": "李奶奶家门口的扶手松了",
            "on_behalf_of_resident_id": people.neighbour_record.pk,
        },
    )
    assert response.status_code == 201
    matter = response.json()
    assert matter["region"]["id"] == people.building_2.pk
    assert matter["reporter_name"] == "李奶奶"
    stored = Matter.objects.get(pk=matter["id"])
    assert stored.entered_by == people.grid_worker and stored.on_behalf_of == people.neighbour_record


def test_it_answers_404_for_a_resident_outside_the_callers_scope(people, login, categories):
    response = post(
        login(people.grid_worker),
        MATTERS,
        {
            "category_id": categories["repairs"].pk,
            "description": "扶手松了",
            "on_behalf_of_resident_id": people.other_resident_record.pk,
        },
    )
    assert response.status_code == 404
    assert not Matter.objects.exists()


def test_it_refuses_an_unknown_category_and_creates_nothing(people, login, categories):
    response = post(login(people.resident), MATTERS, {"category_id": 999999, "description": "楼道灯坏了"})
    assert response.status_code == 400
    assert response.json() == {"detail": "Choose a category from the list.", "field": "category_id"}
    assert not Matter.objects.exists() and not Event.objects.exists()


def test_it_refuses_a_category_another_community_configured(people, login, categories):
    own = Category.objects.create(
        community=people.other_community,
        code="canal",
        name="Canal",
        category_class="general",
        first_tier=Tier.COMMUNITY,
        response_amount=1,
        response_unit="working_days",
        resolution_amount=7,
        resolution_unit="working_days",
    )
    response = post(login(people.resident), MATTERS, {"category_id": own.pk, "description": "河道有垃圾"})
    assert response.status_code == 400
    assert response.json()["field"] == "category_id"
    assert not Matter.objects.exists()


def test_it_refuses_a_description_over_4000_characters_and_creates_nothing(people, login, categories):
    payload = {"category_id": categories["repairs"].pk, "description": "灯" * 4001}
    response = post(login(people.resident), MATTERS, payload)
    # Shape errors are ninja's 422 with a list of details, like every router (gongzhi/api/errors.py).
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "payload", "description"]
    assert not Matter.objects.exists()
    assert post(login(people.resident), MATTERS, payload | {"description": "灯" * 4000}).status_code == 201


def test_it_refuses_a_blank_description_with_the_services_message(people, login, categories):
    response = post(
        login(people.resident), MATTERS, {"category_id": categories["repairs"].pk, "description": " "}
    )
    assert response.status_code == 400
    assert response.json() == {"detail": "This field is required.", "field": "description"}
    assert not Matter.objects.exists()


def test_it_asks_for_a_place_when_the_caller_has_no_home(people, login, categories):
    response = post(
        login(people.street_officer), MATTERS, {"category_id": categories["repairs"].pk, "description": "x"}
    )
    assert response.status_code == 400
    assert response.json()["field"] == "region_id"
    assert not Matter.objects.exists()


def test_it_lists_the_categories_of_a_community_with_tier_and_deadlines(people, login, categories):
    client = login(people.resident)
    response = get(client, f"{MATTERS}categories")
    assert response.status_code == 200
    by_code = {category["code"]: category for category in response.json()}
    assert by_code["gas-leak"]["name"] == "Gas leak or fire risk"
    assert by_code["gas-leak"]["first_tier"] == "community"
    assert by_code["gas-leak"]["response_deadline"] == {
        "amount": 1,
        "unit": "hours",
        "unit_label": "hours, every day",
    }
    assert by_code["repairs"]["resolution_deadline"]["unit"] == "working_days"
    assert by_code["neighbour-dispute"]["is_private"] is True
    assert get(client, f"{MATTERS}categories", community_id=people.other_community.pk).status_code == 200
    assert get(client, f"{MATTERS}categories", community_id=people.building.pk).status_code == 404


def test_it_finds_similar_matters_nearby(people, login, report):
    nearby = report("repairs")
    report("noise")
    report("repairs", by=people.outsider, region=people.other_building)
    client = login(people.resident)
    assert [matter["id"] for matter in get(client, f"{MATTERS}similar", category="repairs").json()] == [
        nearby.pk
    ]
    in_compound = get(client, f"{MATTERS}similar", category="repairs", region_id=people.building_2.pk).json()
    assert [matter["id"] for matter in in_compound] == [nearby.pk]
    # Without a home building, the caller says where.
    assert get(login(people.building_leader), f"{MATTERS}similar", category="repairs").status_code == 400


# Handling


def test_it_takes_a_matter_through_the_whole_journey(people, login, report, categories):
    created = post(
        login(people.resident), MATTERS, {"category_id": categories["repairs"].pk, "description": "灯坏了"}
    )
    url = f"{MATTERS}{created.json()['id']}"

    leader = login(people.compound_leader)
    assert post(leader, f"{url}/accept", {"note": "马上去看"}).json()["status"] == "accepted"
    escalated = post(leader, f"{url}/escalate", {"reason": "需要社区出面"}).json()
    assert (escalated["status"], escalated["tier"]) == ("submitted", "community")
    # The compound no longer handles it; like any neighbour, the leader may still say "me too".
    assert escalated["allowed_actions"] == ["me-too"]

    worker = login(people.community_worker)
    assert post(worker, f"{url}/accept").json()["status"] == "accepted"
    resolved = post(worker, f"{url}/resolve", {"note": "已更换灯泡"}).json()
    assert resolved["status"] == "resolved"

    reporter = login(people.resident)
    assert get(reporter, url).json()["allowed_actions"] == ["confirm"]
    closed = post(reporter, f"{url}/confirm", {"resolved": True, "rating": 5, "comment": "很快"}).json()
    assert closed["status"] == "closed" and closed["confirmation"] == "resolved"
    assert closed["rating"] == 5 and closed["rating_comment"] == "很快"
    assert [event["kind"] for event in closed["timeline"]] == [
        "submitted",
        "accepted",
        "escalated",
        "accepted",
        "resolved",
        "confirmed",
    ]
    assert [event["actor_name"] for event in closed["timeline"]] == [
        None,
        "院落长",
        "院落长",
        "社区工作者",
        "社区工作者",
        None,
    ]
    assert closed["timeline"][2]["note"] == "需要社区出面"
    assert closed["timeline"][2]["kind_label"] == "Escalated"
    assert closed["allowed_actions"] == []
    matter = Matter.objects.get(pk=created.json()["id"])
    assert matter.resolved_tier == Tier.COMMUNITY and matter.escalations_by_hand == 1


def test_it_refuses_a_second_accept_and_changes_nothing(people, login, report):
    matter = report("parking", description="车位被占")
    url = f"{MATTERS}{matter.pk}/accept"
    assert post(login(people.community_worker), url).status_code == 200
    accepted = Matter.objects.get(pk=matter.pk)
    events = Event.objects.filter(matter=matter).count()

    response = post(login(people.community_secretary), url)
    assert response.status_code == 400
    assert response.json() == {
        "detail": "This matter has already been accepted by someone else.",
        "field": None,
    }
    again = Matter.objects.get(pk=matter.pk)
    assert (again.status, again.first_response_at) == (Status.ACCEPTED, accepted.first_response_at)
    assert Event.objects.filter(matter=matter).count() == events


def test_it_refuses_a_transition_not_allowed_now(people, login, report):
    matter = report("repairs")
    client = login(people.compound_leader)
    response = post(client, f"{MATTERS}{matter.pk}/resolve", {"note": "好了"})
    assert response.status_code == 400
    assert response.json()["detail"] == "This cannot be done while the matter is “Submitted”."
    assert (
        post(
            login(people.resident), f"{MATTERS}{matter.pk}/confirm", {"resolved": True, "rating": 5}
        ).status_code
        == 400
    )
    assert Matter.objects.get(pk=matter.pk).status == Status.SUBMITTED
    assert Event.objects.filter(matter=matter).count() == 1


def test_it_refuses_a_handler_action_by_someone_who_is_not_the_handler(people, login, report):
    matter = report("repairs")
    response = post(login(people.community_worker), f"{MATTERS}{matter.pk}/accept")
    assert response.status_code == 400
    assert response.json()["detail"] == "Only the handlers at this matter's current tier can do that."


def test_it_refuses_a_rating_out_of_range_as_a_shape_error(people, login, report):
    matter = report("repairs")
    response = post(login(people.resident), f"{MATTERS}{matter.pk}/confirm", {"resolved": True, "rating": 6})
    assert response.status_code == 422


def test_it_returns_withdraws_and_marks_duplicates(people, login, report):
    first = report("repairs")
    second = report("repairs", description="灯又坏了")
    third = report("repairs", description="还是灯")
    leader = login(people.compound_leader)
    returned = post(leader, f"{MATTERS}{first.pk}/return", {"reason": "属于物业"}).json()
    assert returned["tier"] == "community"
    duplicate = post(leader, f"{MATTERS}{second.pk}/duplicate", {"original_id": first.pk}).json()
    assert duplicate["status"] == "duplicate" and duplicate["duplicate_of_id"] == first.pk
    missing = post(leader, f"{MATTERS}{third.pk}/duplicate", {"original_id": 999999})
    assert missing.status_code == 404
    self_duplicate = post(leader, f"{MATTERS}{third.pk}/duplicate", {"original_id": third.pk})
    assert self_duplicate.status_code == 400 and self_duplicate.json()["field"] == "original_id"
    withdrawn = post(login(people.resident), f"{MATTERS}{third.pk}/withdraw", {"reason": "自己修好了"}).json()
    assert withdrawn["status"] == "withdrawn"


def test_it_lets_a_neighbour_say_me_too_once(people, login, report):
    matter = report("repairs")
    url = f"{MATTERS}{matter.pk}/me-too"
    neighbour = login(people.building_leader)
    assert "me-too" in get(neighbour, f"{MATTERS}{matter.pk}").json()["allowed_actions"]
    response = post(neighbour, url)
    assert response.status_code == 200
    assert response.json()["me_too_count"] == 1
    assert "me-too" not in response.json()["allowed_actions"]
    assert response.json()["timeline"][-1] | {"at": None} == {
        "kind": "me_too",
        "kind_label": "Someone else has this problem too",
        "at": None,
        "tier": "compound",
        "status": "submitted",
        "note": "",
        "actor_name": None,
        "organisation": None,
    }
    assert post(neighbour, url).status_code == 400
    assert post(login(people.resident), url).status_code == 400


def test_it_has_called_in_departments_accept_and_report_before_resolving(people, login, report):
    matter = report("building-safety", description="外墙开裂")
    url = f"{MATTERS}{matter.pk}"
    officer = login(people.street_officer)
    assert post(officer, f"{url}/accept").status_code == 200
    called = post(
        officer, f"{url}/call-in", {"organisation_ids": [people.agency.pk], "note": "请评估"}
    ).json()
    assert "call-in" in called["allowed_actions"] and "resolve" not in called["allowed_actions"]
    co_handler = called["co_handlers"][0]
    assert co_handler["organisation"]["name"] == "青羊社工中心" and co_handler["state"] == "called"
    assert co_handler["allowed_actions"] == []
    assert post(officer, f"{url}/call-in", {"organisation_ids": [999999]}).status_code == 404
    again = post(officer, f"{url}/call-in", {"organisation_ids": [people.agency.pk]})
    assert again.status_code == 400 and again.json()["field"] == "organisation_ids"

    staff = login(people.provider_staff)
    seen = get(staff, url).json()
    assert seen["co_handlers"][0]["allowed_actions"] == ["accept"]
    assert post(staff, f"{MATTERS}co-handlers/{co_handler['id']}/accept").status_code == 200
    reported = post(
        staff, f"{MATTERS}co-handlers/{co_handler['id']}/report", {"report": "已评估，需加固"}
    ).json()
    assert reported["co_handlers"][0]["state"] == "reported"
    assert reported["timeline"][-1]["organisation"]["name"] == "青羊社工中心"
    assert (
        post(staff, f"{MATTERS}co-handlers/{co_handler['id']}/report", {"report": "再报"}).status_code == 400
    )

    officer = login(people.street_officer)
    assert "resolve" in get(officer, url).json()["allowed_actions"]
    assert post(officer, f"{url}/resolve", {"note": "已加固"}).json()["status"] == "resolved"
    assert CoHandler.objects.get(matter=matter).state == CoHandler.State.REPORTED


def test_it_answers_404_for_a_co_handler_on_a_matter_outside_scope(people, login, report):
    matter = report("building-safety", description="外墙开裂")
    officer = login(people.street_officer)
    post(officer, f"{MATTERS}{matter.pk}/accept")
    post(officer, f"{MATTERS}{matter.pk}/call-in", {"organisation_ids": [people.agency.pk]})
    co_handler = CoHandler.objects.get(matter=matter)
    Matter.objects.filter(pk=matter.pk).update(is_private=True)  # as if of a private category
    assert post(login(people.outsider), f"{MATTERS}co-handlers/{co_handler.pk}/accept").status_code == 404
    refused = post(login(people.community_worker), f"{MATTERS}co-handlers/{co_handler.pk}/accept")
    assert refused.status_code == 400
    assert CoHandler.objects.get(pk=co_handler.pk).state == CoHandler.State.CALLED


# Personal data and allowed actions


def test_it_hides_the_reporters_name_from_a_stranger(people, login, report):
    hidden = report("repairs", hide_name=True)
    shown = report("repairs", description="灯又坏了")
    for matter in (hidden, shown):
        assert get(login(people.outsider), f"{MATTERS}{matter.pk}").json()["reporter_name"] is None
    assert get(login(people.resident), f"{MATTERS}{hidden.pk}").json()["reporter_name"] == "张居民"
    assert get(login(people.compound_leader), f"{MATTERS}{hidden.pk}").json()["reporter_name"] == "张居民"
    assert {item["reporter_name"] for item in get(login(people.outsider), MATTERS).json()["items"]} == {None}
    assert "张居民" not in get(login(people.outsider), f"{MATTERS}{hidden.pk}").content.decode()


def test_it_tells_the_reporter_and_the_handler_what_each_may_do(people, login, report):
    matter = report("repairs")
    url = f"{MATTERS}{matter.pk}"
    assert get(login(people.resident), url).json()["allowed_actions"] == ["withdraw"]
    assert get(login(people.compound_leader), url).json()["allowed_actions"] == [
        "accept",
        "escalate",
        "return",
        "duplicate",
        "me-too",
    ]
    assert get(login(people.outsider), url).json()["allowed_actions"] == ["me-too"]
    post(login(people.compound_leader), f"{url}/accept")
    assert get(login(people.compound_leader), url).json()["allowed_actions"] == [
        "start",
        "resolve",
        "escalate",
        "return",
        "duplicate",
        "me-too",
    ]


# The OpenAPI document


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/matters/",
        "/api/v1/matters/categories",
        "/api/v1/matters/similar",
        "/api/v1/matters/{matter_id}",
        "/api/v1/matters/{matter_id}/accept",
        "/api/v1/matters/{matter_id}/confirm",
        "/api/v1/matters/{matter_id}/call-in",
        "/api/v1/matters/co-handlers/{co_handler_id}/report",
    ],
)
def test_it_lists_the_matters_paths_in_the_openapi_document(client, db, path):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert path in response.json()["paths"]
