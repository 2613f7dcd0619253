import pytest
from django.test import Client

from gongzhi.core.services import api_token_create


@pytest.fixture
def token_client():
    """A client that sends `Authorization: Bearer <secret>` and enforces CSRF like a real browser would,
    to show that a token needs none: `token_client(secret)`."""

    def make(secret: str) -> Client:
        return Client(enforce_csrf_checks=True, headers={"Authorization": f"Bearer {secret}"})

    return make


@pytest.fixture
def token_for():
    """A new token's secret: `token_for(user)`, or `token_for(user, organisation=agency)`."""

    def make(user, organisation=None) -> str:
        _token, secret = api_token_create(user=user, name="script", organisation=organisation)
        return secret

    return make
