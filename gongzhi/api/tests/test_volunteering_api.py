"""The volunteering API at /api/v1/volunteering/: activities, sign-up, attendance and hours, the volunteer's
own pages, certificates, the points supermarket and awards; scope, refusals that change nothing, and lists
whose cost does not grow with their length."""

import datetime
import json

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from conftest import VALID_ID_NUMBERS, grant, make_user
from gongzhi.api.volunteering_schemas import mask_name
from gongzhi.core.models import Resident
from gongzhi.core.roles import Role
from gongzhi.core.services import api_token_create, resident_create
from gongzhi.volunteering import services
from gongzhi.volunteering.models import (
    AccountKind,
    Activity,
    ActivityStatus,
    Item,
    LedgerTransaction,
    Outlet,
    Redemption,
    SignUp,
    SignUpStatus,
)
from gongzhi.volunteering.selectors import ledger_drift

API = "/api/v1/volunteering"
EN = {"Accept-Language": "en"}


def get(client, url, **params):
    return client.get(f"{API}{url}", params, headers=EN)


def post(client, url, payload=None):
    return client.post(f"{API}{url}", payload or {}, content_type="application/json", headers=EN)


def patch(client, url, payload):
    return client.patch(f"{API}{url}", payload, content_type="application/json", headers=EN)


def delete(client, url):
    return client.delete(f"{API}{url}", headers=EN)


def signed_in(user) -> Client:
    """A client of its own, so that a test can have two people acting side by side."""
    client = Client()
    client.force_login(user)
    return client


def ids(page) -> list[int]:
    return [item["id"] for item in page["items"]]


def balance(resident) -> int:
    return services.points_account_for(resident=resident).balance


def budget(people) -> int:
    return services.community_account(community=people.community, kind=AccountKind.AWARD_BUDGET).balance


@pytest.fixture(autouse=True)
def english_messages():
    with translation.override("en"):
        yield


@pytest.fixture
def funded(people):
    """清波社区 with 100 points in its award budget."""
    services.budget_fund(
        community=people.community, amount=100, by=people.community_secretary, idempotency_key="fund"
    )


def make_activity(people, *, start, now=None, hours=2, **fields):
    """An open activity in 清波社区, organised by the community worker; `now` sets it up in the past."""
    fields = {"title": "清理楼道", "place": "清波院落", "capacity": 2, "points": 10, **fields}
    made = services.activity_create(
        created_by=people.community_worker,
        region=fields.pop("region", people.community),
        starts_at=start,
        ends_at=start + datetime.timedelta(hours=hours),
        now=now,
        **fields,
    )
    return services.activity_open(activity=made, by=people.community_worker, now=now)


@pytest.fixture
def activity(people, funded):
    """Open tomorrow 9:00–11:00, 2 places, 10 points per verified hour."""
    tomorrow = timezone.localtime() + datetime.timedelta(days=1)
    start = tomorrow.replace(hour=9, minute=0, second=0, microsecond=0)
    return make_activity(people, start=start, cancel_deadline=start - datetime.timedelta(hours=12))


@pytest.fixture
def starting_soon(people, funded):
    """Open, starting in half an hour: check-in is open."""
    return make_activity(people, start=timezone.now() + datetime.timedelta(minutes=30))


@pytest.fixture
def attended(people, funded):
    """An activity that ran from three hours ago to an hour ago; the resident came for all of it. Returns its
    sign-up, waiting for the organiser to verify two hours (20 points)."""
    now = timezone.now()
    start = now - datetime.timedelta(hours=3)
    earlier = start - datetime.timedelta(hours=1)
    ran = make_activity(people, start=start, now=earlier)
    services.signup_create(activity=ran, resident=people.resident_record, now=earlier)
    for moment in (start, start + datetime.timedelta(hours=2)):
        services.checkin_by_activity_code(
            activity=ran,
            resident=people.resident_record,
            code=services.activity_code(ran, now=moment),
            now=moment,
        )
    return SignUp.objects.get(activity=ran)


@pytest.fixture
def other_resident(people):
    """An account for 王吉福, a resident of 吉福社区 in the other district."""
    user = make_user("13700001111", "王吉福")
    Resident.objects.filter(pk=people.other_resident_record.pk).update(user=user)
    return user


@pytest.fixture
def shop(people, funded):
    """清波社区's office outlet with eggs (20 points, 5 in stock, one a month each) and rice (60 points)."""
    outlet = services.outlet_save(
        outlet=Outlet(community=people.community, name="清波积分超市", kind="office", address="社区办公室"),
        by=people.community_worker,
    )

    def item(name, price, stock, limit=None):
        return services.item_save(
            item=Item(outlet=outlet, name=name, unit="份", price=price, stock=stock, limit_per_person=limit),
            by=people.community_worker,
        )

    return {"eggs": item("鸡蛋", 20, 5, limit=1), "rice": item("大米", 60, 3), "oil": item("食用油", 10, 0)}


