import datetime

import pytest
from django.core.cache import cache
from django.utils import timezone

from conftest import VALID_CREDIT_CODES, VALID_ID_NUMBERS, make_user
from gongzhi.core.crypto import lookup_hash
from gongzhi.core.exceptions import ServiceError
from gongzhi.core.models import (
    ApiToken,
    AuditEvent,
    Consent,
    Organisation,
    Resident,
    ResidentClaim,
    ResidentInvitation,
    RoleAssignment,
    User,
)
from gongzhi.core.roles import Role
from gongzhi.core.selectors import (
    claims_queue_for,
    resident_search,
    resident_tags_visible_to,
    role_assignments_in,
    user_by_mobile,
)
from gongzhi.core.services import (
    CONSENT_PURPOSES,
    MOBILE_CODE_ATTEMPTS,
    api_token_create,
    api_token_revoke,
    claim_approve,
    claim_reject,
    claim_submit,
    consent_withdraw,
    invitation_claim,
    invitation_create,
    mobile_code_check,
    mobile_code_send,
    organisation_create,
    resident_unmask,
    role_grant,
    role_revoke,
    user_register,
)


@pytest.fixture
def newcomer(db):
    return make_user("13600000009", "新居民")


def submit(people, user, *, id_number=VALID_ID_NUMBERS[0], building=None) -> ResidentClaim:
    return claim_submit(
        user=user, building=building or people.building_2, room="2-201", name="李奶奶", id_number=id_number
    )


# Registration and consent


def texted(mobile: str) -> str:
    cache.clear()
    return mobile_code_send(mobile=mobile)


def test_a_wrong_code_is_refused_and_five_wrong_codes_void_the_right_one(db):
    code = texted("13600000001")
    for _attempt in range(MOBILE_CODE_ATTEMPTS):
        with pytest.raises(ServiceError) as refused:
            user_register(
                mobile="13600000001",
                code="999999" if code != "999999" else "000000",
                name="刘新",
                password="quiet-river-2026",
            )
        assert refused.value.field == "code"
    with pytest.raises(ServiceError):
        user_register(mobile="13600000001", code=code, name="刘新", password="quiet-river-2026")
    assert not User.objects.exists()


def test_a_code_works_once(db):
    code = texted("13600000001")
    mobile_code_check(mobile="13600000001", code=code)
    with pytest.raises(ServiceError):
        mobile_code_check(mobile="13600000001", code=code)


def test_it_sends_at_most_one_code_a_minute_to_a_number(db):
    texted("13600000001")
    with pytest.raises(ServiceError) as refused:
        mobile_code_send(mobile="13600000001")
    assert refused.value.field == "mobile"


def test_the_code_goes_out_through_the_sms_adapter(db, caplog):
    with caplog.at_level("INFO", logger="gongzhi.sms"):
        code = texted("13600000001")
    assert code in caplog.text and "13600000001" in caplog.text


def test_it_registers_with_one_consent_per_purpose_and_audits_each(db):
    user = user_register(
        mobile="+86 136 0000 0001", code=texted("13600000001"), name=" 刘新 ", password="quiet-river-2026"
    )
    assert user.mobile == "13600000001" and user.name == "刘新"
    consents = Consent.objects.filter(user=user)
    assert {consent.purpose for consent in consents} == set(CONSENT_PURPOSES)
    assert {consent.retention for consent in consents} == {
        retention for _s, retention in CONSENT_PURPOSES.values()
    }
    assert AuditEvent.objects.filter(action=AuditEvent.Action.CONSENT, actor=user).count() == len(
        CONSENT_PURPOSES
    )


def test_it_refuses_to_register_a_mobile_number_twice(people):
    with pytest.raises(ServiceError) as refused:
        user_register(mobile="13800000001", code="000000", name="又一个", password="quiet-river-2026")
    assert refused.value.field == "mobile"
    assert User.objects.filter(name="又一个").count() == 0


def test_withdrawing_one_consent_leaves_the_others(db):
    user = user_register(
        mobile="13600000001", code=texted("13600000001"), name="刘新", password="quiet-river-2026"
    )
    consent_withdraw(user=user, purpose="roster")
    withdrawn = dict(Consent.objects.filter(user=user).values_list("purpose", "withdrawn_at"))
    assert withdrawn["roster"] is not None and withdrawn["account"] is None


# API tokens


