"""`/healthz/` (issue "production recipe", Health): the database, the cache, the migrations, the working-day
calendar for the next 60 days (R-CAL-1) and, with a broker, Redis and a Celery worker. What fails is named;
nothing else (no setting, address with a password, trace) is shown. The database down and the worker killed
for real: tests/deploy/test_deploy_run.py (marker `deploy`)."""
from __future__ import annotations

import datetime as dt
import os
import types
import uuid

import pytest
from django.test import override_settings

from relationships import workdays
from relationships.models import CalendarDay, CalendarYear

REDIS_URL = os.environ.get("REDIS_URL_FOR_TESTS", "redis://127.0.0.1:6379/15")
LAST_KNOWN = max(__import__("chinese_calendar").constants.holidays).year  # the package's last year


@pytest.fixture
def today(monkeypatch):
    """Fix the calendar check's today (the check runs in a thread of its own, so not through Django's clock)."""
    def set_today(day: dt.date):
        monkeypatch.setattr(workdays, "timezone", types.SimpleNamespace(localdate=lambda: day))
    return set_today


def _health(client):
    response = client.get("/healthz/", HTTP_ACCEPT="application/json")
    return response.status_code, response.json()


@pytest.mark.django_db
def test_r_cal_1_unknown_years_within_names_the_years_neither_the_package_nor_hq_knows():
    assert workdays.unknown_years_within(60, today=dt.date(LAST_KNOWN, 3, 1)) == []
    assert workdays.unknown_years_within(60, today=dt.date(LAST_KNOWN, 12, 1)) == [LAST_KNOWN + 1]
    assert workdays.unknown_years_within(400, today=dt.date(LAST_KNOWN, 12, 1)) == [LAST_KNOWN + 1, LAST_KNOWN + 2]
    CalendarDay.objects.create(date=dt.date(LAST_KNOWN + 1, 1, 1), is_workday=False, note="元旦")
    # One holiday does not make the year known (R-CAL-1): HQ records the year once its calendar is loaded.
    assert workdays.unknown_years_within(60, today=dt.date(LAST_KNOWN, 12, 1)) == [LAST_KNOWN + 1]
    CalendarYear.objects.create(year=LAST_KNOWN + 1)
    assert workdays.unknown_years_within(60, today=dt.date(LAST_KNOWN, 12, 1)) == []
    assert workdays.unknown_years_within(400, today=dt.date(LAST_KNOWN, 12, 1)) == [LAST_KNOWN + 2]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_healthz_answers_200_without_login_in_development_where_redis_and_the_worker_are_not_checked(client, today):
    today(dt.date(LAST_KNOWN, 3, 1))
    status, body = _health(client)
    assert status == 200, body
    assert set(body.values()) == {"OK"}
    names = " ".join(body)
    assert "Database" in names and "Cache" in names and "Migrations" in names and "CalendarKnown" in names
    assert "Redis" not in names and "CeleryWorker" not in names  # no broker: tasks run in-process


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_r_cal_1_healthz_fails_with_an_unknown_calendar_year_inside_60_days_until_hq_enters_it(client, today):
    today(dt.date(LAST_KNOWN, 12, 1))
    status, body = _health(client)
    assert status == 500
    assert body["CalendarKnown(days=60)"].endswith(f"working-day calendar unknown for {LAST_KNOWN + 1}")
    CalendarDay.objects.create(date=dt.date(LAST_KNOWN + 1, 1, 1), is_workday=False)
    assert _health(client)[0] == 500  # one holiday is not the year's calendar
    CalendarYear.objects.create(year=LAST_KNOWN + 1)
    assert _health(client)[0] == 200


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_healthz_fails_when_the_broker_has_no_worker_for_this_installations_queue(client, today):
    today(dt.date(LAST_KNOWN, 3, 1))
    queue = f"crm-health-{uuid.uuid4().hex[:8]}"  # no worker consumes this queue
    with override_settings(REDIS_URL=REDIS_URL, CELERY_BROKER_URL=REDIS_URL, CELERY_TASK_DEFAULT_QUEUE=queue):
        status, body = _health(client)
    assert status == 500
    assert body["Redis(db={}, host='127.0.0.1', port=6379)".format(REDIS_URL.rsplit("/", 1)[1])] == "OK"
    assert body["CeleryWorker()"] in {"Unavailable: Celery workers unavailable",
                                      f"Unavailable: No worker for Celery task queue {queue}"}


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_healthz_names_the_failed_check_without_leaking_settings(client, today, settings):
    today(dt.date(LAST_KNOWN, 12, 1))
    response = client.get("/healthz/", HTTP_ACCEPT="text/html")
    page = response.content.decode()
    assert response.status_code == 500 and "CalendarKnown" in page
    for secret in (settings.SECRET_KEY, settings.PII_KEY, "Traceback"):
        assert secret not in page


def test_healthz_is_exempt_from_the_https_redirect_for_the_containers_probe():
    from tests.deploy.test_production_settings import SETUP, _production_env, _start

    code = SETUP + ("; import re; print('EXEMPT', any(re.search(p, 'healthz/') for p in s.SECURE_REDIRECT_EXEMPT), "
                    "s.SECURE_SSL_REDIRECT)")
    result = _start(_production_env(), "-c", code)
    assert result.stdout.split()[-3:] == ["EXEMPT", "True", "True"], result.stderr