def award(people, amount, key="award"):
    services.points_award(
        community=people.community,
        resident=people.resident_record,
        amount=amount,
        reason="清理楼道",
        awarded_by=people.community_worker,
        idempotency_key=key,
    )


def stock(item) -> int:
    item.refresh_from_db()
    return item.stock


# ------------------------------------------------------------------------------------------------- activities


def test_it_answers_401_without_a_caller(client, db):
    assert client.get(f"{API}/activities").status_code == 401
    assert client.get(f"{API}/me").status_code == 401


def test_a_resident_lists_the_activities_meant_for_them_with_places(people, activity):
    services.signup_create(activity=activity, resident=people.neighbour_record)
    page = get(signed_in(people.resident), "/activities").json()
    assert page["count"] == 1
    listed = page["items"][0]
    assert (listed["id"], listed["title"], listed["status"]) == (activity.pk, "清理楼道", "open")
    assert (listed["capacity"], listed["taken"], listed["waiting"]) == (2, 1, 0)
    assert listed["community"] == {"id": people.community.pk, "name": "清波社区", "level": "community"}
    assert listed["organisation"] is None


def test_it_lists_activities_not_yet_over_first_then_past_ones(people, activity, attended):
    later = make_activity(people, start=activity.starts_at + datetime.timedelta(days=2))
    client = signed_in(people.resident)
    assert ids(get(client, "/activities").json()) == [activity.pk, later.pk, attended.activity_id]
    assert ids(get(client, "/activities", upcoming=True).json()) == [activity.pk, later.pk]


def test_a_draft_is_seen_by_its_organisers_only(people, activity):
    draft = services.activity_create(
        created_by=people.community_worker,
        region=people.community,
        title="草稿",
        place="社区",
        starts_at=activity.starts_at,
        ends_at=activity.ends_at,
        capacity=5,
    )
    assert ids(get(signed_in(people.resident), "/activities").json()) == [activity.pk]
    assert get(signed_in(people.resident), f"/activities/{draft.pk}").status_code == 404
    worker = signed_in(people.community_worker)
    assert set(ids(get(worker, "/activities").json())) == {activity.pk, draft.pk}
    assert ids(get(worker, "/activities", status="draft").json()) == [draft.pk]


def test_the_detail_shows_the_callers_sign_up_and_the_code_to_organisers_only(people, activity):
    services.signup_create(activity=activity, resident=people.resident_record)
    mine = get(signed_in(people.resident), f"/activities/{activity.pk}").json()
    assert mine["my_signup"]["status"] == "confirmed"
    assert mine["is_organiser"] is False
    assert mine["check_in_code"] is None and mine["insurance_policy"] is None
    organiser = get(signed_in(people.community_worker), f"/activities/{activity.pk}").json()
    assert organiser["is_organiser"] is True
    assert organiser["check_in_code"] == services.activity_code(activity)
    assert organiser["my_signup"] is None


def test_a_resident_of_another_community_gets_404_on_an_activity_not_open_to_them(
    people, activity, other_resident
):
    client = signed_in(other_resident)
    assert get(client, "/activities").json()["count"] == 0
    assert get(client, f"/activities/{activity.pk}").json() == {"detail": "Not found."}
    assert post(client, f"/activities/{activity.pk}/signup").status_code == 404
    assert not SignUp.objects.exists()

    Activity.objects.filter(pk=activity.pk).update(open_to_everyone=True)
    assert get(client, f"/activities/{activity.pk}").status_code == 200
    assert post(client, f"/activities/{activity.pk}/signup").status_code == 201


def test_community_worker_creates_a_draft_and_opens_it(people, funded):
    start = timezone.localtime() + datetime.timedelta(days=3)
    response = post(
        signed_in(people.community_worker),
        "/activities",
        {
            "region_id": people.compound.pk,
            "title": "助老送餐",
            "place": "清波院落门口",
            "starts_at": start.isoformat(),
            "ends_at": (start + datetime.timedelta(hours=2)).isoformat(),
            "capacity": 4,
            "points_rule": "fixed",
            "points": 15,
        },
    )
    assert response.status_code == 201
    created = response.json()
    assert created["status"] == "draft"
    assert created["region"]["name"] == "清波院落" and created["community"]["name"] == "清波社区"
    assert created["points_rule_label"] == "A fixed number of points"
    activity = Activity.objects.get(pk=created["id"])
    assert activity.cancel_deadline == activity.starts_at

    opened = post(signed_in(people.community_worker), f"/activities/{activity.pk}/open")
    assert opened.status_code == 200
    assert opened.json()["status"] == "open"


