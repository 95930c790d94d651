"""A real Celery worker over a real Redis for the tests that need one (the nightly task, feed uploads, mail).

Each test run has a queue of its own, so that runs sharing the Redis server never take each other's tasks; the
worker reaches the test database by the URL of the test connection.
"""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

REDIS_URL = os.environ.get("REDIS_URL_FOR_TESTS", "redis://127.0.0.1:6379/15")
QUEUE = f"crm-test-{os.getpid()}"
ROOT = Path(__file__).resolve().parents[2]


def redis_up() -> bool:
    host, port = REDIS_URL.split("//")[1].split("/")[0].split(":")
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
        return True
    except OSError:
        return False


def require_redis() -> None:
    """CI always has Redis: there its absence fails the test; elsewhere the test is skipped."""
    if not redis_up():
        if os.environ.get("CI"):
            pytest.fail(f"Redis is not reachable at {REDIS_URL}; CI must start it")
        pytest.skip("no Redis on this machine (CI always has one)")


def test_database_url() -> str:
    s = connection.settings_dict
    host = s["HOST"] or "127.0.0.1"
    host = quote(host, safe="") if host.startswith("/") else host
    auth = quote(s["USER"] or "postgres") + (f":{quote(s['PASSWORD'])}" if s["PASSWORD"] else "")
    port = f":{s['PORT']}" if s["PORT"] else ""
    return f"postgres://{auth}@{host}{port}/{s['NAME']}"


test_database_url.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


def worker_env(*, queue: str = QUEUE, **extra: str) -> dict[str, str]:
    return dict(os.environ, DATABASE_URL=test_database_url(), REDIS_URL=REDIS_URL, DJANGO_DEBUG="1",
                CELERY_QUEUE=queue, **extra)


def start_worker(name: str, *, queue: str = QUEUE, **extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "crm_platform", "worker", "--pool=solo", "--loglevel=WARNING",
         "--without-heartbeat", "--without-gossip", "--without-mingle", "-n", f"{name}-{os.getpid()}@%h"],
        cwd=ROOT, env=worker_env(queue=queue, **extra), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_worker(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


@contextlib.contextmanager
def running_worker(name: str, *, queue: str = QUEUE, **extra: str) -> Iterator[subprocess.Popen]:
    require_redis()
    proc = start_worker(name, queue=queue, **extra)
    try:
        yield proc
    finally:
        stop_worker(proc)
