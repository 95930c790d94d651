"""Fail-closed settings (issue "production recipe"): debug is off unless asked for; with debug off a missing,
short or placeholder secret, the development key, a missing DATABASE_URL or allowed hosts stop the start with
a message naming the variable; the build-only switch serves nothing; `check --deploy` is clean with the
environment docker-compose.yml gives the site."""
from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from crm_platform.env import DEV_PII_KEY, DEV_SECRET_KEY

ROOT = Path(__file__).resolve().parents[2]
SETUP = "import django; django.setup(); from django.conf import settings as s; print('DEBUG', s.DEBUG)"


def _production_env(**changes) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("DJANGO_") and k not in {"PII_KEY", "DATABASE_URL", "REDIS_URL"}}
    env.update({
        "DJANGO_SETTINGS_MODULE": "crm_platform.settings",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        "PII_KEY": secrets.token_urlsafe(32),
        "DJANGO_ALLOWED_HOSTS": "crm.example.com",
        "DATABASE_URL": os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crm"),
    })
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def _start(env: dict, *argv: str) -> subprocess.CompletedProcess:
    command = [sys.executable, *argv] if argv else [sys.executable, "-c", SETUP]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_debug_is_off_when_django_debug_is_unset_even_without_other_variables():
    result = _start(_production_env(DJANGO_DEBUG=None))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == ["DEBUG", "False"]


@pytest.mark.parametrize("name, value, reason", [
    ("DJANGO_SECRET_KEY", None, "must be set"),
    ("DJANGO_SECRET_KEY", "", "must be set"),
    ("DJANGO_SECRET_KEY", "short-but-random-Qx7", "characters long"),
    ("DJANGO_SECRET_KEY", "change-me-in-production" * 3, "placeholder"),
    ("DJANGO_SECRET_KEY", "a" * 64, "different characters"),
    ("DJANGO_SECRET_KEY", DEV_SECRET_KEY, "development key"),
    ("PII_KEY", None, "must be set"),
    ("PII_KEY", "0123456789abcdef", "characters long"),
    ("PII_KEY", "change-me-in-production-please-now", "placeholder"),
    ("PII_KEY", "k" * 32, "different characters"),
    ("PII_KEY", DEV_PII_KEY, "development key"),
    ("DJANGO_ALLOWED_HOSTS", None, "must be set"),
    ("DATABASE_URL", None, "must be set"),
])
def test_start_is_refused_with_a_missing_or_weak_secret_and_the_message_names_it(name, value, reason):
    for argv in ((), ("manage.py", "check")):  # settings imported by any process, and manage.py's one sentence
        result = _start(_production_env(**{name: value}), *argv)
        assert result.returncode != 0
        assert name in result.stderr and reason in result.stderr, result.stderr
        if value:
            assert value not in result.stderr  # the refused secret itself is never printed
    assert "Traceback" not in result.stderr  # manage.py says it in one sentence


def test_the_development_keys_are_accepted_only_with_debug_on():
    env = _production_env(DJANGO_DEBUG="1", DJANGO_SECRET_KEY=None, PII_KEY=None, DJANGO_ALLOWED_HOSTS=None)
    result = _start(env, "-c", SETUP + f"; print(s.SECRET_KEY == {DEV_SECRET_KEY!r}, s.PII_KEY == {DEV_PII_KEY!r})")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == ["True", "True"]


def test_the_embedded_postgresql_never_starts_with_debug_off(tmp_path):
    env = _production_env(DATABASE_URL=None, CRM_PGDATA=str(tmp_path / "pgdata"))
    result = _start(env)
    assert result.returncode != 0 and "DATABASE_URL must be set" in result.stderr
    assert not (tmp_path / "pgdata").exists()


def test_the_build_switch_imports_settings_without_any_secret_or_database_for_collectstatic_only(tmp_path):
    bare = {k: v for k, v in _production_env().items()
            if k not in {"DJANGO_SECRET_KEY", "PII_KEY", "DJANGO_ALLOWED_HOSTS", "DATABASE_URL"}}
    bare.update(DJANGO_BUILD_STEP="1", CRM_BASE_DIR=str(tmp_path), PGHOST="/nonexistent")
    for folder in ("templates", "static", "locale"):
        (tmp_path / folder).symlink_to(ROOT / folder)
    result = _start(bare, str(ROOT / "manage.py"), "collectstatic", "--noinput")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "staticfiles" / "admin").is_dir()
    # Anything else started with the switch is refused: it cannot serve.
    for argv in (("manage.py", "migrate"), ("manage.py", "runserver"), ("-m", "celery", "-A", "crm_platform", "worker"),
                 ("-c", SETUP)):
        result = _start(bare, *argv)
        assert result.returncode != 0 and "DJANGO_BUILD_STEP" in result.stderr, argv
    result = _start({**bare, "DJANGO_DEBUG": "1"}, "manage.py", "collectstatic", "--noinput")
    assert result.returncode != 0 and "DJANGO_BUILD_STEP" in result.stderr


def compose_environment(service: str, values: dict[str, str]) -> dict[str, str]:
    """The environment docker-compose.yml gives `service`, with ${VAR...} filled from `values` (a missing one
    with `:?` raises, as compose refuses)."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    env = compose["services"][service]["environment"]

    def fill(match: re.Match) -> str:
        name, op, rest = match.group(1), match.group(2), match.group(3)
        if name in values and values[name] != "":
            return values[name]
        if op == ":?":
            raise LookupError(f"{name}: {rest}")
        return rest if op == ":-" else ""

    return {key: re.sub(r"\$\{(\w+)(:\?|:-)?([^}]*)\}", fill, str(value)) for key, value in env.items()}


def compose_secrets() -> dict[str, str]:
    return {"DJANGO_SECRET_KEY": secrets.token_urlsafe(64), "PII_KEY": secrets.token_urlsafe(32),
            "DJANGO_ALLOWED_HOSTS": "crm.example.com", "CRM_APP_DB_PASSWORD": secrets.token_hex(16),
            "CRM_OWNER_DB_PASSWORD": secrets.token_hex(16), "POSTGRES_PASSWORD": secrets.token_hex(16)}


@pytest.mark.parametrize("missing", ["DJANGO_SECRET_KEY", "PII_KEY", "DJANGO_ALLOWED_HOSTS", "CRM_APP_DB_PASSWORD"])
def test_compose_refuses_to_start_the_site_without_each_secret_and_says_which(missing):
    values = compose_secrets()
    values.pop(missing)
    with pytest.raises(LookupError, match=missing):
        compose_environment("web", values)


def test_compose_gives_no_debug_and_no_fallback_secret():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    text = (ROOT / "docker-compose.yml").read_text()
    assert "change-me" not in text
    for name, service in compose["services"].items():
        env = service.get("environment", {})
        assert "DJANGO_DEBUG" not in env, name
        for key in ("DJANGO_SECRET_KEY", "PII_KEY", "DJANGO_ALLOWED_HOSTS"):
            if key in env:
                assert str(env[key]).startswith("${" + key + ":?"), (name, key)


def test_check_deploy_is_clean_with_the_compose_environment_of_the_site():
    env = compose_environment("web", compose_secrets())
    env["DATABASE_URL"] = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crm")
    env["REDIS_URL"] = os.environ.get("REDIS_URL_FOR_TESTS", "redis://127.0.0.1:6379/15")
    base = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_") and k != "PII_KEY"}
    result = _start({**base, **env, "DJANGO_SETTINGS_MODULE": "crm_platform.settings"},
                    "manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