def test_provider_staff_create_an_activity_for_their_organisation(people, funded):
    start = timezone.localtime() + datetime.timedelta(days=3)
    response = post(
        signed_in(people.provider_staff),
        "/activities",
        {
            "region_id": people.community.pk,
            "organisation_id": people.agency.pk,
            "title": "社工小组",
            "place": "活动室",
            "starts_at": start.isoformat(),
            "ends_at": (start + datetime.timedelta(hours=1)).isoformat(),
            "capacity": 10,
        },
    )
    assert response.status_code == 201
    assert response.json()["organisation"]["name"] == "青羊社工中心"
    assert response.json()["is_organiser"] is True


def test_creating_refuses_bad_input_and_writes_nothing(people, funded):
    start = timezone.localtime() + datetime.timedelta(days=3)
    payload = {
        "region_id": people.community.pk,
        "title": "助老送餐",
        "place": "清波院落",
        "starts_at": start.isoformat(),
        "ends_at": (start - datetime.timedelta(hours=1)).isoformat(),
        "capacity": 4,
    }
    worker = signed_in(people.community_worker)
    ends_first = post(worker, "/activities", payload)
    assert ends_first.status_code == 400
    assert ends_first.json() == {"detail": "The activity must end after it starts.", "field": "ends_at"}

    at_the_street = post(worker, "/activities", {**payload, "region_id": people.street.pk})
    assert at_the_street.json() == {
        "detail": "Choose a community or a place within one.",
        "field": "region_id",
    }

    naive = {**payload, "starts_at": "2030-01-01T09:00:00", "ends_at": "2030-01-01T11:00:00"}
    assert post(worker, "/activities", naive).status_code == 422
    assert post(worker, "/activities", {**payload, "capacity": 0}).status_code == 422

    ends_right = {**payload, "ends_at": (start + datetime.timedelta(hours=1)).isoformat()}
    by_resident = post(signed_in(people.resident), "/activities", ends_right)
    assert by_resident.json() == {"detail": "Only the activity's organisers can do that.", "field": None}
    foreign_organisation = {**ends_right, "organisation_id": people.agency.pk}
    assert post(signed_in(people.outsider), "/activities", foreign_organisation).status_code == 404
    assert not Activity.objects.exists()


def test_an_organiser_changes_an_activity_and_nobody_else_can(people, activity):
    worker = signed_in(people.community_worker)
    changed = patch(worker, f"/activities/{activity.pk}", {"title": "清理楼道和院坝", "capacity": 5})
    assert changed.status_code == 200
    assert (changed.json()["title"], changed.json()["capacity"]) == ("清理楼道和院坝", 5)
    assert changed.json()["place"] == "清波院落"

    assert patch(worker, f"/activities/{activity.pk}", {"title": None}).status_code == 422
    for stranger in (people.resident, people.outsider, people.street_officer):
        assert patch(signed_in(stranger), f"/activities/{activity.pk}", {"title": "改"}).status_code == 404
    activity.refresh_from_db()
    assert (activity.title, activity.capacity) == ("清理楼道和院坝", 5)


def test_the_places_cannot_drop_below_those_taken(people, activity):
    services.signup_create(activity=activity, resident=people.resident_record)
    services.signup_create(activity=activity, resident=people.neighbour_record)
    response = patch(signed_in(people.community_worker), f"/activities/{activity.pk}", {"capacity": 1})
    assert response.status_code == 400
    assert response.json() == {
        "detail": "2 people have already signed up; the places cannot be fewer.",
        "field": "capacity",
    }
    activity.refresh_from_db()
    assert activity.capacity == 2


def test_a_risky_activity_opens_only_once_insured(people, funded):
    start = timezone.localtime() + datetime.timedelta(days=2)
    draft = services.activity_create(
        created_by=people.community_worker,
        region=people.community,
        title="河道清淤",
        place="清水河",
        starts_at=start,
        ends_at=start + datetime.timedelta(hours=3),
        capacity=6,
        risk_level="high",
    )
    worker = signed_in(people.community_worker)
    refused = post(worker, f"/activities/{draft.pk}/open")
    assert refused.status_code == 400
    assert refused.json()["detail"] == "Confirm the volunteers' insurance before opening a risky activity."
    draft.refresh_from_db()
    assert draft.status == ActivityStatus.DRAFT

    insured = post(worker, f"/activities/{draft.pk}/insurance", {"policy": "平安团体意外险 P-2024-001"})
    assert insured.json()["insured"] is True
    assert insured.json()["insurance_policy"] == "平安团体意外险 P-2024-001"
    assert post(worker, f"/activities/{draft.pk}/open").json()["status"] == "open"


