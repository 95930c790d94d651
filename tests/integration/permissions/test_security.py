"""R-SEC-AUTH-1: lockout, session timeouts, deploy checks; the content security policy."""
from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.urls import reverse

from permissions.middleware import AUTH_AT, LAST_SEEN
from tests.support.factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_r_sec_auth_1_manage_py_check_deploy_is_clean_with_production_settings():
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update({
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        "PII_KEY": secrets.token_urlsafe(32),
        "DJANGO_ALLOWED_HOSTS": "crm.example.com",
        "DATABASE_URL": os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crm"),
        "DJANGO_SETTINGS_MODULE": "crm_platform.settings",
    })
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_r_sec_auth_1_production_settings_are_strict():
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update({"DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
                "PII_KEY": secrets.token_urlsafe(32), "DJANGO_ALLOWED_HOSTS": "crm.example.com",
                "DATABASE_URL": os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crm")})
    code = ("from django.conf import settings as s; import django; django.setup(); "
            "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, s.SECURE_SSL_REDIRECT, "
            "s.SECURE_HSTS_SECONDS > 0, s.DEBUG)")
    result = subprocess.run([sys.executable, "-c", code], cwd=settings.BASE_DIR, capture_output=True, text=True,
                            env={**env, "DJANGO_SETTINGS_MODULE": "crm_platform.settings"}, timeout=60)
    assert result.stdout.split()[-6:] == ["True", "True", "True", "True", "True", "False"], result.stderr
    # Without a secret key production refuses to start.
    env.pop("DJANGO_SECRET_KEY")
    result = subprocess.run([sys.executable, "-c", code], cwd=settings.BASE_DIR, capture_output=True, text=True,
                            env={**env, "DJANGO_SETTINGS_MODULE": "crm_platform.settings"}, timeout=60)
    assert result.returncode != 0 and "DJANGO_SECRET_KEY" in result.stderr


def _sign_in(client, username, password):
    return client.post(reverse("login"), {"username": username, "password": password})


def test_r_sec_auth_1_sign_in_locks_after_repeated_failures():
    user = UserFactory(username="victim", password="right-password-1")
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _sign_in(client, "victim", "wrong").status_code == 200  # the form again, with its error
    response = _sign_in(client, "victim", "wrong")
    assert response.status_code == 429
    # Now even the right password is refused, from this client and from another one.
    for c in (client, Client(HTTP_USER_AGENT="another browser")):
        response = _sign_in(c, "victim", "right-password-1")
        assert response.status_code == 429 and SESSION_KEY not in c.session
        assert "locked" in response.content.decode().lower() or "锁" in response.content.decode()
    assert UserFactory(username="bystander", password="pw-bystander-1")
    # Only the account is locked: another user signs in from another browser and from this very client (same
    # address, same browser). Spraying is slowed per address instead (tests/integration/permissions/test_signin.py).
    assert _sign_in(Client(HTTP_USER_AGENT="colleague"), "bystander", "pw-bystander-1").status_code == 302
    assert _sign_in(client, "bystander", "pw-bystander-1").status_code == 302
    assert user.pk


def test_r_sec_auth_1_a_successful_sign_in_resets_the_failure_count():
    UserFactory(username="typo", password="right-password-1")
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _sign_in(client, "typo", "wrong")
    assert _sign_in(client, "typo", "right-password-1").status_code == 302
    client.post(reverse("logout"))
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _sign_in(client, "typo", "wrong")
    assert _sign_in(client, "typo", "right-password-1").status_code == 302


def _stale(client, **stamps):
    session = client.session
    for key, value in stamps.items():
        session[key] = value
    session.save()


def test_r_sec_auth_1_session_ends_after_idle_time():
    staff = StaffFactory()
    client = Client()
    assert _sign_in(client, staff.user.username, "pw-12345678").status_code == 302
    assert client.get(reverse("home")).status_code == 200
    now = int(time.time())
    _stale(client, **{LAST_SEEN: now - settings.SESSION_IDLE_TIMEOUT - 5})
    response = client.get(reverse("reservations:list"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert SESSION_KEY not in client.session
    assert client.get(reverse("home")).status_code == 302  # still signed out


def test_r_sec_auth_1_activity_keeps_the_session_but_not_beyond_the_absolute_limit():
    staff = StaffFactory()
    client = Client()
    _sign_in(client, staff.user.username, "pw-12345678")
    now = int(time.time())
    _stale(client, **{LAST_SEEN: now - settings.SESSION_IDLE_TIMEOUT + 60})
    assert client.get(reverse("home")).status_code == 200  # within the idle window
    assert client.session[LAST_SEEN] >= now  # and the window moved on
    _stale(client, **{AUTH_AT: now - settings.SESSION_ABSOLUTE_TIMEOUT - 5, LAST_SEEN: now})
    response = client.get(reverse("home"))
    assert response.status_code == 302 and SESSION_KEY not in client.session


def test_the_session_cookie_is_http_only_and_expires_with_the_browser():
    assert settings.SESSION_COOKIE_HTTPONLY and settings.CSRF_COOKIE_HTTPONLY
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE


def test_every_page_carries_a_content_security_policy_with_a_nonce_for_its_script():
    staff = StaffFactory()
    client = Client()
    client.force_login(staff.user)
    response = client.get(reverse("reservations:create"))
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
    assert "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";", 1)[0]
    nonce = re.search(r"'nonce-([^']+)'", policy).group(1)
    scripts = re.findall(r"<script([^>]*)>", response.content.decode())
    assert scripts and all(f'nonce="{nonce}"' in attrs or "src=" in attrs for attrs in scripts)
    other = client.get(reverse("reservations:create"))["Content-Security-Policy"]
    assert nonce not in other  # a fresh nonce on every response
    assert "Content-Security-Policy" in client.get(reverse("login")).headers
