import os
import subprocess
import sys

from django.conf import settings as django_settings
from django.urls import reverse

from conftest import PASSWORD
from gongzhi.core.models import AuditEvent, User


def test_healthz_reports_the_database_state(client, db):
    response = client.get("/healthz")
    assert response.json()["database"] == "ok"
    assert response.json()["status"] == "ok"


def test_pages_are_in_simplified_chinese_by_default(client, db):
    response = client.get(reverse("login"))
    assert response["Content-Language"] == "zh-hans"
    assert "登录" in response.text


def test_it_switches_to_english_and_stays_there(client, db):
    client.post("/i18n/setlang/", {"language": "en", "next": "/login/"})
    response = client.get(reverse("login"))
    assert response["Content-Language"] == "en"
    assert "Sign in" in response.text and "登录" not in response.text


def test_large_text_mode_stays_on_for_a_visitor(client, db):
    client.post(reverse("large-text"), {"enabled": "1", "next": "/"})
    assert 'class="large-text"' in client.get("/").text
    client.post(reverse("large-text"), {"enabled": "0", "next": "/"})
    assert 'class="large-text"' not in client.get("/").text


def test_large_text_mode_is_kept_on_the_account_across_devices(people, client):
    client.force_login(people.resident)
    client.post(reverse("large-text"), {"enabled": "1"})
    assert User.objects.get(pk=people.resident.pk).large_text
    client.cookies.clear()
    client.force_login(people.resident)
    assert 'class="large-text"' in client.get("/").text


def test_the_large_text_toggle_does_not_redirect_off_site(client, db):
    response = client.post(reverse("large-text"), {"enabled": "1", "next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_every_page_sends_a_strict_content_security_policy(client, db):
    policy = client.get("/")["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy


def test_it_signs_in_by_mobile_number_and_audits_it(people, client):
    response = client.post(reverse("login"), {"username": "13800000005", "password": PASSWORD})
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action=AuditEvent.Action.SIGN_IN, actor=people.community_worker).exists()


def test_a_wrong_password_is_refused_with_a_clear_message_and_audited_masked(people, client):
    response = client.post(reverse("login"), {"username": "13800000005", "password": "wrong"})
    assert "手机号或密码错误" in response.text
    event = AuditEvent.objects.get(action=AuditEvent.Action.SIGN_IN_FAILED)
    assert event.detail["mobile"] == "138****0005"


def test_it_locks_an_account_after_repeated_failures(people, client, settings):
    settings.AXES_ENABLED = True
    for _attempt in range(django_settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": "13800000005", "password": "wrong"})
    response = client.post(reverse("login"), {"username": "13800000005", "password": PASSWORD})
    assert response.status_code == 429
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.SIGN_IN).exists()


def test_it_refuses_to_start_in_production_with_the_development_key():
    environment = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY")}
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env={**environment, "DJANGO_SETTINGS_MODULE": "gongzhi.settings", "DEBUG": "0"},
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr


def test_in_production_it_demands_the_field_keys_too():
    environment = {k: v for k, v in os.environ.items() if k not in ("DEBUG",)}
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env={
            **environment,
            "DJANGO_SETTINGS_MODULE": "gongzhi.settings",
            "DEBUG": "0",
            "SECRET_KEY": "x" * 50,
            "FIELD_ENCRYPTION_KEYS": "",
            "LOOKUP_HASH_KEY": "",
        },
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0 and "FIELD_ENCRYPTION_KEYS" in result.stderr