def test_an_organiser_cancels_an_activity_with_a_reason(people, activity):
    services.signup_create(activity=activity, resident=people.resident_record)
    response = post(
        signed_in(people.community_worker), f"/activities/{activity.pk}/cancel", {"reason": "暴雨"}
    )
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert SignUp.objects.get().status == SignUpStatus.CANCELLED
    assert (
        post(signed_in(people.resident), f"/activities/{activity.pk}/cancel", {"reason": "x"}).status_code
        == 404
    )


# ------------------------------------------------------------------------------------- sign-up and attendance


def test_a_resident_signs_up_and_gives_the_place_back(people, activity):
    client = signed_in(people.resident)
    signed = post(client, f"/activities/{activity.pk}/signup")
    assert signed.status_code == 201
    assert (signed.json()["status"], signed.json()["status_label"]) == ("confirmed", "Signed up")
    assert get(client, f"/activities/{activity.pk}").json()["taken"] == 1

    again = post(client, f"/activities/{activity.pk}/signup")
    assert again.json() == {"detail": "You have already signed up for this activity.", "field": None}

    given_back = delete(client, f"/activities/{activity.pk}/signup")
    assert given_back.status_code == 200 and given_back.json()["status"] == "cancelled"
    assert get(client, f"/activities/{activity.pk}").json()["taken"] == 0
    assert (
        delete(client, f"/activities/{activity.pk}/signup").json()["detail"] == "This sign-up is not active."
    )


def test_a_full_activity_puts_the_next_person_on_the_waiting_list(people, activity):
    Activity.objects.filter(pk=activity.pk).update(capacity=1)
    services.signup_create(activity=activity, resident=people.neighbour_record)
    response = post(signed_in(people.resident), f"/activities/{activity.pk}/signup")
    assert response.status_code == 201
    assert response.json()["status"] == "waitlisted"


def test_sign_up_after_the_start_is_refused_and_writes_nothing(people, funded):
    now = timezone.now()
    started = make_activity(
        people, start=now - datetime.timedelta(hours=1), now=now - datetime.timedelta(hours=2)
    )
    response = post(signed_in(people.resident), f"/activities/{started.pk}/signup")
    assert response.status_code == 400
    assert response.json() == {"detail": "Sign-up closed when the activity started.", "field": None}
    assert not SignUp.objects.exists()


def test_staff_without_a_resident_record_are_told_so(people, activity):
    response = post(signed_in(people.community_worker), f"/activities/{activity.pk}/signup")
    assert response.status_code == 404
    assert response.json() == {
        "detail": "Your account is not linked to a resident record; ask your community office."
    }


def test_an_organisation_token_never_acts_as_the_resident_who_made_it(people, activity):
    grant(people.resident, Role.PROVIDER_STAFF, organisation=people.agency)
    _token, secret = api_token_create(user=people.resident, name="agency", organisation=people.agency)
    client = Client(headers={"Authorization": f"Bearer {secret}"})
    assert get(client, "/me").status_code == 404
    assert post(client, f"/activities/{activity.pk}/signup").status_code == 404
    assert not SignUp.objects.exists()


def test_organisers_see_the_roster_and_outsiders_get_404(people, activity):
    services.signup_create(activity=activity, resident=people.resident_record)
    roster = get(signed_in(people.community_worker), f"/activities/{activity.pk}/roster").json()
    assert roster["count"] == 1
    line = roster["items"][0]
    assert line["volunteer"]["name"] == "张居民"
    assert line["volunteer"]["building"] == "清波院落 1栋"
    assert (line["status"], line["verification"], line["hours_proposed"]) == ("confirmed", "pending", 0)
    for stranger in (people.outsider, people.resident, people.street_officer):
        response = get(signed_in(stranger), f"/activities/{activity.pk}/roster")
        assert response.status_code == 404
        assert response.json() == {"detail": "Not found."}


def test_a_volunteer_checks_in_and_out_with_the_activitys_rotating_code(people, starting_soon):
    client = signed_in(people.resident)
    post(client, f"/activities/{starting_soon.pk}/signup")
    code = get(signed_in(people.community_worker), f"/activities/{starting_soon.pk}").json()["check_in_code"]
    checked_in = post(client, f"/activities/{starting_soon.pk}/check-in", {"code": code})
    assert checked_in.status_code == 200
    assert checked_in.json()["checked_in_at"] is not None
    assert checked_in.json()["checked_out_at"] is None


