"""Log lines as JSON: time in +08:00, level, logger, request id, user; one line per request; gunicorn's access log.

The request id is django-guid's (a fresh one per request, or the caller's `X-Request-ID` if it is a valid
UUID; it is returned in the response's `X-Request-ID` header and travels into the Celery tasks a request
starts). The JSON itself is python-json-logger's; this module only adds the fields the office reads.
"""
from __future__ import annotations

import contextvars
import datetime as dt
import logging
import time
from zoneinfo import ZoneInfo

from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

OFFICE_TZ = ZoneInfo("Asia/Shanghai")
_request: contextvars.ContextVar = contextvars.ContextVar("crm_log_request", default=None)

request_logger = logging.getLogger("crm.request")


def _username(request) -> str:
    """The signed-in user's name if this request has already looked the user up, else '-'.

    Never forces the lookup: a log line must not run a query (nor log one while a query is being logged).
    """
    from django.utils.functional import LazyObject, empty

    user = request.__dict__.get("user") if request is not None else None
    if isinstance(user, LazyObject):
        user = object.__getattribute__(user, "_wrapped")
        if user is empty:
            return "-"
    if user is None or not getattr(user, "is_authenticated", False):
        return "-"
    return user.get_username()


class ContextFilter(logging.Filter):
    """Adds request_id, user and, inside a Celery task, task_id and task to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            from django_guid import get_guid

            record.request_id = getattr(record, "request_id", None) or get_guid() or "-"
        except Exception:  # before Django is set up (gunicorn's master)
            record.request_id = getattr(record, "request_id", "-")
        if not hasattr(record, "user"):
            record.user = _username(_request.get())
        try:
            from celery._state import get_current_task

            task = get_current_task()
        except Exception:
            task = None
        if task is not None and getattr(task.request, "id", None):
            record.task_id = task.request.id
            record.task = task.name
        return True


class JsonFormatter(_JsonFormatter):
    """One JSON object per line: time, level, logger, message first, then the record's extra fields."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("rename_fields", {"asctime": "time", "levelname": "level", "name": "logger"})
        kwargs.setdefault("json_ensure_ascii", False)
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s", *args, **kwargs)

    def formatTime(self, record, datefmt=None):  # noqa: N802 (logging's name)
        return dt.datetime.fromtimestamp(record.created, OFFICE_TZ).isoformat(timespec="milliseconds")


class TextFormatter(logging.Formatter):
    """The development console: the same fields, readable."""

    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s %(user)s] %(message)s")

    def formatTime(self, record, datefmt=None):  # noqa: N802
        return dt.datetime.fromtimestamp(record.created, OFFICE_TZ).isoformat(timespec="milliseconds")


class RequestLogMiddleware:
    """One line per request (method, path, status, duration in ms, user); the query string is left out, as
    list filters may carry ID numbers or names."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _request.set(request)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
        except Exception:
            _request.reset(token)
            raise
        duration_ms = round((time.perf_counter() - started) * 1000, 1)
        status = response.status_code
        level = logging.ERROR if status >= 500 else logging.WARNING if status >= 400 else logging.INFO
        if status == 200 and request.path == "/healthz/":
            level = logging.DEBUG  # the probes' every 15 s; gunicorn's access log still has them
        request_logger.log(level, "%s %s %s", request.method, request.path, status, extra={
            "method": request.method, "path": request.path, "status": status, "duration_ms": duration_ms,
            "user": _username(request)})
        _request.reset(token)
        return response


def gunicorn_logger_class():
    """gunicorn's logger with JSON access lines (imported by gunicorn.conf.py, where gunicorn is installed)."""
    from gunicorn import glogging

    class GunicornJsonLogger(glogging.Logger):
        def setup(self, cfg):
            super().setup(cfg)
            formatter = JsonFormatter()
            for log in (self.error_log, self.access_log):
                for handler in log.handlers:
                    handler.setFormatter(formatter)

        def access(self, resp, req, environ, request_time):
            if not self.access_log_enabled:
                return
            headers = dict((name.lower(), value) for name, value in (resp.headers or []))
            self.access_log.info("%s %s %s", req.method, req.path, resp.status_code, extra={
                "method": req.method, "path": req.path, "status": resp.status_code,
                "duration_ms": round(request_time.total_seconds() * 1000, 1),
                "bytes": getattr(resp, "sent", None),
                "remote_addr": environ.get("HTTP_X_FORWARDED_FOR") or environ.get("REMOTE_ADDR"),
                "user_agent": environ.get("HTTP_USER_AGENT", ""),
                "request_id": headers.get("x-request-id", "-"),
            })

    return GunicornJsonLogger
