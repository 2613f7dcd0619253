import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conftest import VALID_CREDIT_CODES, VALID_ID_NUMBERS, grant
from gongzhi.core.models import AuditEvent, Organisation, Resident
from gongzhi.core.roles import Role
from gongzhi.core.services import region_create, resident_create

FULL_NUMBERS = VALID_ID_NUMBERS[:3] + ["13800000001", "13912345678", "13700001111"]


def get(client, url, **params):
    return client.get(url, params, headers={"Accept-Language": "en"})


def post(client, url, payload=None):
    return client.post(url, payload or {}, content_type="application/json", headers={"Accept-Language": "en"})


# The caller


def test_resident_sees_their_masked_mobile_and_linked_record(people, login):
    me = get(login(people.resident), "/api/v1/me").json()
    assert me["mobile_masked"] == "138****0001"
    assert me["roles"] == []
    assert me["resident"]["id"] == people.resident_record.pk
    assert me["resident"]["building"]["name"] == "1栋"
    assert me["resident"]["room"] == "1-101"
    assert "13800000001" not in json.dumps(me)


def test_community_secretary_sees_their_roles_with_scope(people, login):
    me = get(login(people.community_secretary), "/api/v1/me").json()
    assert me["resident"] is None
    assert me["roles"] == [
        {
            "role": "community_secretary",
            "label": "Community secretary",
            "region": {"id": people.community.pk, "name": "清波社区", "level": "community"},
            "organisation": None,
        }
    ]


# Regions


def test_community_worker_lists_only_their_subtree(people, login):
    page = get(login(people.community_worker), "/api/v1/regions").json()
    assert page["count"] == 5
    assert [region["name"] for region in page["items"]] == ["清波社区", "第一网格", "清波院落", "1栋", "2栋"]
    assert page["items"][0] == {
        "id": people.community.pk,
        "name": "清波社区",
        "level": "community",
        "parent_id": people.street.pk,
        "path": people.community.path,
        "depth": 3,
    }


def test_it_filters_and_pages_regions(people, login):
    client = login(people.street_officer)
    buildings = get(client, "/api/v1/regions", level="building").json()
    assert [region["name"] for region in buildings["items"]] == ["1栋", "2栋"]
    children = get(client, "/api/v1/regions", parent_id=people.street.pk).json()
    assert {region["name"] for region in children["items"]} == {"清波社区", "东坡社区"}
    page = get(client, "/api/v1/regions", limit=2, offset=2).json()
    assert page["count"] == 7 and len(page["items"]) == 2
    assert get(client, "/api/v1/regions", level="planet").status_code == 422


def test_street_officer_gets_their_tree_two_levels_deep(people, login):
    tree = get(login(people.street_officer), "/api/v1/regions/tree").json()
    assert [root["name"] for root in tree] == ["苏坡街道"]
    communities = tree[0]["children"]
    assert {community["name"] for community in communities} == {"清波社区", "东坡社区"}
    qingbo = next(community for community in communities if community["name"] == "清波社区")
    assert [grid["name"] for grid in qingbo["children"]] == ["第一网格"]
    assert qingbo["children"][0]["children"] == []


def test_it_builds_the_tree_from_one_query_however_deep(people, login, django_assert_max_num_queries):
    client = login(people.street_officer)
    with django_assert_max_num_queries(4):
        tree = get(client, "/api/v1/regions/tree", max_depth=6).json()
    compound = tree[0]["children"][0]["children"][0]["children"][0]
    assert [building["name"] for building in compound["children"]] == ["1栋", "2栋"]
    assert get(client, "/api/v1/regions/tree", max_depth=0).json()[0]["children"] == []


def test_it_lists_a_subtree_flat_and_ordered_by_path(people, login):
    client = login(people.street_officer)
    page = get(client, f"/api/v1/regions/{people.community.pk}/subtree").json()
    assert [region["name"] for region in page["items"]] == ["清波社区", "第一网格", "清波院落", "1栋", "2栋"]
    shallow = get(client, f"/api/v1/regions/{people.community.pk}/subtree", max_depth=1).json()
    assert [region["name"] for region in shallow["items"]] == ["清波社区", "第一网格"]


# Everything outside the caller's scope is a 404 that reads exactly like a missing one.


@pytest.mark.parametrize(
    "method, url",
    [
        ("get", "/api/v1/regions/{community}"),
        ("get", "/api/v1/regions/{community}/subtree"),
        ("get", "/api/v1/organisations/{work_unit}"),
        ("get", "/api/v1/residents/{neighbour}"),
        ("post", "/api/v1/residents/{neighbour}/unmask"),
    ],
)
def test_outsider_gets_404_like_for_something_missing(people, login, method, url):
    client = login(people.outsider)
    send = get if method == "get" else post
    ids = {
        "community": people.community.pk,
        "work_unit": people.work_unit.pk,
        "neighbour": people.neighbour_record.pk,
    }
    forbidden = send(client, url.format(**ids))
    missing = send(client, url.format(**dict.fromkeys(ids, 999999)))
    assert forbidden.status_code == missing.status_code == 404
    assert forbidden.json() == missing.json() == {"detail": "Not found."}
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.UNMASK).exists()