def test_a_forged_or_expired_code_is_refused_and_changes_nothing(people, starting_soon):
    client = signed_in(people.resident)
    post(client, f"/activities/{starting_soon.pk}/signup")
    valid = {services.activity_code(starting_soon, window_offset=offset) for offset in (0, -1)}
    stale = next(
        code
        for offset in range(-10, -30, -1)
        if (code := services.activity_code(starting_soon, window_offset=offset)) not in valid
    )
    for forged in (stale, "abcdef", ""):
        response = post(client, f"/activities/{starting_soon.pk}/check-in", {"code": forged})
        assert response.status_code == 400
        assert response.json() == {
            "detail": "This code is not valid or has expired; scan the code shown now.",
            "field": "code",
        }
    assert SignUp.objects.get().checked_in_at is None


def test_an_organiser_scans_a_volunteers_personal_code(people, starting_soon):
    services.signup_create(activity=starting_soon, resident=people.resident_record)
    token = get(signed_in(people.resident), "/me").json()["qr_token"]
    worker = signed_in(people.community_worker)
    scanned = post(
        worker, f"/activities/{starting_soon.pk}/scan", {"token": f"https://gongzhi.example/v/{token}"}
    )
    assert scanned.status_code == 200
    assert scanned.json()["volunteer"]["name"] == "张居民"
    assert scanned.json()["check_method"] == "personal_code"

    forged = post(worker, f"/activities/{starting_soon.pk}/scan", {"token": "not-anyones-token"})
    assert forged.json() == {
        "detail": "This code belongs to nobody signed up for this activity.",
        "field": "token",
    }
    assert post(
        signed_in(people.outsider), f"/activities/{starting_soon.pk}/scan", {"token": token}
    ).status_code == (404)


def test_an_organiser_ticks_attendance_by_hand(people, starting_soon):
    signup = services.signup_create(activity=starting_soon, resident=people.resident_record)
    worker = signed_in(people.community_worker)
    ticked = post(worker, f"/signups/{signup.pk}/attendance", {"action": "check_in"})
    assert ticked.status_code == 200
    assert ticked.json()["check_method"] == "by_hand"
    twice = post(worker, f"/signups/{signup.pk}/attendance", {"action": "check_in"})
    assert twice.json()["detail"] == "张居民 has already checked in."
    assert post(worker, f"/signups/{signup.pk}/attendance", {"action": "dance"}).status_code == 422
    outsider = post(signed_in(people.outsider), f"/signups/{signup.pk}/attendance", {"action": "no_show"})
    assert outsider.status_code == 404
    assert SignUp.objects.get().status == SignUpStatus.CONFIRMED


# ----------------------------------------------------------------------------------------------- verification


def test_verifying_pays_the_points_once(people, attended):
    worker = signed_in(people.community_worker)
    verified = post(worker, f"/signups/{attended.pk}/verify", {"decision": "approve"})
    assert verified.status_code == 200
    assert (verified.json()["verification"], verified.json()["hours"]) == ("approved", 2.0)
    assert verified.json()["verified_by_name"] == "社区工作者"
    assert (balance(people.resident_record), budget(people)) == (20, 80)

    again = post(
        worker, f"/signups/{attended.pk}/verify", {"decision": "adjust", "hours": 3, "reason": "多干了"}
    )
    assert again.status_code == 400
    assert again.json() == {"detail": "These hours have already been verified.", "field": None}
    assert (balance(people.resident_record), budget(people)) == (20, 80)
    assert not ledger_drift()


def test_verification_refuses_bad_input_and_outsiders(people, attended):
    worker = signed_in(people.community_worker)
    no_reason = post(worker, f"/signups/{attended.pk}/verify", {"decision": "adjust", "hours": 1})
    assert no_reason.json() == {"detail": "This field is required.", "field": "reason"}
    too_long = post(
        worker, f"/signups/{attended.pk}/verify", {"decision": "adjust", "hours": 30, "reason": "x"}
    )
    assert too_long.json() == {"detail": "Hours must be more than 0 and at most 24.", "field": "hours"}
    assert post(worker, f"/signups/{attended.pk}/verify", {"decision": "maybe"}).status_code == 422
    for stranger in (people.outsider, people.resident):
        assert post(
            signed_in(stranger), f"/signups/{attended.pk}/verify", {"decision": "approve"}
        ).status_code == (404)
    attended.refresh_from_db()
    assert attended.verification == "pending"
    assert (balance(people.resident_record), budget(people)) == (0, 100)


# ---------------------------------------------------------------------------------------------- the volunteer


