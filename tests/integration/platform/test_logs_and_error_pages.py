"""Logs and error pages (issue "production recipe"): JSON lines with the time in +08:00, level, logger, request
id, user, and per request method, path, status and duration; the Celery task id inside tasks; time limits per
kind of task; 403/404/500 pages in Chinese that never show a trace."""
from __future__ import annotations

import io
import json
import logging
import re
import uuid

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import path

import crm_platform.urls
from crm_platform.logs import ContextFilter, JsonFormatter


def _boom(request):
    raise RuntimeError("secret internals: PII_KEY=abc")


def _forbidden(request):
    raise PermissionDenied


urlpatterns = [path("test-boom/", _boom), path("test-forbidden/", _forbidden), *crm_platform.urls.urlpatterns]


@pytest.fixture
def json_lines():
    """What the production console handler would print, as parsed JSON objects."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)


def test_a_log_line_is_json_with_time_in_beijing_time_level_logger_request_id_and_user(json_lines):
    logging.getLogger("crm.test").warning("名字 %s", "张三")
    line = json_lines()[-1]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+08:00", line["time"])
    assert (line["level"], line["logger"], line["message"]) == ("WARNING", "crm.test", "名字 张三")
    assert line["request_id"] == "-" and line["user"] == "-"  # outside a request


@pytest.mark.django_db
def test_each_request_logs_method_path_status_duration_user_and_the_request_id_it_returns(json_lines, staff_client,
                                                                                         staff):
    request_id = uuid.uuid4().hex
    response = staff_client.get("/?q=110101199003077777", HTTP_X_REQUEST_ID=request_id)
    assert response.status_code == 200 and response["X-Request-ID"] == request_id
    line = [entry for entry in json_lines() if entry["logger"] == "crm.request"][-1]
    assert (line["method"], line["path"], line["status"]) == ("GET", "/", 200)
    assert line["user"] == staff.user.username and line["request_id"] == request_id
    assert isinstance(line["duration_ms"], float)
    assert "110101199003077777" not in json.dumps(json_lines())  # the query string (filters) is never logged


@pytest.mark.django_db
def test_a_request_id_that_is_not_a_uuid_is_replaced(client):
    response = client.get("/accounts/login/", HTTP_X_REQUEST_ID="evil\nforged line")
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


def test_a_log_line_inside_a_celery_task_carries_the_task_id(json_lines):
    from celery import shared_task

    @shared_task(name="tests.log_something")
    def log_something():
        logging.getLogger("crm.test").info("inside")

    result = log_something.apply()
    line = [entry for entry in json_lines() if entry["message"] == "inside"][-1]
    assert line["task_id"] == result.id and line["task"] == "tests.log_something"


def test_celery_tasks_have_soft_and_hard_time_limits_per_kind():
    from crm_platform.celery import app

    app.loader.import_default_modules()
    limits = {name: (app.tasks[name].soft_time_limit, app.tasks[name].time_limit) for name in (
        "reservations.tasks.run_nightly_task", "reservations.tasks.run_stage_task",
        "reservations.tasks.load_feed_upload_task",
        "performance.tasks.compute_period_task")}
    for name, (soft, hard) in limits.items():
        assert soft and hard and soft < hard, name
    # A nightly stage may run for hours but is killed before the broker would redeliver it to another worker.
    from django.conf import settings

    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    assert limits["reservations.tasks.run_stage_task"][1] < visibility
    assert app.conf.task_soft_time_limit and app.conf.task_time_limit  # any other task


@pytest.mark.urls(__name__)
@pytest.mark.django_db
class TestErrorPagesWithDebugOff:
    """pytest-django runs with DEBUG off, as production does."""

    def test_500_is_chinese_and_shows_no_trace(self):
        response = Client(raise_request_exception=False).get("/test-boom/")
        page = response.content.decode()
        assert response.status_code == 500
        assert "出错" in page and "Something went wrong" not in page
        assert "Traceback" not in page and "secret internals" not in page and "RuntimeError" not in page

    def test_500_in_english_for_an_english_page(self):
        response = Client(raise_request_exception=False).get("/test-boom/", HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 500 and "Something went wrong" in response.content.decode()

    def test_404_and_403_are_chinese(self, staff_client):
        page = staff_client.get("/no-such-page/")
        assert page.status_code == 404 and "Not found" not in page.content.decode()
        forbidden = staff_client.get("/test-forbidden/")
        assert forbidden.status_code == 403 and "Not allowed" not in forbidden.content.decode()

    def test_a_form_refused_by_the_csrf_check_gets_the_chinese_403_page(self):
        client = Client(enforce_csrf_checks=True)
        response = client.post("/accounts/login/", {"username": "x", "password": "y"})
        page = response.content.decode()
        assert response.status_code == 403
        assert "CSRF" not in page and "Forbidden" not in page and "表单" in page

    def test_400_for_an_unknown_host_is_chinese(self):
        response = Client(HTTP_HOST="evil.example.net").get("/accounts/login/")
        page = response.content.decode()
        assert response.status_code == 400 and "Bad Request" not in page and "请求" in page