def test_it_translates_errors_into_the_requests_language(people, login):
    client = login(people.outsider)
    english = client.get(f"/api/v1/regions/{people.community.pk}", headers={"Accept-Language": "en"})
    chinese = client.get(f"/api/v1/regions/{people.community.pk}", headers={"Accept-Language": "zh-hans"})
    assert english.json()["detail"] == "Not found."
    assert chinese["Content-Language"] == "zh-hans"
    assert chinese.json()["detail"] != "Not found."


# Organisations


def test_community_worker_lists_the_organisations_in_their_community(people, login):
    page = get(login(people.community_worker), "/api/v1/organisations").json()
    assert page["count"] == 1
    assert page["items"][0]["name"] == "蜀都银行"
    assert page["items"][0]["kind_label"] == "Work unit"
    assert page["items"][0]["region"] == {"id": people.community.pk, "name": "清波社区", "level": "community"}


def test_it_filters_organisations_by_kind_and_name(people, login):
    client = login(people.street_officer)
    assert get(client, "/api/v1/organisations").json()["count"] == 2
    by_kind = get(client, "/api/v1/organisations", kind="social_work_agency").json()
    assert [item["name"] for item in by_kind["items"]] == ["青羊社工中心"]
    by_name = get(client, "/api/v1/organisations", q="银行").json()
    assert [item["name"] for item in by_name["items"]] == ["蜀都银行"]


def test_street_officer_registers_an_organisation(people, login):
    response = post(
        login(people.street_officer),
        "/api/v1/organisations",
        {
            "name": "苏坡物业",
            "kind": "property_company",
            "region_id": people.community.pk,
            "credit_code": VALID_CREDIT_CODES[1].lower(),
        },
    )
    assert response.status_code == 201
    assert response.json()["credit_code"] == VALID_CREDIT_CODES[1]
    assert Organisation.objects.get(pk=response.json()["id"]).region == people.community


def test_a_wrong_credit_code_gets_a_structured_400_and_writes_nothing(people, login):
    response = post(
        login(people.street_officer),
        "/api/v1/organisations",
        {
            "name": "苏坡物业",
            "kind": "property_company",
            "region_id": people.community.pk,
            "credit_code": VALID_CREDIT_CODES[1][:-1] + "0",
        },
    )
    assert response.status_code == 400
    assert response.json() == {
        "detail": "The unified social credit code's check character is wrong.",
        "field": "credit_code",
    }
    assert not Organisation.objects.filter(name="苏坡物业").exists()


def test_a_worker_without_the_permission_gets_a_400_with_the_reason(people, login):
    response = post(
        login(people.community_worker),
        "/api/v1/organisations",
        {
            "name": "苏坡物业",
            "kind": "property_company",
            "region_id": people.community.pk,
        },
    )
    assert response.status_code == 400
    assert response.json() == {"detail": "You may not register organisations in this region.", "field": None}


def test_it_refuses_an_unknown_kind_with_422(people, login):
    response = post(
        login(people.street_officer),
        "/api/v1/organisations",
        {
            "name": "苏坡物业",
            "kind": "spaceship",
            "region_id": people.community.pk,
        },
    )
    assert response.status_code == 422
    assert not Organisation.objects.filter(name="苏坡物业").exists()


def test_it_refuses_to_register_in_a_region_outside_scope_with_404(people, login):
    response = post(
        login(people.street_officer),
        "/api/v1/organisations",
        {
            "name": "吉福物业",
            "kind": "property_company",
            "region_id": people.other_community.pk,
        },
    )
    assert response.status_code == 404
    assert not Organisation.objects.filter(name="吉福物业").exists()


# Residents


def test_lists_and_details_show_masked_numbers_only(people, login):
    client = login(people.street_officer)
    page = get(client, "/api/v1/residents").json()
    assert {item["name"] for item in page["items"]} == {"张居民", "李奶奶"}
    grandma = next(item for item in page["items"] if item["name"] == "李奶奶")
    assert grandma["phone_masked"] == "139****5678"
    assert grandma["id_number_masked"] == "110***********002X"
    assert grandma["birth_year"] == 1949 and grandma["sex"] == "F"
    assert grandma["building"]["name"] == "2栋" and grandma["room"] == "2-201"
    detail = get(client, f"/api/v1/residents/{people.neighbour_record.pk}").json()
    assert detail["community"]["name"] == "清波社区"
    for body in (page, detail):
        text = json.dumps(body)
        assert not [number for number in FULL_NUMBERS if number in text]