def test_a_volunteer_sees_their_profile_with_their_own_code(people, attended):
    services.hours_verify(signup=attended, by=people.community_worker, decision="approve")
    me = get(signed_in(people.resident), "/me").json()
    assert me["number"].startswith("ZY") and me["qr_token"]
    assert (me["name"], me["hours"], me["no_shows"], me["points"]) == ("张居民", 2.0, 0, 20)
    assert me["community"]["name"] == "清波社区"
    assert "13800000001" not in json.dumps(me) and VALID_ID_NUMBERS[1] not in json.dumps(me)


def test_a_volunteer_changes_their_skills_and_honour_roll_choice(people, db):
    client = signed_in(people.resident)
    changed = patch(client, "/me", {"skills": "理发、修电器", "on_honour_roll": True})
    assert changed.status_code == 200
    assert (changed.json()["skills"], changed.json()["on_honour_roll"]) == ("理发、修电器", True)
    assert patch(client, "/me", {"skills": "x" * 201, "on_honour_roll": True}).status_code == 422


def test_the_passbook_lists_entries_newest_first_with_running_balances(people, shop):
    award(people, 50)
    post(signed_in(people.resident), f"/items/{shop['eggs'].pk}/redeem", {"request_token": "r1"})
    page = get(signed_in(people.resident), "/me/passbook").json()
    assert page["count"] == 2
    assert [(e["memo"], e["amount"], e["balance_after"]) for e in page["items"]] == [
        ("鸡蛋", -20, 30),
        ("清理楼道", 50, 50),
    ]
    assert page["items"][0]["date"] == timezone.localdate().isoformat()
    assert page["items"][0]["is_reversal"] is False


def test_a_volunteer_lists_their_sign_ups(people, activity, attended):
    services.signup_create(activity=activity, resident=people.resident_record)
    page = get(signed_in(people.resident), "/me/signups").json()
    assert [item["activity"]["id"] for item in page["items"]] == [activity.pk, attended.activity_id]
    assert page["items"][1]["checked_out_at"] is not None


# ----------------------------------------------------------------------------------------------- certificates


@pytest.mark.parametrize(
    "name, masked", [("张居民", "张*民"), ("欧阳娜娜", "欧**娜"), ("李四", "李*"), ("王", "*"), ("", "")]
)
def test_it_masks_names(name, masked):
    assert mask_name(name) == masked


def test_anyone_checks_a_certificate_masked_without_signing_in(people, attended):
    services.hours_verify(signup=attended, by=people.community_worker, decision="approve")
    services.settings_update(
        community=people.community,
        by=people.community_secretary,
        points_expire_after_years=None,
        person_in_charge="王主任",
        handler_name="李干事",
        handler_contact="028-87654321",
    )
    certificate = services.certificate_issue(volunteer=attended.volunteer, by=people.resident)
    response = Client().get(f"{API}/certificates/{certificate.number.lower()}", headers=EN)
    assert response.status_code == 200
    checked = response.json()
    assert checked["valid"] is True
    assert (checked["number"], checked["name"], checked["hours"]) == (certificate.number, "张*民", 2.0)
    assert (checked["issuer"], checked["activities"]) == ("清波社区", 1)
    assert checked["issued_on"] == timezone.localdate().isoformat()
    assert "张居民" not in response.text and VALID_ID_NUMBERS[1][-4:] not in response.text

    missing = Client().get(f"{API}/certificates/ZYZM-2020-AAAAAAAA", headers=EN)
    assert missing.status_code == 404
    assert missing.json() == {"detail": "No certificate has this number."}


def test_the_certificate_check_is_documented_as_public(client, db):
    document = client.get("/api/v1/openapi.json").json()
    assert not document["paths"]["/api/v1/volunteering/certificates/{number}"]["get"].get("security")
    assert document["paths"]["/api/v1/volunteering/me"]["get"]["security"]


# ------------------------------------------------------------------------------------- the points supermarket


def test_a_resident_sees_their_communitys_shop(people, shop):
    page = get(signed_in(people.resident), "/items").json()
    assert [item["name"] for item in page["items"]] == ["食用油", "鸡蛋", "大米"]
    eggs = page["items"][1]
    assert (eggs["price"], eggs["stock"], eggs["limit_per_person"], eggs["limit_period_label"]) == (
        20,
        5,
        1,
        "per month",
    )
    assert eggs["outlet"]["name"] == "清波积分超市"


def test_a_resident_of_another_community_gets_404_on_its_items(people, shop, other_resident):
    client = signed_in(other_resident)
    assert get(client, "/items").json()["count"] == 0
    response = post(client, f"/items/{shop['eggs'].pk}/redeem", {"request_token": "x1"})
    assert response.status_code == 404
    assert stock(shop["eggs"]) == 5
    assert not Redemption.objects.exists()


