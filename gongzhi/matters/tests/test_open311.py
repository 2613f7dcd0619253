"""Open311 GeoReport v2 at /open311/v2/: what civic-tech clients read and report, and what they never see."""

import datetime
import io
import json
import xml.etree.ElementTree as ET

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from PIL import Image

from gongzhi.core.models import Organisation
from gongzhi.core.services import api_token_create, api_token_revoke
from gongzhi.matters import services
from gongzhi.matters.models import Category, Matter, Status, Tier

BASE = "/open311/v2"


def get_json(client, path, **params):
    response = client.get(f"{BASE}/{path}.json", params)
    assert response["Content-Type"] == "application/json; charset=utf-8"
    return response, json.loads(response.content)


def get_xml(client, path, **params):
    response = client.get(f"{BASE}/{path}.xml", params)
    assert response["Content-Type"] == "text/xml; charset=utf-8"
    assert response.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    return response, ET.fromstring(response.content)


def xml_text(value) -> str:
    """How a JSON value reads in the XML answer."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@pytest.fixture
def api_key(people):
    _token, secret = api_token_create(user=people.resident, name="open311 client")
    return secret


def post_request(client, fmt="json", **fields):
    return client.post(f"{BASE}/requests.{fmt}", fields)


# ------------------------------------------------------------------------------------------- discovery


def test_it_describes_the_endpoint_in_discovery_json_and_xml(client, db):
    response, discovery = get_json(client, "discovery")
    assert response.status_code == 200
    endpoint = discovery["endpoints"][0]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == "http://testserver/open311/v2"
    assert set(endpoint["formats"]) == {"text/xml", "application/json"}
    assert discovery["changeset"] and discovery["contact"] and discovery["key_service"]

    response, root = get_xml(client, "discovery")
    assert root.tag == "discovery"
    assert root.findtext("endpoints/endpoint/specification") == "http://wiki.open311.org/GeoReport_v2"
    assert [f.text for f in root.findall("endpoints/endpoint/formats/format")] == endpoint["formats"]


def test_it_answers_404_in_xml_for_an_unknown_format_or_path(client, db):
    for path in ("services.csv", "services", "requests/1.html", "nothing.json"):
        response = client.get(f"{BASE}/{path}")
        assert response.status_code == 404, path
    response = client.get(f"{BASE}/services.csv")
    assert ET.fromstring(response.content).findtext("error/code") == "404"


# -------------------------------------------------------------------------------------------- services


def test_it_lists_the_active_public_categories_as_services(client, categories):
    Category.objects.filter(code="parking").update(is_active=False)
    response, listed = get_json(client, "services")
    codes = [service["service_code"] for service in listed]
    assert "repairs" in codes
    assert "parking" not in codes  # not in use
    assert "neighbour-dispute" not in codes  # private: never in Open311
    repairs = next(service for service in listed if service["service_code"] == "repairs")
    assert repairs["type"] == "realtime"
    assert repairs["metadata"] is True
    assert repairs["service_name"] and repairs["group"] and repairs["description"]

    response, root = get_xml(client, "services")
    assert [s.findtext("service_code") for s in root.findall("service")] == codes
    assert root.find("service").findtext("metadata") == "true"


def test_it_serves_a_service_definition_with_urgency_and_hide_name(client, categories):
    response, definition = get_json(client, "services/repairs")
    assert definition["service_code"] == "repairs"
    attributes = {attribute["code"]: attribute for attribute in definition["attributes"]}
    assert attributes["urgency"]["datatype"] == "singlevaluelist"
    assert [value["key"] for value in attributes["urgency"]["values"]] == ["normal", "urgent"]
    assert {value["key"] for value in attributes["hide_name"]["values"]} == {"true", "false"}

    response, root = get_xml(client, "services/repairs")
    assert root.tag == "service_definition"
    assert [a.findtext("code") for a in root.findall("attributes/attribute")] == ["urgency", "hide_name"]
    assert root.findtext("attributes/attribute/values/value/key") == "normal"


def test_it_answers_404_for_an_unknown_or_private_service(client, categories):
    for code in ("potholes", "neighbour-dispute"):
        response, errors = get_json(client, f"services/{code}")
        assert response.status_code == 404
        assert errors[0]["code"] == 404 and code in errors[0]["description"]


# ------------------------------------------------------------------------------------ reading requests


def test_it_lists_public_requests_without_private_ones_or_personal_data(client, people, report):
    public = report(description="楼道灯坏了")
    private = report("neighbour-dispute", description="楼上漏水")
    withdrawn = report(description="已撤回")
    services.matter_withdraw(matter=withdrawn, user=people.resident)

    response = client.get(f"{BASE}/requests.json")
    assert response.status_code == 200
    ids = [item["service_request_id"] for item in json.loads(response.content)]
    assert ids == [public.pk]
    assert private.pk not in ids and withdrawn.pk not in ids
    for body in (response.content, client.get(f"{BASE}/requests.xml").content):
        text = body.decode()
        assert "楼上漏水" not in text
        assert people.resident.name not in text
        assert "13800000001" not in text and people.resident.mobile_masked not in text


def test_it_maps_a_matter_to_a_service_request(client, people, report):
    matter = report(latitude=30.6598, longitude=104.0633)
    response, items = get_json(client, f"requests/{matter.pk}")
    item = items[0]
    assert item["status"] == "open"
    assert item["service_code"] == "repairs"
    assert item["description"] == "楼道灯坏了"
    assert item["address"] == "清波院落 1栋, 清波社区, 苏坡街道"
    assert item["address_id"] == people.building.pk
    assert item["agency_responsible"] == "清波院落"  # compound tier: the compound itself
    assert item["lat"] == 30.6598 and item["long"] == 104.0633
    assert item["requested_datetime"] == timezone.localtime(matter.submitted_at).isoformat(timespec="seconds")
    assert item["requested_datetime"].endswith("+08:00")
    assert item["expected_datetime"] == timezone.localtime(matter.resolution_due).isoformat(
        timespec="seconds"
    )
    assert item["media_url"] is None


def test_it_names_the_residents_committee_once_the_community_handles_it(client, people, report):
    Organisation.objects.create(
        name="清波社区居民委员会", kind="residents_committee", region=people.community
    )
    matter = report()
    services.matter_escalate(matter=matter, handler=people.compound_leader, reason="需要社区协调物业")
    response, items = get_json(client, f"requests/{matter.pk}")
    assert items[0]["agency_responsible"] == "清波社区居民委员会"
    assert items[0]["status_notes"] == "需要社区协调物业"


def test_it_publishes_handler_notes_but_never_the_reporters_comment(client, people, report):
    matter = report()
    services.matter_accept(matter=matter, handler=people.compound_leader)
    services.matter_resolve(matter=matter, handler=people.compound_leader, note="已更换灯泡")
    response, items = get_json(client, f"requests/{matter.pk}")
    assert items[0]["status"] == "open"  # resolved, awaiting the reporter's confirmation
    assert items[0]["status_notes"] == "已更换灯泡"

    services.matter_confirm(
        matter=matter, user=people.resident, resolved=True, rating=5, comment="张居民很满意"
    )
    response = client.get(f"{BASE}/requests/{matter.pk}.json")
    item = json.loads(response.content)[0]
    assert item["status"] == "closed"
    assert "张居民很满意" not in response.content.decode()
    matter.refresh_from_db()
    assert item["updated_datetime"] == timezone.localtime(matter.closed_at).isoformat(timespec="seconds")


def test_it_answers_404_with_an_error_list_for_a_private_matter(client, report):
    private = report("neighbour-dispute")
    response, errors = get_json(client, f"requests/{private.pk}")
    assert response.status_code == 404
    assert errors == [{"code": 404, "description": errors[0]["description"]}]
    response, root = get_xml(client, f"requests/{private.pk}")
    assert response.status_code == 404
    assert root.tag == "errors" and root.findtext("error/code") == "404"
    assert get_json(client, "requests/999999")[0].status_code == 404


def test_it_filters_requests_by_status(client, people, report):
    open_matter = report()
    duplicate = report()
    services.matter_mark_duplicate(matter=duplicate, handler=people.compound_leader, original=open_matter)

    def ids(**params):
        return [item["service_request_id"] for item in get_json(client, "requests", **params)[1]]

    assert ids(status="open") == [open_matter.pk]
    assert ids(status="closed") == [duplicate.pk]
    assert ids(status="open,closed") == [duplicate.pk, open_matter.pk]
    closed = get_json(client, f"requests/{duplicate.pk}")[1][0]
    assert closed["status_notes"] == f"与请求 {open_matter.pk} 重复。"  # Chinese, the default language
    response, errors = get_json(client, "requests", status="pending")
    assert response.status_code == 400 and "status" in errors[0]["description"]


def test_it_filters_requests_by_service_code_and_ids(client, report):
    repairs = report("repairs")
    noise = report("noise")
    sanitation = report("sanitation")

    def ids(**params):
        return [item["service_request_id"] for item in get_json(client, "requests", **params)[1]]

    assert ids(service_code="noise") == [noise.pk]
    assert ids(service_code="noise,repairs") == [noise.pk, repairs.pk]
    assert ids(service_request_id=f"{repairs.pk},{sanitation.pk}") == [sanitation.pk, repairs.pk]
    # The ids override every other argument.
    assert ids(service_request_id=str(repairs.pk), service_code="noise", status="closed") == [repairs.pk]
    assert get_json(client, "requests", service_request_id="1,x")[0].status_code == 400


def test_it_filters_requests_by_dates_over_at_most_90_days(client, report):
    now = timezone.now()
    recent = report(now=now - datetime.timedelta(days=10))
    older = report(now=now - datetime.timedelta(days=100))

    def ids(**params):
        response, items = get_json(client, "requests", **params)
        assert response.status_code == 200, items
        return [item["service_request_id"] for item in items]

    assert ids() == [recent.pk]  # the last 90 days by default
    start = timezone.localtime(now - datetime.timedelta(days=120))
    assert ids(start_date=start.isoformat(timespec="seconds")) == [older.pk]
    assert ids(
        start_date=(now - datetime.timedelta(days=101))
        .astimezone(datetime.UTC)
        .strftime("%Y-%m-%dT%H:%M:%SZ"),
        end_date=(now - datetime.timedelta(days=20)).astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    ) == [older.pk]
    assert ids(end_date=timezone.localdate(now - datetime.timedelta(days=5)).isoformat()) == [recent.pk]
    response, errors = get_json(
        client,
        "requests",
        start_date=(now - datetime.timedelta(days=200)).date().isoformat(),
        end_date=now.date().isoformat(),
    )
    assert response.status_code == 400 and "90" in errors[0]["description"]
    assert get_json(client, "requests", start_date="yesterday")[0].status_code == 400


def test_it_pages_requests_newest_first(client, report):
    first, second, third = report(), report(), report()
    assert [i["service_request_id"] for i in get_json(client, "requests", page_size=2)[1]] == [
        third.pk,
        second.pk,
    ]
    assert [i["service_request_id"] for i in get_json(client, "requests", page_size=2, page=2)[1]] == [
        first.pk
    ]
    assert get_json(client, "requests", page_size=1001)[0].status_code == 400


def test_it_gives_the_same_fields_in_xml_as_in_json(client, report, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(buffer, format="PNG")
    matter = report(
        latitude=30.6598, longitude=104.0633, photos=[SimpleUploadedFile("a.png", buffer.getvalue())]
    )
    report("noise", description="Line one\nline <two> & \x0bthree")

    response, items = get_json(client, "requests")
    response, root = get_xml(client, "requests")
    assert root.tag == "service_requests"
    requests = root.findall("request")
    assert len(requests) == len(items) == 2
    for item, element in zip(items, requests, strict=True):
        assert [child.tag for child in element] == list(item)
        for key, value in item.items():
            expected = xml_text(value).replace("\x0b", "")  # not allowed in XML 1.0
            assert (element.findtext(key) or "") == expected, key
    photographed = next(item for item in items if item["service_request_id"] == matter.pk)
    photo_url = f"http://testserver/matters/{matter.pk}/photos/{matter.photos.get().pk}/"
    assert photographed["media_url"] == photo_url
    assert client.get(photo_url)["Content-Type"] == "image/png"


def test_it_reads_the_service_request_id_from_a_token(client, report):
    matter = report()
    response, items = get_json(client, f"tokens/{matter.token}")
    assert items == [{"service_request_id": matter.pk, "token": str(matter.token)}]
    response, root = get_xml(client, f"tokens/{matter.token}")
    assert root.findtext("request/service_request_id") == str(matter.pk)
    private = report("neighbour-dispute")
    assert get_json(client, f"tokens/{private.token}")[0].status_code == 404
    assert get_json(client, "tokens/not-a-token")[0].status_code == 404


def test_it_reads_requests_in_a_bounded_number_of_queries(
    client, people, report, django_assert_max_num_queries
):
    Organisation.objects.create(
        name="清波社区居民委员会", kind="residents_committee", region=people.community
    )
    for index in range(6):
        report("parking", latitude=30.6, longitude=104.0)  # community tier: looks up the committee
        services.matter_accept(
            matter=report("repairs"), handler=people.compound_leader, note=f"已受理 {index}"
        )
    with django_assert_max_num_queries(2):
        response = client.get(f"{BASE}/requests.json")
    assert len(json.loads(response.content)) == 12


# ------------------------------------------------------------------------------------------- reporting


def test_it_creates_a_matter_routed_to_the_compound_tier_with_the_key_owner_as_reporter(
    people, categories, api_key
):
    # Key-authenticated: no CSRF token, even for a client that enforces CSRF like a browser.
    client = Client(enforce_csrf_checks=True)
    response = post_request(
        client,
        api_key=api_key,
        service_code="repairs",
        description="二单元门禁坏了",
        lat="30.6598123",
        long="104.0633",
        first_name="Someone",
        last_name="Else",
        media_url="http://example.com/a.jpg",
        **{"attribute[urgency]": "urgent", "attribute[hide_name]": "true"},
    )
    assert response.status_code == 201, response.content
    created = json.loads(response.content)[0]
    matter = Matter.objects.get(pk=created["service_request_id"])
    assert created["token"] == str(matter.token)
    assert created["account_id"] == people.resident.pk
    assert created["service_notice"]
    assert matter.reporter == people.resident and matter.entered_by == people.resident
    assert matter.region == people.building  # the key owner's own building
    assert matter.tier == Tier.COMPOUND and matter.handling_region == people.compound
    assert matter.status == Status.SUBMITTED
    assert matter.urgency == "urgent" and matter.hide_name is True
    assert str(matter.latitude) == "30.659812"


def test_it_reports_at_the_address_id_given(client, people, categories, api_key):
    response = post_request(
        client,
        "xml",
        api_key=api_key,
        service_code="repairs",
        description="2栋电梯异响",
        address_id=people.building_2.pk,
    )
    assert response.status_code == 201
    root = ET.fromstring(response.content)
    matter = Matter.objects.get(pk=root.findtext("request/service_request_id"))
    assert matter.region == people.building_2


def test_it_refuses_a_forged_or_revoked_key_and_creates_nothing(client, people, categories, api_key):
    token, secret = api_token_create(user=people.resident, name="old")
    api_token_revoke(user=people.resident, token=token)
    for key in ("gz_forged", secret, ""):
        response = post_request(client, api_key=key, service_code="repairs", description="灯坏了")
        assert response.status_code == 403
        errors = json.loads(response.content)
        assert errors[0]["code"] == 403 and errors[0]["description"]
    response = post_request(client, "xml", api_key="gz_forged", service_code="repairs", description="灯坏了")
    assert response.status_code == 403 and ET.fromstring(response.content).findtext("error/code") == "403"
    assert not Matter.objects.exists()


def test_it_refuses_an_unknown_or_private_service_code_and_creates_nothing(client, categories, api_key):
    for code in ("potholes", "neighbour-dispute", ""):
        response = post_request(client, api_key=api_key, service_code=code, description="灯坏了")
        assert response.status_code == 400
        assert json.loads(response.content)[0]["code"] == 400
    assert not Matter.objects.exists()


def test_it_refuses_a_description_over_4000_characters(client, categories, api_key):
    response = post_request(client, api_key=api_key, service_code="repairs", description="灯" * 4001)
    assert response.status_code == 400
    assert json.loads(response.content)[0]["description"].startswith("description:")
    assert not Matter.objects.exists()


def test_it_refuses_a_report_it_cannot_place(client, people, categories):
    _token, officer_key = api_token_create(user=people.street_officer, name="no building")
    response = post_request(
        client, api_key=officer_key, service_code="repairs", description="灯坏了", lat="30.6", long="104"
    )
    assert response.status_code == 400
    assert "address_id" in json.loads(response.content)[0]["description"]
    for address_id in ("999999", "abc", str(people.street.pk)):
        response = post_request(
            client, api_key=officer_key, service_code="repairs", description="灯坏了", address_id=address_id
        )
        assert response.status_code == 400, address_id
    assert not Matter.objects.exists()


def test_it_refuses_bad_attributes_and_coordinates(client, categories, api_key):
    for fields in (
        {"attribute[urgency]": "panic"},
        {"attribute[hide_name]": "maybe"},
        {"lat": "91", "long": "104"},
        {"lat": "NaN", "long": "104"},
        {"lat": "30.6"},
    ):
        response = post_request(
            client, api_key=api_key, service_code="repairs", description="灯坏了", **fields
        )
        assert response.status_code == 400, fields
    assert not Matter.objects.exists()


def test_it_refuses_a_category_the_community_has_turned_off(client, people, categories, api_key):
    services.category_configure(
        user=people.community_secretary,
        community=people.community,
        code="repairs",
        first_tier=Tier.COMPOUND,
        response_amount=1,
        response_unit="working_days",
        resolution_amount=7,
        resolution_unit="working_days",
        is_active=False,
    )
    response = post_request(client, api_key=api_key, service_code="repairs", description="灯坏了")
    assert response.status_code == 400
    assert not Matter.objects.exists()


def test_it_answers_405_for_other_methods(client, db):
    response = client.post(f"{BASE}/services.json")
    assert response.status_code == 405
    assert json.loads(response.content)[0]["code"] == 405
