"""`docker compose up` (issue 7, and "production recipe"): what can be read from the files — the compose file's
wiring, the Dockerfile's stages. The image's build and start commands are run for real in
tests/deploy/test_deploy_run.py (marker `deploy`)."""
from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command

from reservations.models import FeedFile

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_starts_postgres_redis_web_worker_and_beat_with_health_checks(compose):
    services = compose["services"]
    assert {"postgres", "redis", "web", "worker", "beat"} <= set(services)
    for name in ("postgres", "redis", "web", "worker", "beat"):
        assert services[name]["healthcheck"]["test"], name
    web = services["web"]
    assert "gunicorn" in web["command"] and "crm_platform.wsgi" in web["command"]
    # Migrations run once per start in their own service, as the owner role; the site, worker and beat start
    # after it has succeeded (not after the site is healthy: /healthz/ asks the worker, that would never start).
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully", name
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy", name
    assert services["worker"]["command"][:4] == ["celery", "-A", "crm_platform", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "crm_platform", "beat"]
    env = web["environment"]
    assert env["REDIS_URL"].startswith("redis://redis") and env["DATABASE_URL"].startswith("postgres://")
    assert "DJANGO_DEBUG" not in env  # off unless asked for, and production never asks
    assert env["DJANGO_SECRET_KEY"].startswith("${DJANGO_SECRET_KEY")  # from the host's environment


def test_compose_uses_healthz_for_the_web_worker_and_beat_checks(compose):
    services = compose["services"]
    assert services["web"]["healthcheck"]["test"] == ["CMD", "python", "-m", "crm_platform.probe"]
    for name in ("worker", "beat"):
        assert "health_check healthz --no-http" in " ".join(services[name]["healthcheck"]["test"]), name
    assert "celery@$$HOSTNAME" in " ".join(services["worker"]["healthcheck"]["test"])  # this worker itself


def test_production_never_loads_the_demo_data_only_the_demo_profile_does(compose):
    for name, service in compose["services"].items():
        command = " ".join(service.get("command", []) if isinstance(service.get("command"), list)
                           else [service.get("command", "")])
        if "load_demo" in command:
            assert service.get("profiles") == ["demo"], name
    assert compose["services"]["demo-data"]["profiles"] == ["demo"]


def test_the_site_runs_as_a_role_that_owns_nothing_and_migrations_as_the_owner(compose):
    services = compose["services"]
    for name in ("web", "worker", "beat"):
        assert services[name]["environment"]["DATABASE_URL"].startswith("postgres://crm_app:"), name
    assert services["migrate"]["environment"]["DATABASE_URL"].startswith("postgres://crm_owner:")
    roles = (ROOT / "deploy" / "postgres" / "roles.psql").read_text()
    assert 'CREATE DATABASE :"dbname" OWNER :"owner"' in roles
    assert "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO" in roles


def test_a_tls_proxy_is_in_front_and_the_site_port_is_not_published(compose):
    services = compose["services"]
    assert "ports" not in services["web"]
    assert services["proxy"]["image"].startswith("caddy")
    assert services["web"]["environment"]["DJANGO_BEHIND_TLS_PROXY"] == "1"
    assert "reverse_proxy web:8000" in (ROOT / "deploy" / "Caddyfile").read_text()


def test_image_collects_static_files_and_does_not_run_as_root():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "collectstatic --noinput" in dockerfile and "\nUSER " in dockerfile
    assert "\nHEALTHCHECK " in dockerfile
    assert dockerfile.count("\nFROM ") == 2  # multi-stage: the final stage copies the virtualenv and /app only
    assert "--require-hashes -r \"$SRC/requirements/base.txt\"" in dockerfile
    assert "-e " not in dockerfile  # not an editable install
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", ".pgdata", ".env"} <= set(ignored)


@pytest.mark.django_db
def test_demo_data_is_loaded_on_the_first_start_only():
    FeedFile.objects.create(kind="org", sha256="0" * 64, filename="org.csv", loaded_by="earlier start")
    out = StringIO()
    call_command("load_demo", "--if-empty", stdout=out)
    assert "already loaded" in out.getvalue()
    assert FeedFile.objects.count() == 1
