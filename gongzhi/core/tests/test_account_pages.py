import re

import pytest
from django.conf import settings
from django.core.cache import cache
from django.urls import reverse

from conftest import VALID_ID_NUMBERS, make_user
from gongzhi.core.crypto import lookup_hash
from gongzhi.core.models import ApiToken, Consent, Resident, ResidentClaim, User
from gongzhi.core.services import (
    CONSENT_PURPOSES,
    api_token_create,
    claim_reject,
    claim_submit,
    consent_record,
    invitation_create,
    mobile_code_send,
)

NEW_MOBILE = "13600000001"
NEW_PASSWORD = "quiet-river-2026"


@pytest.fixture(autouse=True)
def english(client):
    """Assertions read the English msgids, whatever the state of the Chinese catalogue."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


@pytest.fixture
def newcomer(db):
    """Registered, not yet on the roster."""
    return make_user("13600000009", "新居民")


def registration(**changes) -> dict:
    """A filled-in registration form, with a code freshly texted to its mobile number."""
    cache.clear()
    mobile = changes.get("mobile") or NEW_MOBILE
    data = {
        "code": mobile_code_send(mobile=mobile),
        "mobile": NEW_MOBILE,
        "name": "刘新",
        "password1": NEW_PASSWORD,
        "password2": NEW_PASSWORD,
        **{f"consent_{purpose}": "on" for purpose in CONSENT_PURPOSES},
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def token_secret(response) -> str:
    return re.search(r'data-testid="token-secret">(gz_[^<]+)<', response.text).group(1)


# Registration


def test_the_login_page_links_to_registration(client, db):
    assert reverse("register") in client.get(reverse("login")).text


def test_the_registration_form_shows_each_purpose_with_its_retention_period(client, db):
    page = client.get(reverse("register")).text
    for statement, retention in CONSENT_PURPOSES.values():
        assert statement in page and retention in page


def test_it_registers_signs_in_and_sends_the_person_to_the_claim_page(client, db):
    response = client.post(reverse("register"), registration())
    assert response.status_code == 302 and response["Location"] == reverse("claim")
    user = User.objects.get(mobile_hash=lookup_hash(NEW_MOBILE))
    assert user.name == "刘新" and user.check_password(NEW_PASSWORD)
    assert set(Consent.objects.filter(user=user).values_list("purpose", flat=True)) == set(CONSENT_PURPOSES)
    assert client.get(reverse("me")).status_code == 200


def test_it_refuses_registration_without_every_consent(client, db):
    response = client.post(reverse("register"), registration(consent_roster=None))
    assert "Registration needs your agreement to this." in response.text
    assert not User.objects.exists()


def test_it_refuses_a_mobile_number_already_registered(people, client):
    users = User.objects.count()
    response = client.post(reverse("register"), registration(mobile="138 0000 0001"))
    assert "This mobile number is already registered; sign in instead." in response.text
    assert User.objects.count() == users


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"mobile": "1381234"}, "Enter an 11-digit mainland mobile number"),
        ({"name": ""}, "This field is required."),
        ({"password2": "another-river-2026"}, "The two passwords differ."),
        ({"password1": "20262026", "password2": "20262026"}, "This password is entirely numeric."),
        ({"password1": "short", "password2": "short"}, "This password is too short."),
    ],
)
def test_it_refuses_bad_registration_input_with_a_clear_message(client, db, changes, message):
    response = client.post(reverse("register"), registration(**changes))
    assert message in response.text
    assert not User.objects.exists() and not Consent.objects.exists()


def test_a_signed_in_person_is_sent_from_registration_to_their_page(people, login):
    assert login(people.resident).get(reverse("register"))["Location"] == reverse("me")


# My page


def test_my_page_needs_signing_in(client, db):
    assert client.get(reverse("me"))["Location"].startswith(reverse("login"))


def test_my_page_shows_my_record_with_masked_numbers_only(people, login):
    page = login(people.resident).get(reverse("me")).text
    assert "138****0001" in page and people.resident_record.id_number_masked in page
    assert "13800000001" not in page and VALID_ID_NUMBERS[1] not in page
    assert "1-101" in page


def test_it_withdraws_a_consent(people, login):
    consent_record(user=people.resident, purpose="roster")
    consent_record(user=people.resident, purpose="account")
    client = login(people.resident)
    response = client.post(reverse("consent-withdraw", args=["roster"]))
    assert response["Location"] == reverse("me")
    assert Consent.objects.get(user=people.resident, purpose="roster").withdrawn_at is not None
    assert Consent.objects.get(user=people.resident, purpose="account").withdrawn_at is None
    page = client.get(reverse("me")).text
    assert reverse("consent-withdraw", args=["roster"]) not in page
    assert reverse("consent-withdraw", args=["account"]) in page


def test_withdrawing_a_consent_for_an_unknown_purpose_is_404(people, login):
    assert login(people.resident).post(reverse("consent-withdraw", args=["marketing"])).status_code == 404


def test_withdrawing_a_consent_needs_post(people, login):
    assert login(people.resident).get(reverse("consent-withdraw", args=["roster"])).status_code == 405


def test_it_creates_a_token_and_shows_the_secret_only_once(people, login):
    client = login(people.resident)
    response = client.post(reverse("token-create"), {"name": "家用脚本"})
    secret = token_secret(response)
    token = ApiToken.objects.get(user=people.resident)
    assert token.token_hash == lookup_hash(secret) and token.organisation is None
    assert "no-store" in response["Cache-Control"]
    page = client.get(reverse("me")).text
    assert "家用脚本" in page and secret not in page and token.prefix in page


def test_it_refuses_a_token_without_a_name(people, login):
    response = login(people.resident).post(reverse("token-create"), {"name": "   "})
    assert "This field is required." in response.text
    assert not ApiToken.objects.exists()


def test_provider_staff_create_a_token_for_their_organisation(people, login):
    client = login(people.provider_staff)
    assert people.agency.name in client.get(reverse("me")).text
    client.post(reverse("token-create"), {"name": "派单系统", "organisation": people.agency.pk})
    assert ApiToken.objects.get(user=people.provider_staff).organisation == people.agency


def test_it_refuses_a_token_for_an_organisation_the_person_does_not_work_for(people, login):
    response = login(people.provider_staff).post(
        reverse("token-create"), {"name": "冒名", "organisation": people.work_unit.pk}
    )
    assert "Select a valid choice" in response.text
    assert not ApiToken.objects.exists()


def test_it_revokes_a_token(people, login):
    token, _secret = api_token_create(user=people.resident, name="旧脚本")
    client = login(people.resident)
    assert client.post(reverse("token-revoke", args=[token.pk]))["Location"] == reverse("me")
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert reverse("token-revoke", args=[token.pk]) not in client.get(reverse("me")).text


def test_revoking_someone_elses_token_is_404_and_changes_nothing(people, login):
    token, _secret = api_token_create(user=people.community_worker, name="工作脚本")
    assert login(people.resident).post(reverse("token-revoke", args=[token.pk])).status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


# Claiming a record on the roster


def test_it_links_a_record_with_an_invitation_code(people, login, newcomer):
    invitation = invitation_create(created_by=people.community_worker, resident=people.neighbour_record)
    client = login(newcomer)
    typed = f" {invitation.code[:4].lower()} {invitation.code[4:].lower()} "
    response = client.post(reverse("claim-code"), {"code": typed})
    assert response["Location"] == reverse("claim")
    assert Resident.objects.get(pk=people.neighbour_record.pk).user == newcomer
    assert "Your account is linked" in client.get(reverse("claim")).text


def test_it_refuses_an_unknown_invitation_code(people, login, newcomer):
    response = login(newcomer).post(reverse("claim-code"), {"code": "ABCD2345"})
    assert "This invitation code is unknown, used or expired." in response.text
    assert not Resident.objects.filter(user=newcomer).exists()


def test_the_building_list_follows_the_chosen_community(people, login, newcomer):
    response = login(newcomer).get(
        reverse("claim-buildings"), {"community": people.community.pk}, HTTP_HX_REQUEST="true"
    )
    assert 'id="id_building"' in response.text and "<html" not in response.text
    assert "清波院落 1栋" in response.text and "清波院落 2栋" in response.text
    assert "吉福1栋" not in response.text


def test_the_building_list_is_empty_for_an_unknown_community(people, login, newcomer):
    response = login(newcomer).get(reverse("claim-buildings"), {"community": "nonsense"})
    assert response.status_code == 200 and "1栋" not in response.text


def claim_request(people, **changes) -> dict:
    data = {
        "community": people.community.pk,
        "building": people.building_2.pk,
        "room": "2-201",
        "name": "李奶奶",
        "id_number": VALID_ID_NUMBERS[0].lower(),
    }
    data.update(changes)
    return data


def test_it_sends_a_verification_request_and_shows_it_waiting(people, login, newcomer):
    client = login(newcomer)
    response = client.post(reverse("claim"), claim_request(people))
    assert response["Location"] == reverse("claim")
    claim = ResidentClaim.objects.get(user=newcomer)
    assert claim.status == ResidentClaim.Status.PENDING and claim.region == people.building_2
    assert claim.id_number == VALID_ID_NUMBERS[0]
    page = client.get(reverse("claim")).text
    assert 'data-testid="claim-pending"' in page and "2-201" in page


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"id_number": "11010519491231002"}, "An ID number has 17 digits followed by a digit or X."),
        ({"id_number": "110105194912310021"}, "check digit is wrong"),
        ({"room": ""}, "This field is required."),
    ],
)
def test_it_refuses_a_bad_verification_request(people, login, newcomer, changes, message):
    response = login(newcomer).post(reverse("claim"), claim_request(people, **changes))
    assert message in response.text
    assert not ResidentClaim.objects.exists()


def test_it_refuses_a_building_outside_the_chosen_community(people, login, newcomer):
    response = login(newcomer).post(
        reverse("claim"), claim_request(people, building=people.other_building.pk)
    )
    assert "Select a valid choice" in response.text
    assert not ResidentClaim.objects.exists()


def test_it_shows_a_declined_request_with_its_reason(people, login, newcomer):
    claim = claim_submit(
        user=newcomer, building=people.building, room="1-102", name="新居民", id_number=VALID_ID_NUMBERS[3]
    )
    claim_reject(decided_by=people.community_worker, claim=claim, reason="查无此人,请到社区办理")
    page = login(newcomer).get(reverse("claim")).text
    assert 'data-testid="claim-rejected"' in page and "查无此人,请到社区办理" in page
    assert reverse("claim-code") in page


def test_a_linked_person_sees_their_record_and_cannot_send_a_request(people, login):
    client = login(people.resident)
    assert "Your account is linked" in client.get(reverse("claim")).text
    response = client.post(reverse("claim"), claim_request(people), follow=True)
    assert "Your account is already linked to a resident record." in response.text
    assert not ResidentClaim.objects.exists()


def test_the_send_code_button_texts_a_code_and_keeps_what_was_typed(client, db, caplog):
    cache.clear()
    with caplog.at_level("INFO", logger="gongzhi.sms"):
        response = client.post(reverse("register"), {"mobile": NEW_MOBILE, "name": "刘新", "send_code": "1"})
    assert NEW_MOBILE in caplog.text
    assert response.context["form"].initial["name"] == "刘新"
    assert not response.context["form"].is_bound and not User.objects.exists()


def test_the_send_code_button_refuses_a_bad_number(client, db, caplog):
    with caplog.at_level("INFO", logger="gongzhi.sms"):
        response = client.post(reverse("register"), {"mobile": "12345", "send_code": "1"})
    assert response.context["code_errors"] and "SMS" not in caplog.text


def test_registration_without_the_texted_code_is_refused(client, db):
    response = client.post(reverse("register"), registration(code="000000"))
    assert response.context["form"].errors["code"]
    assert not User.objects.exists()
