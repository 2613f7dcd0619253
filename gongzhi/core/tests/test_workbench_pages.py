import re

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from conftest import VALID_CREDIT_CODES, VALID_ID_NUMBERS, make_user
from gongzhi.core.models import (
    AuditEvent,
    Organisation,
    Region,
    Resident,
    ResidentClaim,
    ResidentInvitation,
    RoleAssignment,
)
from gongzhi.core.roles import Role
from gongzhi.core.services import claim_submit, region_create, resident_create

HTMX = {"HTTP_HX_REQUEST": "true"}
MISSING = 999_999


@pytest.fixture(autouse=True)
def english(client):
    """Assertions read the English msgids, whatever the state of the Chinese catalogue."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


def add_residents(people, count: int, *, building=None, start: int = 0) -> None:
    for number in range(start, start + count):
        resident_create(
            created_by=people.admin,
            region=building or people.building,
            name=f"住户{number:03d}",
            phone=f"1361234{number:04d}",
            room=f"9-{number:03d}",
            tags=["elderly", "health"],
        )


def resident_links(response) -> set[str]:
    return set(re.findall(r'href="/workbench/residents/(\d+)/"', response.text))


def names_listed(response) -> set[str]:
    return set(re.findall(r'href="/workbench/residents/\d+/">([^<]+)</a>', response.text))


@pytest.fixture
def claimant(people):
    """Registered; asks to be recognised as 李奶奶, who is on the roster of 清波社区."""
    user = make_user("13600000009", "李奶奶")
    claim = claim_submit(
        user=user, building=people.building_2, room="2-201", name="李奶奶", id_number=VALID_ID_NUMBERS[0]
    )
    return claim


# Who may enter


def test_signing_in_is_needed_for_the_workbench(client, db):
    assert client.get(reverse("workbench"))["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("persona", ["resident", "provider_staff", "work_unit_staff"])
def test_people_without_a_view_of_residents_get_404_on_the_workbench(people, login, persona):
    client = login(getattr(people, persona))
    assert client.get(reverse("workbench")).status_code == 404
    assert client.get(reverse("workbench-residents")).status_code == 404


def test_the_navigation_offers_the_workbench_to_staff_only(people, login, client):
    assert reverse("workbench") not in login(people.resident).get("/").text
    assert reverse("me") in client.get("/").text
    assert reverse("workbench") in login(people.building_leader).get("/").text


# Region tree


def test_a_community_worker_starts_the_tree_at_their_community(people, login, claimant):
    page = login(people.community_worker).get(reverse("workbench")).text
    assert "清波社区" in page and "吉福社区" not in page and "苏坡街道" not in page
    assert "1 request waiting" in page


def test_a_tree_node_loads_its_children_for_htmx(people, login):
    response = login(people.community_worker).get(
        reverse("workbench-region", args=[people.compound.pk]), **HTMX
    )
    assert "<html" not in response.text
    assert "1栋" in response.text and "2栋" in response.text
    assert f'hx-get="{reverse("workbench-region", args=[people.building.pk])}"' not in response.text


def test_a_region_page_shows_the_way_up_and_the_children(people, login):
    page = login(people.community_worker).get(reverse("workbench-region", args=[people.grid.pk])).text
    assert reverse("workbench-region", args=[people.community.pk]) in page
    assert reverse("workbench-region", args=[people.street.pk]) not in page
    assert "清波院落" in page


def test_the_roles_link_shows_only_where_the_user_manages_roles(people, login):
    roles = reverse("workbench-roles", args=[people.community.pk])
    assert roles in login(people.community_secretary).get(reverse("workbench")).text
    assert roles not in login(people.community_worker).get(reverse("workbench")).text


@pytest.mark.parametrize("region_id", ["other_community", MISSING])
def test_outsider_and_missing_regions_both_404(people, login, region_id):
    region_id = getattr(people, region_id).pk if isinstance(region_id, str) else region_id
    assert (
        login(people.community_worker).get(reverse("workbench-region", args=[region_id])).status_code == 404
    )


# Residents list and search


def test_it_lists_the_residents_in_scope_with_masked_phones(people, login):
    response = login(people.community_worker).get(reverse("workbench-residents"))
    assert "张居民" in response.text and "李奶奶" in response.text and "王吉福" not in response.text
    assert "139****5678" in response.text and "13912345678" not in response.text


@pytest.mark.parametrize(
    "query,expected",
    [
        ({"q": "奶"}, {"李奶奶"}),
        ({"q": "5678"}, {"李奶奶"}),
        ({"q": "139****5678"}, {"李奶奶"}),
        ({"q": "0001"}, {"张居民"}),
        ({"building": "building"}, {"张居民"}),
        ({"region": "building_2"}, {"李奶奶"}),
        ({"region": "compound"}, {"张居民", "李奶奶"}),
        ({"region": "other_community"}, {"张居民", "李奶奶"}),  # outside the scope: the filter is dropped
        ({"q": "王吉福"}, set()),
    ],
)
def test_it_searches_residents(people, login, query, expected):
    query = {key: getattr(people, value).pk if key != "q" else value for key, value in query.items()}
    response = login(people.community_worker).get(reverse("workbench-residents"), query)
    assert names_listed(response) == expected


def test_live_search_swaps_only_the_results(people, login):
    response = login(people.community_worker).get(
        reverse("workbench-residents"), {"q": "李"}, HTTP_HX_TARGET="resident-results", **HTMX
    )
    assert "<html" not in response.text and "<form" not in response.text
    assert "李奶奶" in response.text and "张居民" not in response.text
    assert 'id="resident-count"' in response.text and 'hx-swap-oob="true"' in response.text


def test_a_history_restore_gets_the_whole_page(people, login):
    response = login(people.community_worker).get(
        reverse("workbench-residents"),
        HTTP_HX_TARGET="resident-results",
        HTTP_HX_HISTORY_RESTORE_REQUEST="true",
        **HTMX,
    )
    assert "<html" in response.text


def test_it_shows_fifty_residents_a_page(people, login):
    add_residents(people, 60)
    client = login(people.community_worker)
    first = resident_links(client.get(reverse("workbench-residents")))
    second = resident_links(client.get(reverse("workbench-residents"), {"page": 2}))
    assert len(first) == 50 and len(second) == 12 and not first & second


def test_the_resident_list_costs_the_same_queries_however_many_residents(
    people, login, django_assert_max_num_queries
):
    add_residents(people, 2)
    client = login(people.community_worker)
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("workbench-residents"), {"q": "住户"})
    add_residents(people, 30, start=2)
    with django_assert_max_num_queries(len(few)):
        response = client.get(reverse("workbench-residents"), {"q": "住户"})
    assert len(resident_links(response)) == 32


def test_sensitive_tags_are_hidden_from_a_community_worker(people, login):
    client = login(people.community_worker)
    for url in (
        reverse("workbench-residents"),
        reverse("workbench-resident", args=[people.neighbour_record.pk]),
    ):
        page = client.get(url).text
        assert "Elderly living alone" in page and "Low income" not in page


def test_sensitive_tags_are_shown_to_the_community_secretary(people, login):
    client = login(people.community_secretary)
    for url in (
        reverse("workbench-residents"),
        reverse("workbench-resident", args=[people.neighbour_record.pk]),
    ):
        assert "Low income" in client.get(url).text


# A resident's page


def test_a_residents_page_shows_masked_numbers_and_the_household(people, login):
    add_residents(people, 1, building=people.building_2)
    resident = people.neighbour_record
    Resident.objects.filter(name="住户000").update(household=resident.household)
    page = login(people.community_worker).get(reverse("workbench-resident", args=[resident.pk])).text
    assert "139****5678" in page and resident.id_number_masked in page
    assert "13912345678" not in page and VALID_ID_NUMBERS[0] not in page
    assert "2-201" in page and "住户000" in page


@pytest.mark.parametrize("resident", ["other_resident_record", MISSING])
def test_outsider_and_missing_residents_both_404(people, login, resident):
    resident_id = getattr(people, resident).pk if isinstance(resident, str) else resident
    client = login(people.community_worker)
    assert client.get(reverse("workbench-resident", args=[resident_id])).status_code == 404
    assert client.post(reverse("workbench-resident-unmask", args=[resident_id])).status_code == 404
    assert client.post(reverse("workbench-resident-invite", args=[resident_id])).status_code == 404
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.UNMASK).exists()
    assert not ResidentInvitation.objects.exists()


def test_only_those_permitted_see_the_show_full_numbers_button(people, login, client):
    url = reverse("workbench-resident", args=[people.neighbour_record.pk])
    assert 'data-testid="unmask"' not in login(people.community_worker).get(url).text
    assert 'data-testid="unmask"' in login(people.community_secretary).get(url).text


def test_the_secretary_sees_full_numbers_and_the_look_is_audited(people, login):
    resident = people.neighbour_record
    response = login(people.community_secretary).post(
        reverse("workbench-resident-unmask", args=[resident.pk]), **HTMX
    )
    assert "13912345678" in response.text and VALID_ID_NUMBERS[0] in response.text
    assert "<html" not in response.text and "no-store" in response["Cache-Control"]
    event = AuditEvent.objects.get(action=AuditEvent.Action.UNMASK)
    assert event.actor == people.community_secretary and event.target_id == str(resident.pk)
    assert event.region == people.community


def test_unmasking_without_htmx_shows_the_whole_page(people, login):
    response = login(people.community_secretary).post(
        reverse("workbench-resident-unmask", args=[people.neighbour_record.pk])
    )
    assert "<html" in response.text and "13912345678" in response.text


def test_a_worker_who_may_not_unmask_is_refused_and_nothing_is_recorded(people, login):
    response = login(people.community_worker).post(
        reverse("workbench-resident-unmask", args=[people.neighbour_record.pk]), **HTMX
    )
    assert response.status_code == 403
    assert "13912345678" not in response.content.decode()
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.UNMASK).exists()


def test_unmasking_needs_post(people, login):
    url = reverse("workbench-resident-unmask", args=[people.neighbour_record.pk])
    assert login(people.community_secretary).get(url).status_code == 405


def test_a_worker_creates_an_invitation_code(people, login):
    response = login(people.community_worker).post(
        reverse("workbench-resident-invite", args=[people.neighbour_record.pk]), **HTMX
    )
    invitation = ResidentInvitation.objects.get(resident=people.neighbour_record)
    assert invitation.code in response.text and "<html" not in response.text


def test_it_refuses_an_invitation_for_a_resident_with_an_account(people, login):
    response = login(people.community_worker).post(
        reverse("workbench-resident-invite", args=[people.resident_record.pk]), **HTMX
    )
    assert "This resident already has an account." in response.text
    assert not ResidentInvitation.objects.exists()


def test_a_building_leader_may_not_create_invitation_codes(people, login):
    add_residents(people, 1)
    resident = Resident.objects.get(name="住户000")
    client = login(people.building_leader)
    assert (
        reverse("workbench-resident-invite", args=[resident.pk])
        not in client.get(reverse("workbench-resident", args=[resident.pk])).text
    )
    response = client.post(reverse("workbench-resident-invite", args=[resident.pk]))
    assert "You may not invite residents of this region." in response.text
    assert not ResidentInvitation.objects.exists()


# Adding a resident


def new_resident(people, **changes) -> dict:
    data = {
        "region": people.building.pk,
        "room": "1-301",
        "name": "赵大爷",
        "id_number": VALID_ID_NUMBERS[3],
        "phone": "136 0000 1234",
        "is_household_head": "on",
        "tags": ["elderly"],
    }
    data.update(changes)
    return data


def test_a_worker_adds_a_resident(people, login):
    response = login(people.community_worker).post(reverse("workbench-resident-add"), new_resident(people))
    resident = Resident.objects.get(name="赵大爷")
    assert response["Location"] == reverse("workbench-resident", args=[resident.pk])
    assert resident.phone_masked == "136****1234" and resident.household.number == "1-301"
    assert resident.is_household_head and list(resident.tags.values_list("tag", flat=True)) == ["elderly"]


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"id_number": "510107195205060028"}, "The ID number&#x27;s check digit is wrong"),
        ({"phone": "12345"}, "Enter an 11-digit mainland mobile number"),
        ({"id_number": VALID_ID_NUMBERS[0]}, "A resident with this ID number is already on the roster."),
        ({"region": "other_building"}, "Select a valid choice"),
        ({"name": ""}, "This field is required."),
        ({"tags": ["low_income"]}, "Select a valid choice"),
    ],
)
def test_it_refuses_a_bad_new_resident_and_writes_nothing(people, login, changes, message):
    if changes.get("region") == "other_building":
        changes["region"] = people.other_building.pk
    residents = Resident.objects.count()
    response = login(people.community_worker).post(
        reverse("workbench-resident-add"), new_resident(people, **changes)
    )
    assert response.status_code == 200 and message in response.text
    assert Resident.objects.count() == residents


def test_the_secretary_may_record_a_sensitive_group(people, login):
    login(people.community_secretary).post(
        reverse("workbench-resident-add"), new_resident(people, tags=["low_income"])
    )
    assert Resident.objects.get(name="赵大爷").tags.get().tag == "low_income"


def test_a_building_leader_cannot_add_residents(people, login):
    assert login(people.building_leader).get(reverse("workbench-resident-add")).status_code == 404


# Households


def test_it_lists_and_searches_households_in_scope(people, login):
    client = login(people.community_worker)
    page = client.get(reverse("workbench-households")).text
    assert "1-101" in page and "2-201" in page and "1-1<" not in page
    page = client.get(reverse("workbench-households"), {"q": "2-2"}).text
    assert "2-201" in page and "1-101" not in page


def test_a_household_page_lists_its_members(people, login):
    household = people.neighbour_record.household
    page = login(people.community_worker).get(reverse("workbench-household", args=[household.pk])).text
    assert "李奶奶" in page and "139****5678" in page and "Low income" not in page


@pytest.mark.parametrize("household", ["other", MISSING])
def test_outsider_and_missing_households_both_404(people, login, household):
    household_id = people.other_resident_record.household_id if household == "other" else household
    assert (
        login(people.community_worker).get(reverse("workbench-household", args=[household_id])).status_code
        == 404
    )


# Organisations


def test_a_street_officer_lists_filters_and_searches_organisations(people, login):
    client = login(people.street_officer)
    page = client.get(reverse("workbench-organisations")).text
    assert "青羊社工中心" in page and "蜀都银行" in page
    page = client.get(reverse("workbench-organisations"), {"kind": "work_unit"}).text
    assert "蜀都银行" in page and "青羊社工中心" not in page
    page = client.get(reverse("workbench-organisations"), {"q": "社工"}).text
    assert "青羊社工中心" in page and "蜀都银行" not in page


def test_a_community_worker_sees_only_their_communitys_organisations(people, login):
    page = login(people.community_worker).get(reverse("workbench-organisations")).text
    assert "蜀都银行" in page and "青羊社工中心" not in page


def test_the_organisation_list_costs_the_same_queries_however_many_organisations(
    people, login, django_assert_max_num_queries
):
    client = login(people.street_officer)
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("workbench-organisations"))
    Organisation.objects.bulk_create(
        [
            Organisation(name=f"志愿队{number:02d}", kind="social_organisation", region=people.community)
            for number in range(30)
        ]
    )
    with django_assert_max_num_queries(len(few)):
        page = client.get(reverse("workbench-organisations")).text
    assert "志愿队29" in page


def test_an_organisation_page_shows_its_details(people, login):
    page = (
        login(people.community_worker).get(reverse("workbench-organisation", args=[people.work_unit.pk])).text
    )
    assert "蜀都银行" in page and VALID_CREDIT_CODES[0] in page


@pytest.mark.parametrize("organisation", ["agency", MISSING])
def test_outsider_and_missing_organisations_both_404(people, login, organisation):
    organisation_id = getattr(people, organisation).pk if isinstance(organisation, str) else organisation
    client = login(people.outsider)
    assert client.get(reverse("workbench-organisation", args=[organisation_id])).status_code == 404


def new_organisation(people, **changes) -> dict:
    data = {
        "name": "清波志愿者协会",
        "kind": "social_organisation",
        "region": people.community.pk,
        "credit_code": VALID_CREDIT_CODES[1].lower(),
        "address": "清波路1号",
    }
    data.update(changes)
    return data


def test_the_secretary_registers_an_organisation(people, login):
    response = login(people.community_secretary).post(
        reverse("workbench-organisation-add"), new_organisation(people)
    )
    organisation = Organisation.objects.get(name="清波志愿者协会")
    assert response["Location"] == reverse("workbench-organisation", args=[organisation.pk])
    assert organisation.credit_code == VALID_CREDIT_CODES[1] and organisation.region == people.community


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"credit_code": VALID_CREDIT_CODES[1][:-1] + "A"}, "check character is wrong"),
        ({"credit_code": "91350100M000100I43"}, "no I, O, S, V or Z"),
        ({"credit_code": VALID_CREDIT_CODES[0]}, "this unified social credit code is already registered"),
        ({"region": "other_community"}, "Select a valid choice"),
        ({"kind": "club"}, "Select a valid choice"),
    ],
)
def test_it_refuses_a_bad_organisation_and_writes_nothing(people, login, changes, message):
    if changes.get("region") == "other_community":
        changes["region"] = people.other_community.pk
    organisations = Organisation.objects.count()
    response = login(people.community_secretary).post(
        reverse("workbench-organisation-add"), new_organisation(people, **changes)
    )
    assert response.status_code == 200 and message in response.text
    assert Organisation.objects.count() == organisations


def test_a_community_worker_cannot_register_organisations(people, login):
    assert login(people.community_worker).get(reverse("workbench-organisation-add")).status_code == 404


def test_the_secretary_makes_someone_staff_of_an_organisation(people, login):
    person = make_user("13600000009", "新职工")
    client = login(people.community_secretary)
    url = reverse("workbench-organisation", args=[people.work_unit.pk])
    response = client.post(
        reverse("workbench-organisation-role-grant", args=[people.work_unit.pk]),
        {"mobile": "13600000009", "role": Role.WORK_UNIT_STAFF},
    )
    assert response["Location"] == url
    assert RoleAssignment.objects.filter(user=person, organisation=people.work_unit).exists()
    assert "新职工" in client.get(url).text


def test_a_worker_cannot_make_organisation_staff(people, login):
    make_user("13600000009", "新职工")
    response = login(people.community_worker).post(
        reverse("workbench-organisation-role-grant", args=[people.work_unit.pk]),
        {"mobile": "13600000009", "role": Role.WORK_UNIT_STAFF},
    )
    assert response.status_code == 404
    assert (
        not RoleAssignment.objects.filter(organisation=people.work_unit, role=Role.WORK_UNIT_STAFF)
        .exclude(user=people.work_unit_staff)
        .exists()
    )


# Verification requests


def test_the_queue_shows_a_request_with_its_roster_match(people, login, claimant):
    page = login(people.community_worker).get(reverse("workbench-claims")).text
    assert "李奶奶" in page and "2-201" in page
    assert reverse("workbench-resident", args=[people.neighbour_record.pk]) in page
    assert VALID_ID_NUMBERS[0] not in page and "110***********002X" in page


def test_an_outsider_sees_an_empty_queue(people, login, claimant):
    assert "李奶奶" not in login(people.outsider).get(reverse("workbench-claims")).text


def test_a_worker_approves_a_request(people, login, claimant):
    response = login(people.community_worker).post(reverse("workbench-claim-approve", args=[claimant.pk]))
    assert response["Location"] == reverse("workbench-claims")
    claimant.refresh_from_db()
    assert claimant.status == ResidentClaim.Status.APPROVED
    assert Resident.objects.get(pk=people.neighbour_record.pk).user == claimant.user


def test_approving_twice_says_it_is_already_decided(people, login, claimant):
    client = login(people.community_worker)
    client.post(reverse("workbench-claim-approve", args=[claimant.pk]))
    response = client.post(reverse("workbench-claim-approve", args=[claimant.pk]), follow=True)
    assert "This request has already been decided." in response.text


def test_declining_needs_a_reason(people, login, claimant):
    response = login(people.community_worker).post(
        reverse("workbench-claim-reject", args=[claimant.pk]), {"reason": " "}
    )
    assert response.status_code == 200 and "Give the resident a reason." in response.text
    claimant.refresh_from_db()
    assert claimant.status == ResidentClaim.Status.PENDING


def test_a_worker_declines_a_request_with_a_reason(people, login, claimant):
    login(people.community_worker).post(
        reverse("workbench-claim-reject", args=[claimant.pk]), {"reason": "房号不符"}
    )
    claimant.refresh_from_db()
    assert claimant.status == ResidentClaim.Status.REJECTED and claimant.reason == "房号不符"


@pytest.mark.parametrize("whose", ["outsider", "missing"])
def test_outsider_and_missing_requests_both_404(people, login, claimant, whose):
    claim_id = claimant.pk if whose == "outsider" else MISSING
    client = login(people.outsider)
    assert client.post(reverse("workbench-claim-approve", args=[claim_id])).status_code == 404
    assert (
        client.post(reverse("workbench-claim-reject", args=[claim_id]), {"reason": "不认识"}).status_code
        == 404
    )
    claimant.refresh_from_db()
    assert claimant.status == ResidentClaim.Status.PENDING


def test_a_building_leader_has_no_verification_queue(people, login):
    assert login(people.building_leader).get(reverse("workbench-claims")).status_code == 404


# Roles


def test_the_secretary_sees_who_holds_which_role_in_the_community(people, login):
    page = login(people.community_secretary).get(reverse("workbench-roles", args=[people.community.pk])).text
    for name in ("社区工作者", "社区书记", "网格员", "楼栋长", "单位职工"):
        assert name in page
    assert "外区工作者" not in page and "街道干部" not in page


def test_the_secretary_grants_a_role_by_mobile_number(people, login):
    person = make_user("13600000009", "新社工")
    response = login(people.community_secretary).post(
        reverse("workbench-roles", args=[people.community.pk]),
        {"mobile": "136-0000-0009", "role": Role.COMMUNITY_WORKER},
    )
    assert response["Location"] == reverse("workbench-roles", args=[people.community.pk])
    assert RoleAssignment.objects.filter(
        user=person, role=Role.COMMUNITY_WORKER, region=people.community
    ).exists()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.ROLE_GRANTED, target_id=str(person.pk)).exists()


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"mobile": "13600000099"}, "No one has registered with this mobile number yet."),
        ({"mobile": "1360000"}, "Enter an 11-digit mainland mobile number"),
        ({"role": Role.STREET_OFFICER}, "Select a valid choice"),
        ({"mobile": "13800000005"}, "This person already holds this role there."),
    ],
)
def test_it_refuses_a_bad_role_grant_and_writes_nothing(people, login, changes, message):
    make_user("13600000009", "新社工")
    assignments = RoleAssignment.objects.count()
    data = {"mobile": "13600000009", "role": Role.COMMUNITY_WORKER, **changes}
    response = login(people.community_secretary).post(
        reverse("workbench-roles", args=[people.community.pk]), data
    )
    assert response.status_code == 200 and message in response.text
    assert RoleAssignment.objects.count() == assignments


def test_the_secretary_takes_a_role_away(people, login):
    assignment = RoleAssignment.objects.get(user=people.grid_worker)
    roles = reverse("workbench-roles", args=[people.community.pk])
    response = login(people.community_secretary).post(
        reverse("workbench-role-revoke", args=[people.community.pk, assignment.pk]), {"next": roles}
    )
    assert response["Location"] == roles
    assert not RoleAssignment.objects.filter(pk=assignment.pk).exists()


@pytest.mark.parametrize("persona", ["community_worker", "outsider"])
def test_people_who_do_not_manage_roles_there_get_404(people, login, persona):
    assert (
        login(getattr(people, persona))
        .get(reverse("workbench-roles", args=[people.community.pk]))
        .status_code
        == 404
    )


def test_taking_away_a_role_outside_the_region_is_404(people, login):
    assignment = RoleAssignment.objects.get(user=people.outsider)
    response = login(people.community_secretary).post(
        reverse("workbench-role-revoke", args=[people.community.pk, assignment.pk])
    )
    assert response.status_code == 404
    assert RoleAssignment.objects.filter(pk=assignment.pk).exists()


# Adding regions to the tree


def test_a_community_worker_adds_a_grid_to_their_community(people, login):
    client = login(people.community_worker)
    response = client.post(
        f"/workbench/regions/{people.community.pk}/add/", {"name": "第二网格", "level": "grid"}
    )
    assert response.status_code == 302
    grid = Region.objects.get(name="第二网格")
    assert grid.parent == people.community and grid.path == f"{people.community.path}{grid.pk}/"


def test_the_region_page_offers_only_the_levels_below(people, login):
    response = login(people.community_worker).get(f"/workbench/regions/{people.community.pk}/")
    levels = [value for value, _label in response.context["add_form"].fields["level"].choices]
    assert levels == ["grid", "compound", "building"]


def test_a_duplicate_region_name_is_refused_on_the_name_field(people, login):
    response = login(people.community_worker).post(
        f"/workbench/regions/{people.compound.pk}/add/", {"name": "1栋", "level": "building"}
    )
    assert response.status_code == 200
    assert response.context["add_form"].errors["name"]
    assert Region.objects.filter(name="1栋").count() == 1


def test_a_level_above_the_parent_is_refused(people, login):
    login(people.community_worker).post(
        f"/workbench/regions/{people.compound.pk}/add/", {"name": "新街道", "level": "street"}
    )
    assert not Region.objects.filter(name="新街道").exists()


def test_a_grid_worker_may_not_add_regions(people, login):
    response = login(people.grid_worker).post(
        f"/workbench/regions/{people.grid.pk}/add/", {"name": "X院", "level": "compound"}
    )
    assert response.status_code == 404
    assert not Region.objects.filter(name="X院").exists()


def test_outsider_gets_404_adding_a_region_to_another_community(people, login):
    response = login(people.outsider).post(
        f"/workbench/regions/{people.community.pk}/add/", {"name": "第九网格", "level": "grid"}
    )
    assert response.status_code == 404
    assert not Region.objects.filter(name="第九网格").exists()


# A street officer starts from their communities


def test_a_street_officer_starts_from_their_communities_with_counts(people, login):
    response = login(people.street_officer).get("/workbench/residents/")
    choice = dict((community.name, count) for community, count in response.context["communities"])
    assert choice == {"清波社区": 2, "东坡社区": 0}
    assert "rows" not in response.context


def test_a_street_officer_searching_gets_residents_not_communities(people, login):
    response = login(people.street_officer).get("/workbench/residents/", {"q": "李"})
    assert [row["name"] for row in response.context["rows"]] == ["李奶奶"]


def test_a_community_worker_goes_straight_to_the_list(people, login):
    response = login(people.community_worker).get("/workbench/residents/")
    assert "communities" not in response.context and len(response.context["rows"]) == 2


def test_the_community_choice_costs_the_same_queries_for_more_communities(
    people, login, django_assert_max_num_queries
):
    client = login(people.street_officer)
    client.get("/workbench/residents/")
    for number in range(10):
        region_create(parent=people.street, name=f"新社区{number}", level="community")
    with django_assert_max_num_queries(8):
        response = client.get("/workbench/residents/")
    assert len(response.context["communities"]) == 12