def test_redeeming_moves_points_and_stock_together_once_per_request(people, shop):
    award(people, 50)
    client = signed_in(people.resident)
    response = post(client, f"/items/{shop['eggs'].pk}/redeem", {"request_token": "r1"})
    assert response.status_code == 201
    redemption = response.json()
    assert (redemption["status"], redemption["points"], redemption["quantity"]) == ("reserved", 20, 1)
    assert redemption["code"] and redemption["resident_name"] == "张*民"
    assert (balance(people.resident_record), stock(shop["eggs"])) == (30, 4)

    repeated = post(client, f"/items/{shop['eggs'].pk}/redeem", {"request_token": "r1"})
    assert repeated.json()["id"] == redemption["id"]
    assert (balance(people.resident_record), stock(shop["eggs"])) == (30, 4)
    assert [item["code"] for item in get(client, "/me/redemptions").json()["items"]] == [redemption["code"]]


@pytest.mark.parametrize(
    "item, quantity, message",
    [
        ("rice", 1, "Not enough points."),
        ("oil", 1, "Sold out."),
        ("rice", 5, "Only 3 left."),
        ("eggs", 0, "Choose a quantity from 1 to 99."),
    ],
)
def test_a_redemption_that_cannot_be_made_changes_nothing(people, shop, item, quantity, message):
    award(people, 50)
    transactions = LedgerTransaction.objects.count()
    response = post(
        signed_in(people.resident),
        f"/items/{shop[item].pk}/redeem",
        {"request_token": "r1", "quantity": quantity},
    )
    assert response.status_code == 400
    assert response.json()["detail"] == message
    assert balance(people.resident_record) == 50
    assert [stock(shop[name]) for name in ("eggs", "rice", "oil")] == [5, 3, 0]
    assert LedgerTransaction.objects.count() == transactions
    assert not Redemption.objects.exists()


def test_a_redemption_over_the_limit_is_refused(people, shop):
    award(people, 100, key="award-100")
    client = signed_in(people.resident)
    assert post(client, f"/items/{shop['eggs'].pk}/redeem", {"request_token": "r1"}).status_code == 201
    over = post(client, f"/items/{shop['eggs'].pk}/redeem", {"request_token": "r2"})
    assert over.status_code == 400
    assert over.json() == {"detail": "The limit is 1 per month; you have 1 already.", "field": "quantity"}
    assert (balance(people.resident_record), stock(shop["eggs"])) == (80, 4)
    assert Redemption.objects.count() == 1


def test_outlet_staff_hand_over_against_a_code_used_once(people, shop):
    award(people, 50)
    code = post(
        signed_in(people.resident), f"/items/{shop['eggs'].pk}/redeem", {"request_token": "r1"}
    ).json()["code"]
    worker = signed_in(people.community_worker)
    handed = post(worker, "/redemptions/hand-over", {"code": f"{code[:5]}-{code[5:].lower()}"})
    assert handed.status_code == 200
    assert handed.json()["status"] == "handed_over"
    assert handed.json()["resident_name"] == "张*民"
    assert handed.json()["code"] is None  # the code is the resident's, not the staff's to keep

    reused = post(worker, "/redemptions/hand-over", {"code": code})
    assert reused.status_code == 400
    assert reused.json()["detail"].startswith("This code was already used: the item was collected on ")
    assert (balance(people.resident_record), stock(shop["eggs"])) == (30, 4)


def test_a_forged_code_or_another_communitys_staff_hand_over_nothing(people, shop):
    award(people, 50)
    code = post(
        signed_in(people.resident), f"/items/{shop['eggs'].pk}/redeem", {"request_token": "r1"}
    ).json()["code"]
    expected = {"detail": "No such redemption code at your outlets.", "field": "code"}
    assert post(
        signed_in(people.community_worker), "/redemptions/hand-over", {"code": "FORGED2345"}
    ).json() == (expected)
    assert post(signed_in(people.outsider), "/redemptions/hand-over", {"code": code}).json() == expected
    assert Redemption.objects.get().status == "reserved"