def test_a_token_stores_only_a_hash_of_its_secret(people):
    token, secret = api_token_create(user=people.resident, name="脚本")
    assert token.token_hash == lookup_hash(secret) and secret not in (token.prefix + token.token_hash)
    assert secret.startswith(token.prefix)


def test_it_refuses_a_token_for_an_organisation_the_user_does_not_work_for(people):
    with pytest.raises(ServiceError):
        api_token_create(user=people.provider_staff, name="冒名", organisation=people.work_unit)
    assert not ApiToken.objects.exists()


def test_it_refuses_a_token_without_a_name(people):
    with pytest.raises(ServiceError) as refused:
        api_token_create(user=people.resident, name="  ")
    assert refused.value.field == "name"


def test_only_the_owner_revokes_a_token(people):
    token, _secret = api_token_create(user=people.resident, name="脚本")
    with pytest.raises(ServiceError):
        api_token_revoke(user=people.community_worker, token=token)
    api_token_revoke(user=people.resident, token=token)
    token.refresh_from_db()
    assert token.revoked_at is not None


# Invitations


def test_an_invitation_links_the_record_once(people, newcomer):
    invitation = invitation_create(created_by=people.community_worker, resident=people.neighbour_record)
    assert invitation_claim(user=newcomer, code=invitation.code.lower()) == people.neighbour_record
    assert Resident.objects.get(pk=people.neighbour_record.pk).user == newcomer
    other = make_user("13600000008", "另一人")
    with pytest.raises(ServiceError):
        invitation_claim(user=other, code=invitation.code)


def test_an_expired_invitation_is_refused(people, newcomer):
    invitation = invitation_create(created_by=people.community_worker, resident=people.neighbour_record)
    ResidentInvitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - datetime.timedelta(days=1)
    )
    with pytest.raises(ServiceError):
        invitation_claim(user=newcomer, code=invitation.code)
    assert Resident.objects.get(pk=people.neighbour_record.pk).user is None


def test_a_new_invitation_replaces_the_unused_one(people):
    first = invitation_create(created_by=people.community_worker, resident=people.neighbour_record)
    second = invitation_create(created_by=people.community_worker, resident=people.neighbour_record)
    assert list(ResidentInvitation.objects.values_list("code", flat=True)) == [second.code] != [first.code]


def test_a_building_leader_may_not_create_invitations(people):
    with pytest.raises(ServiceError):
        invitation_create(created_by=people.building_leader, resident=people.resident_record)


# Verification requests


def test_a_request_must_name_a_building(people, newcomer):
    with pytest.raises(ServiceError) as refused:
        submit(people, newcomer, building=people.compound)
    assert refused.value.field == "building"


def test_a_person_has_one_waiting_request_at_a_time(people, newcomer):
    submit(people, newcomer)
    with pytest.raises(ServiceError):
        submit(people, newcomer, id_number=VALID_ID_NUMBERS[3])
    assert ResidentClaim.objects.filter(user=newcomer).count() == 1


def test_a_linked_person_cannot_ask_again(people):
    with pytest.raises(ServiceError):
        submit(people, people.resident, id_number=VALID_ID_NUMBERS[3])
    assert not ResidentClaim.objects.exists()


def test_approving_links_the_roster_record_with_the_same_id_number(people, newcomer):
    claim = submit(people, newcomer)
    resident = claim_approve(decided_by=people.community_worker, claim=claim)
    assert resident == people.neighbour_record and Resident.objects.get(pk=resident.pk).user == newcomer
    claim.refresh_from_db()
    assert claim.status == ResidentClaim.Status.APPROVED and claim.decided_by == people.community_worker


def test_approving_someone_not_on_the_roster_registers_them(people, newcomer):
    claim = submit(people, newcomer, id_number=VALID_ID_NUMBERS[3])
    resident = Resident.objects.get(pk=claim_approve(decided_by=people.community_worker, claim=claim).pk)
    assert (
        resident.user == newcomer
        and resident.region == people.building_2
        and resident.household.number == "2-201"
    )
    assert resident.phone_masked == newcomer.mobile_masked


def test_a_request_is_decided_once(people, newcomer):
    claim = submit(people, newcomer)
    claim_reject(decided_by=people.community_worker, claim=claim, reason="房号不符")
    with pytest.raises(ServiceError):
        claim_approve(decided_by=people.community_worker, claim=claim)