def test_sensitive_tags_show_only_with_their_permission(people, login):
    url = f"/api/v1/residents/{people.neighbour_record.pk}"
    worker_tags = {tag["tag"] for tag in get(login(people.community_worker), url).json()["tags"]}
    assert worker_tags == {"elderly", "living_alone"}
    listed = get(login(people.community_worker), "/api/v1/residents", q="李").json()["items"][0]
    assert {tag["tag"] for tag in listed["tags"]} == {"elderly", "living_alone"}
    secretary_tags = {tag["tag"] for tag in get(login(people.community_secretary), url).json()["tags"]}
    assert secretary_tags == {"elderly", "living_alone", "low_income"}


def test_it_searches_residents_by_name_phone_and_building(people, login):
    client = login(people.community_worker)

    def names(**params):
        return [item["name"] for item in get(client, "/api/v1/residents", **params).json()["items"]]

    assert names(q="奶奶") == ["李奶奶"]
    assert names(q="5678") == ["李奶奶"]
    assert names(building_id=people.building.pk) == ["张居民"]
    assert names(community_id=people.sibling_community.pk) == []


def test_community_secretary_unmasks_and_it_is_audited(people, login):
    url = f"/api/v1/residents/{people.neighbour_record.pk}/unmask"
    response = post(login(people.community_secretary), url)
    assert response.status_code == 200
    assert response.json() == {"phone": "13912345678", "id_number": "11010519491231002X"}
    event = AuditEvent.objects.get(action=AuditEvent.Action.UNMASK)
    assert event.actor == people.community_secretary
    assert event.target_id == str(people.neighbour_record.pk)


def test_community_worker_may_not_unmask_and_gets_403_with_the_reason(people, login):
    response = post(login(people.community_worker), f"/api/v1/residents/{people.neighbour_record.pk}/unmask")
    assert response.status_code == 403
    assert response.json() == {"detail": "You may not see full personal data."}
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.UNMASK).exists()


# Lists cost the same number of queries however long they are.


def add_residents(people, count: int) -> None:
    building_3 = region_create(parent=people.compound, name="3栋", level="building")
    for number in range(count):
        resident_create(
            created_by=people.admin,
            region=building_3 if number % 2 else people.building,
            name=f"居民{number}",
            phone=f"1360000{number:04d}",
            room=f"3-{number}",
            tags=["elderly", "disability"],
        )


def test_the_resident_list_does_not_grow_in_queries(people, login, django_assert_max_num_queries):
    client = login(people.community_secretary)
    with CaptureQueriesContext(connection) as few:
        assert get(client, "/api/v1/residents").json()["count"] == 2
    add_residents(people, 12)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = get(client, "/api/v1/residents").json()
    assert page["count"] == 14
    assert all(item["tags"] for item in page["items"] if item["name"].startswith("居民"))
    assert Resident.objects.count() == 15


def test_the_organisation_list_does_not_grow_in_queries(people, login, django_assert_max_num_queries):
    client = login(people.street_officer)
    with CaptureQueriesContext(connection) as few:
        assert get(client, "/api/v1/organisations").json()["count"] == 2
    for number in range(10):
        region = people.community if number % 2 else people.sibling_community
        Organisation.objects.create(name=f"协会{number}", kind="social_organisation", region=region)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert get(client, "/api/v1/organisations").json()["count"] == 12


def test_the_resident_list_pages_with_limit_and_offset(people, login):
    client = login(people.community_worker)
    first = get(client, "/api/v1/residents", limit=1).json()
    second = get(client, "/api/v1/residents", limit=1, offset=1).json()
    assert first["count"] == second["count"] == 2
    assert [first["items"][0]["name"], second["items"][0]["name"]] == ["张居民", "李奶奶"]
    assert first["items"][0]["building"]["name"] == "1栋" and first["items"][0]["room"] == "1-101"


def test_the_resident_list_refuses_a_limit_beyond_the_maximum(people, login):
    assert get(login(people.community_worker), "/api/v1/residents", limit=501).status_code == 422


def test_an_organisation_token_does_not_share_its_makers_cached_roster(people, token_for, token_client):
    """The roster list is cached per roles (gongzhi.core.rostercache); an organisation token narrows them."""
    staff = people.provider_staff
    grant(staff, Role.GRID_WORKER, region=people.grid)
    personal_client = token_client(token_for(staff))
    names = [item["name"] for item in personal_client.get("/api/v1/residents").json()["items"]]
    assert "李奶奶" in names
    organisation_client = token_client(token_for(staff, organisation=people.agency))
    assert organisation_client.get("/api/v1/residents").json() == {"items": [], "count": 0}
