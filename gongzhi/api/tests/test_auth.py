import datetime

from django.test import Client
from django.utils import timezone

from conftest import grant
from gongzhi.core.models import ApiToken, AuditEvent, User
from gongzhi.core.roles import Role
from gongzhi.core.services import api_token_revoke


def test_it_answers_401_without_credentials(client, db):
    response = client.get("/api/v1/me", headers={"Accept-Language": "en"})
    assert response.status_code == 401
    assert response.json() == {"detail": "Sign in, or send an API token: Authorization: Bearer gz_…"}


def test_an_unsafe_request_without_credentials_gets_401_not_a_csrf_error(db):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/api/v1/organisations", {}, content_type="application/json")
    assert response.status_code == 401


def test_a_token_signs_the_caller_in_and_records_its_use(people, token_for, token_client):
    secret = token_for(people.community_worker)
    response = token_client(secret).get("/api/v1/me")
    assert response.status_code == 200
    assert response.json()["name"] == "社区工作者"
    assert ApiToken.objects.get().last_used_at is not None


def test_it_records_a_tokens_use_at_most_once_a_minute(people, token_for, token_client):
    secret = token_for(people.community_worker)
    recently = timezone.now() - datetime.timedelta(seconds=30)
    ApiToken.objects.update(last_used_at=recently)
    token_client(secret).get("/api/v1/me")
    assert ApiToken.objects.get().last_used_at == recently

    long_ago = timezone.now() - datetime.timedelta(minutes=2)
    ApiToken.objects.update(last_used_at=long_ago)
    token_client(secret).get("/api/v1/me")
    assert ApiToken.objects.get().last_used_at > recently


def test_a_revoked_token_gets_401(people, token_for, token_client):
    secret = token_for(people.community_worker)
    api_token_revoke(user=people.community_worker, token=ApiToken.objects.get())
    response = token_client(secret).get("/api/v1/me", headers={"Accept-Language": "en"})
    assert response.status_code == 401
    assert response.json() == {"detail": "This API token is unknown or has been revoked."}


def test_a_bogus_token_gets_401(people, token_for, token_client):
    token_for(people.community_worker)
    for secret in ("gz_not-a-real-token", "not-even-prefixed", ""):
        assert token_client(secret).get("/api/v1/me").status_code == 401


def test_a_bogus_token_is_refused_even_beside_a_signed_in_session(people, login):
    client = login(people.community_worker)
    assert client.get("/api/v1/me").status_code == 200
    assert client.get("/api/v1/me", headers={"Authorization": "Bearer gz_bogus"}).status_code == 401


def test_the_token_of_a_deactivated_account_gets_401(people, token_for, token_client):
    secret = token_for(people.community_worker)
    User.objects.filter(pk=people.community_worker.pk).update(is_active=False)
    assert token_client(secret).get("/api/v1/me").status_code == 401


def test_an_organisation_token_acts_only_within_its_organisation(people, token_for, token_client):
    # One person, two hats: a community worker who also works for the social-work agency.
    worker = people.community_worker
    grant(worker, Role.PROVIDER_STAFF, organisation=people.agency)
    personal = token_client(token_for(worker))
    agency_only = token_client(token_for(worker, organisation=people.agency))

    assert personal.get("/api/v1/residents").json()["count"] == 2
    assert agency_only.get("/api/v1/residents").json()["count"] == 0
    assert agency_only.get(f"/api/v1/residents/{people.neighbour_record.pk}").status_code == 404
    assert agency_only.get("/api/v1/regions").json()["count"] == 0
    assert agency_only.get(f"/api/v1/regions/{people.community.pk}").status_code == 404
    assert agency_only.get("/api/v1/regions/tree").json() == []

    names = {item["name"] for item in agency_only.get("/api/v1/organisations").json()["items"]}
    assert names == {"青羊社工中心"}
    assert agency_only.get(f"/api/v1/organisations/{people.work_unit.pk}").status_code == 404
    assert [role["role"] for role in agency_only.get("/api/v1/me").json()["roles"]] == [Role.PROVIDER_STAFF]


def test_an_organisation_token_of_a_superuser_is_no_superuser(people, token_for, token_client):
    grant(people.admin, Role.PROVIDER_STAFF, organisation=people.agency)
    agency_only = token_client(token_for(people.admin, organisation=people.agency))
    assert agency_only.get("/api/v1/residents").json()["count"] == 0
    assert agency_only.get("/api/v1/regions").json()["count"] == 0
    assert agency_only.get("/api/v1/regions/tree").json() == []


def test_the_session_signs_the_caller_in(people, login):
    response = login(people.community_worker).get("/api/v1/me")
    assert response.status_code == 200
    assert response.json()["id"] == people.community_worker.pk


def test_a_session_post_without_the_csrf_token_is_refused(people):
    client = Client(enforce_csrf_checks=True)
    client.force_login(people.community_secretary)
    url = f"/api/v1/residents/{people.neighbour_record.pk}/unmask"

    refused = client.post(url, headers={"Accept-Language": "en"})
    assert refused.status_code == 403
    assert refused.json() == {"detail": "The CSRF check failed: send the X-CSRFToken header."}
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.UNMASK).exists()

    client.get("/api/v1/docs")  # the docs page hands out the CSRF token, as any page of the site does
    accepted = client.post(url, headers={"X-CSRFToken": client.cookies["csrftoken"].value})
    assert accepted.status_code == 200


def test_a_token_post_needs_no_csrf_token(people, token_for, token_client):
    client = token_client(token_for(people.community_secretary))
    response = client.post(f"/api/v1/residents/{people.neighbour_record.pk}/unmask")
    assert response.status_code == 200