def test_declining_needs_a_reason(people, newcomer):
    claim = submit(people, newcomer)
    with pytest.raises(ServiceError) as refused:
        claim_reject(decided_by=people.community_worker, claim=claim, reason="  ")
    assert refused.value.field == "reason"


def test_the_queue_names_the_roster_record_of_the_same_id_number(people, newcomer):
    submit(people, newcomer)
    other = make_user("13600000008", "另一人")
    submit(people, other, id_number=VALID_ID_NUMBERS[3])
    matches = {claim.user_id: claim.roster_resident_id for claim in claims_queue_for(people.community_worker)}
    assert matches == {newcomer.pk: people.neighbour_record.pk, other.pk: None}
    assert not claims_queue_for(people.outsider).exists()


# Full numbers


def test_unmasking_returns_the_numbers_and_writes_an_audit_event(people):
    numbers = resident_unmask(user=people.community_secretary, resident=people.neighbour_record)
    assert numbers == {"phone": "13912345678", "id_number": VALID_ID_NUMBERS[0]}
    assert (
        AuditEvent.objects.filter(action=AuditEvent.Action.UNMASK, actor=people.community_secretary).count()
        == 1
    )


def test_unmasking_without_the_permission_is_refused_and_not_recorded(people):
    with pytest.raises(ServiceError):
        resident_unmask(user=people.community_worker, resident=people.neighbour_record)
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.UNMASK).exists()


# Roles and organisations


def test_a_role_is_granted_only_where_the_granter_manages_roles(people, newcomer):
    with pytest.raises(ServiceError):
        role_grant(
            granted_by=people.community_secretary,
            user=newcomer,
            role=Role.COMMUNITY_WORKER,
            region=people.other_community,
        )
    assert not RoleAssignment.objects.filter(user=newcomer).exists()


def test_a_role_is_granted_once_and_taken_away(people, newcomer):
    assignment = role_grant(
        granted_by=people.community_secretary, user=newcomer, role=Role.GRID_WORKER, region=people.grid
    )
    with pytest.raises(ServiceError):
        role_grant(
            granted_by=people.community_secretary, user=newcomer, role=Role.GRID_WORKER, region=people.grid
        )
    role_revoke(revoked_by=people.community_secretary, assignment=assignment)
    assert not RoleAssignment.objects.filter(user=newcomer).exists()
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.ROLE_REVOKED, target_id=str(newcomer.pk)
    ).exists()


def test_it_refuses_an_organisation_with_a_wrong_credit_code_check_character(people):
    with pytest.raises(ServiceError) as refused:
        organisation_create(
            created_by=people.community_secretary,
            name="协会",
            kind="social_organisation",
            region=people.community,
            credit_code=VALID_CREDIT_CODES[1][:-1] + "A",
        )
    assert refused.value.field == "credit_code"
    assert not Organisation.objects.filter(name="协会").exists()


def test_it_refuses_a_credit_code_already_registered_naming_the_field(people):
    with pytest.raises(ServiceError) as refused:
        organisation_create(
            created_by=people.community_secretary,
            name="协会",
            kind="social_organisation",
            region=people.community,
            credit_code=VALID_CREDIT_CODES[0].lower(),
        )
    assert refused.value.field == "credit_code"


# Selectors the pages read through


def test_resident_search_finds_within_a_region_subtree(people):
    assert {r.name for r in resident_search(people.street_officer, within=people.compound)} == {
        "张居民",
        "李奶奶",
    }
    assert {r.name for r in resident_search(people.street_officer, within=people.building_2)} == {"李奶奶"}


def test_sensitive_tags_are_left_out_for_those_who_may_not_see_them(people):
    resident = people.neighbour_record
    assert {t.tag for t in resident_tags_visible_to(people.community_worker, resident)} == {
        "elderly",
        "living_alone",
    }
    assert "low_income" in {t.tag for t in resident_tags_visible_to(people.street_officer, resident)}


def test_a_user_is_found_by_their_exact_mobile_number_only(people):
    assert user_by_mobile("138-0000-0005") == people.community_worker
    assert user_by_mobile("0005") is None


def test_role_assignments_in_a_region_include_its_organisations_and_subtree(people):
    holders = {assignment.user for assignment in role_assignments_in(people.community)}
    assert {
        people.community_worker,
        people.grid_worker,
        people.building_leader,
        people.work_unit_staff,
    } <= holders
    assert people.outsider not in holders and people.provider_staff not in holders
