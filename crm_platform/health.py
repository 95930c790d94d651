"""`/healthz/`: what a container probe and an operator need to know is working (django-health-check).

The database, the cache, the migrations applied and the working-day calendar known for the next 60 days
(R-CAL-1) always; with REDIS_URL also Redis itself and a Celery worker answering a ping on this
installation's queue. Without REDIS_URL (development: tasks run in-process) there is no broker and no
worker to ask, so those two are not checked. The page says which check failed and nothing else: no
setting, password or trace (django-health-check reports a failed check's own short message only).
"""
from __future__ import annotations

import dataclasses
import datetime as dt

from celery import Celery
from django.conf import settings
from django.db import connections
from django.db.migrations.executor import MigrationExecutor
from health_check.base import HealthCheck
from health_check.contrib.celery import Ping
from health_check.exceptions import ServiceUnavailable
from health_check.views import HealthCheckView
from redis.asyncio import Redis

from relationships.workdays import unknown_years_within

CALENDAR_DAYS_AHEAD = 60


class _ClosesConnections:
    """Sync checks run in an executor thread; their database connection is that thread's and is closed
    after each probe, so probes never pile up idle connections."""

    def run(self):
        try:
            return self.check()
        finally:
            connections.close_all()


@dataclasses.dataclass
class Migrations(_ClosesConnections, HealthCheck):
    """Every migration of the code is applied (a new image started before `migrate` ran is not healthy)."""

    def check(self):
        executor = MigrationExecutor(connections["default"])
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if plan:
            raise ServiceUnavailable(f"{len(plan)} migrations not applied")


@dataclasses.dataclass
class CalendarKnown(_ClosesConnections, HealthCheck):
    """R-CAL-1: every year the next 60 days touch is known to chinesecalendar or entered by HQ."""

    days: int = CALENDAR_DAYS_AHEAD

    def check(self):
        missing = unknown_years_within(self.days)
        if missing:
            raise ServiceUnavailable("working-day calendar unknown for " + ", ".join(map(str, missing)))


@dataclasses.dataclass
class CeleryWorker(HealthCheck):
    """A worker answers a ping and consumes this installation's queue (CELERY_QUEUE). A client of its own per
    probe, from the settings of the moment: no connection is shared with the threads of other probes."""

    timeout: dt.timedelta = dataclasses.field(default=dt.timedelta(seconds=4), repr=False)

    def run(self):
        app = Celery("crm-health", broker=settings.CELERY_BROKER_URL, set_as_current=False)
        app.conf.task_default_queue = settings.CELERY_TASK_DEFAULT_QUEUE
        try:
            Ping(app=app, timeout=dt.timedelta(seconds=2)).run()
        finally:
            app.close()


def _redis_client():
    return Redis.from_url(settings.REDIS_URL, socket_connect_timeout=3, socket_timeout=3)


def checks() -> list:
    found: list = [
        "health_check.checks.Database",
        "health_check.checks.Cache",
        Migrations,
        CalendarKnown,
    ]
    if settings.REDIS_URL:
        found += [("health_check.contrib.redis.Redis", {"client_factory": _redis_client}), CeleryWorker]
    return found


class HealthView(HealthCheckView):
    """The checks are chosen per request from the settings (so a test can switch Redis on and off)."""

    def get_checks(self):
        self.checks = checks()
        return super().get_checks()