def test_a_resident_cancels_a_redemption_and_gets_points_and_stock_back(people, shop):
    award(people, 50)
    client = signed_in(people.resident)
    redemption = post(client, f"/items/{shop['eggs'].pk}/redeem", {"request_token": "r1"}).json()
    cancelled = post(client, f"/redemptions/{redemption['id']}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert (balance(people.resident_record), stock(shop["eggs"])) == (50, 5)
    again = post(client, f"/redemptions/{redemption['id']}/cancel")
    assert again.json() == {"detail": "This redemption was cancelled.", "field": None}
    assert (balance(people.resident_record), stock(shop["eggs"])) == (50, 5)
    assert post(signed_in(people.outsider), f"/redemptions/{redemption['id']}/cancel").status_code == 404
    assert not ledger_drift()


# ----------------------------------------------------------------------------------------------------- awards


def test_a_community_worker_awards_points_once_per_request(people, funded):
    url = f"/communities/{people.community.pk}/awards"
    payload = {
        "resident_id": people.resident_record.pk,
        "amount": 30,
        "reason": "劝导文明养犬",
        "request_token": "a1",
    }
    worker = signed_in(people.community_worker)
    response = post(worker, url, payload)
    assert response.status_code == 201
    assert (response.json()["amount"], response.json()["reason"], response.json()["balance"]) == (
        30,
        "劝导文明养犬",
        30,
    )
    repeated = post(worker, url, payload)
    assert repeated.json()["id"] == response.json()["id"]
    assert (balance(people.resident_record), budget(people)) == (30, 70)
    assert LedgerTransaction.objects.get(pk=response.json()["id"]).idempotency_key == "award:a1"


def test_an_award_beyond_the_budget_or_without_a_reason_changes_nothing(people, funded):
    url = f"/communities/{people.community.pk}/awards"
    payload = {
        "resident_id": people.resident_record.pk,
        "amount": 101,
        "reason": "好人好事",
        "request_token": "a1",
    }
    worker = signed_in(people.community_worker)
    beyond = post(worker, url, payload)
    assert beyond.json() == {"detail": "The community's award budget is not enough.", "field": None}
    no_reason = post(worker, url, {**payload, "amount": 10, "reason": " ", "request_token": "a2"})
    assert no_reason.json() == {"detail": "Give a reason for the award.", "field": "reason"}
    zero = post(worker, url, {**payload, "amount": 0, "request_token": "a3"})
    assert zero.json()["field"] == "amount"
    assert (balance(people.resident_record), budget(people)) == (0, 100)


def test_awards_outside_the_callers_scope_are_404(people, funded):
    payload = {
        "resident_id": people.resident_record.pk,
        "amount": 10,
        "reason": "好人好事",
        "request_token": "a1",
    }
    url = f"/communities/{people.community.pk}/awards"
    assert post(signed_in(people.outsider), url, payload).status_code == 404
    assert post(signed_in(people.street_officer), url, payload).status_code == 404  # may view, not award
    assert post(signed_in(people.resident), url, payload).status_code == 404
    stranger = {**payload, "resident_id": people.other_resident_record.pk}
    assert post(signed_in(people.community_worker), url, stranger).json() == {"detail": "Not found."}
    assert (balance(people.resident_record), budget(people)) == (0, 100)
    assert LedgerTransaction.objects.count() == 1  # the funding


# ------------------------------------------------------------------ lists cost the same however long they are


def test_the_activity_list_does_not_grow_in_queries(people, activity, django_assert_max_num_queries):
    client = signed_in(people.resident)
    with CaptureQueriesContext(connection) as few:
        assert get(client, "/activities").json()["count"] == 1
    for day in range(2, 8):
        more = make_activity(
            people, start=activity.starts_at + datetime.timedelta(days=day), region=people.compound
        )
        services.signup_create(activity=more, resident=people.neighbour_record)
        services.signup_create(activity=more, resident=people.resident_record)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = get(client, "/activities").json()
    assert page["count"] == 7
    assert all(item["taken"] == 2 for item in page["items"][1:])


def test_the_passbook_does_not_grow_in_queries(people, funded, django_assert_max_num_queries):
    award(people, 1, key="award-0")
    client = signed_in(people.resident)
    with CaptureQueriesContext(connection) as few:
        assert get(client, "/me/passbook").json()["count"] == 1
    for number in range(1, 12):
        award(people, 1, key=f"award-{number}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = get(client, "/me/passbook").json()
    assert page["count"] == 12
    assert [entry["balance_after"] for entry in page["items"]] == list(range(12, 0, -1))


def test_the_roster_does_not_grow_in_queries(people, funded, django_assert_max_num_queries):
    big = make_activity(people, start=timezone.now() + datetime.timedelta(days=1), capacity=50)
    services.signup_create(activity=big, resident=people.resident_record)
    client = signed_in(people.community_worker)
    with CaptureQueriesContext(connection) as few:
        assert get(client, f"/activities/{big.pk}/roster").json()["count"] == 1
    services.signup_create(activity=big, resident=people.neighbour_record)
    for number in range(6):
        volunteer = resident_create(
            created_by=people.admin,
            region=people.building_2,
            name=f"志愿者{number}",
            phone=f"1360000{number:04d}",
            room=f"2-{number}",
        )
        services.signup_create(activity=big, resident=volunteer)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = get(client, f"/activities/{big.pk}/roster").json()
    assert page["count"] == 8
