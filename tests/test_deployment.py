"""`docker compose up` (issue 7): what can be checked without a Docker engine — the file's wiring, and the
start-up commands it runs, which are the project's own."""
from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command

from reservations.models import FeedFile

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_starts_postgres_redis_web_worker_and_beat_with_health_checks(compose):
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "web", "worker", "beat"}
    for name in ("postgres", "redis", "web", "worker"):
        assert services[name]["healthcheck"]["test"], name
    web = services["web"]
    assert "gunicorn crm_platform.wsgi" in web["command"]
    steps = web["command"]
    assert steps.index("migrate --noinput") < steps.index("load_demo --if-empty") < steps.index("gunicorn")
    assert web["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert web["depends_on"]["redis"]["condition"] == "service_healthy"
    for name in ("worker", "beat"):  # after the migrations, i.e. once the site answers
        assert services[name]["depends_on"]["web"]["condition"] == "service_healthy"
    assert services["worker"]["command"].startswith("celery -A crm_platform worker")
    assert services["beat"]["command"].startswith("celery -A crm_platform beat")
    env = web["environment"]
    assert env["REDIS_URL"].startswith("redis://redis") and env["DATABASE_URL"].startswith("postgres://")
    assert env["DJANGO_DEBUG"] == "0"
    assert env["DJANGO_SECRET_KEY"].startswith("${DJANGO_SECRET_KEY")  # from the host's environment


def test_image_collects_static_files_and_does_not_run_as_root():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "collectstatic --noinput" in dockerfile and "\nUSER " in dockerfile
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", ".pgdata", ".env"} <= set(ignored)


@pytest.mark.django_db
def test_demo_data_is_loaded_on_the_first_start_only():
    FeedFile.objects.create(kind="org", sha256="0" * 64, filename="org.csv", loaded_by="earlier start")
    out = StringIO()
    call_command("load_demo", "--if-empty", stdout=out)
    assert "already loaded" in out.getvalue()
    assert FeedFile.objects.count() == 1
