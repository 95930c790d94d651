"""The nightly pipeline as a Celery chain on the real Redis broker: started twice, worker killed mid-run.

R-MATCH-6 under fire: beat may start the same date twice and a worker may die in the middle of a unit;
after a fresh worker picks the redelivered task up, the night ends exactly as one clean run.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from celery import Celery

from relationships.models import AccountEvent
from reservations.models import BatchRun
from reservations.pipeline import STAGE_NAMES
from tests.integration.reservations.test_matching import _outcome, _scenario
from tests.support.factories import OutletFactory, StaffFactory
from tests.support.helpers import nightly
from tests.support.workers import QUEUE, REDIS_URL, ROOT, require_redis, worker_env

VISIBILITY = 4
N = 120


def _start_worker(name: str) -> subprocess.Popen:
    env = worker_env(CELERY_VISIBILITY_TIMEOUT=str(VISIBILITY), CELERY_RESTORE_INTERVAL="1",
                     CELERY_RESTORE_THROTTLE="1", PIPELINE_RETRY_SECONDS="1", MATCH_CHUNK_SIZE="4",
                     MATCH_UNIT_PAUSE_SECONDS="0.15")
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "crm_platform", "worker", "--concurrency=2", "--loglevel=WARNING",
         "--without-heartbeat", "--without-gossip", "--without-mingle", "-n", f"{name}-{os.getpid()}@%h"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=20)


def _wait(predicate, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


@pytest.fixture
def broker():
    require_redis()
    client = Celery("test-client", broker=REDIS_URL)
    yield client
    with client.connection_for_write() as conn:  # leave nothing of this run's queue behind
        conn.default_channel.queue_delete(QUEUE)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_pipeline_started_twice_and_killed_mid_run_ends_as_one_clean_run(broker):
    outlet = OutletFactory()
    people = [StaffFactory(outlet=outlet) for _ in range(3)]
    crashed = _scenario(outlet, people, N, month=3, seq0=0)
    events = AccountEvent.objects.filter(match_state__isnull=False)

    first = _start_worker("first")
    try:
        for _ in range(2):  # beat started twice
            broker.send_task("reservations.tasks.run_nightly_task", args=["2026-03-03"], queue=QUEUE)
        # A unit's events commit a moment before the ledger's progress line does: wait for both, so that a
        # loaded machine's kill between the two is not taken for missing progress.
        _wait(lambda: events.filter(match_state="done").count() >= 20
              and BatchRun.objects.get(stage="match").counts.get("units", 0) >= 5, 90,
              "the first units to commit and show as progress")
        assert BatchRun.objects.get(stage="match").status == "running"
    finally:
        _kill(first)
    done_at_kill = events.filter(match_state="done").count()
    assert done_at_kill < N, "the run finished before the worker was killed"
    assert BatchRun.objects.get(stage="match").counts.get("units", 0) >= 5  # progress shown while running

    second = _start_worker("second")
    try:
        _wait(lambda: BatchRun.objects.filter(stage=STAGE_NAMES[-1], status="succeeded").exists(), 180,
              "the redelivered run to finish")
    finally:
        _kill(second)

    runs = {r.stage: r for r in BatchRun.objects.filter(business_date="2026-03-03")}
    assert set(runs) == set(STAGE_NAMES) and all(r.status == "succeeded" for r in runs.values())
    assert runs["match"].attempts >= 2
    assert runs["match"].counts["events_read"] == N

    clean = _scenario(outlet, people, N, month=4, seq0=500)
    nightly("2026-04-03")
    assert _outcome(crashed) == _outcome(clean)
