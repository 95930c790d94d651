"""The nightly run through a real Celery worker on the real Redis broker (not the in-process mode)."""
from __future__ import annotations

import time

import pytest

from reservations.models import BatchRun
from tests.support.factories import OutletFactory, StaffFactory, make_id_number
from tests.support.helpers import at, event_row, load_events, reserve
from tests.support.workers import QUEUE, REDIS_URL, running_worker


@pytest.fixture
def worker():
    with running_worker("test") as proc:
        yield proc


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_nightly_task_runs_in_a_real_worker_over_redis(worker):
    from celery import Celery

    outlet = OutletFactory()
    staff = StaffFactory(outlet=outlet)
    idn = make_id_number()
    r = reserve(staff, id_number=idn, when=at("2026-03-03 09:00"))
    load_events([event_row(when=at("2026-03-03 10:00"), id_number=idn, name="张三", outlet=outlet)])

    # A client of its own: the project's app runs tasks in-process when the test settings have no broker.
    client = Celery("test-client", broker=REDIS_URL)
    client.send_task("reservations.tasks.run_nightly_task", args=["2026-03-03"], queue=QUEUE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if BatchRun.objects.filter(stage="expire", status="succeeded").exists():
            break
        assert worker.poll() is None, "the worker died"
        time.sleep(0.5)
    else:
        pytest.fail("the worker did not finish the nightly run in time")
    r.refresh_from_db()
    assert r.status == "matched"
    assert BatchRun.objects.get(stage="match").counts["matched"] == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_browser_upload_is_loaded_by_a_real_worker(worker):
    """Issue 7: the upload page's file is loaded in the background; the page reads the committed outcome."""
    from celery import Celery

    from relationships.pii import seal
    from reservations.models import FeedFile, FeedUpload
    from tests.support.factories import UserFactory
    from tests.support.helpers import csv_bytes

    content = csv_bytes(["code", "name", "kind", "parent_code", "region"], [
        ["HQ", "总部", "hq", "", ""], ["SH", "上海分公司", "branch", "HQ", "华东"], ["XX", "坏行", "planet", "HQ", ""]])
    upload = FeedUpload.objects.create(kind="org", filename="org.csv", content=seal(content),  # stored sealed
                                       uploaded_by=UserFactory())
    Celery("test-client", broker=REDIS_URL).send_task(
        "reservations.tasks.load_feed_upload_task", args=[upload.pk], queue=QUEUE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        upload.refresh_from_db()
        if upload.status in ("done", "failed"):
            break
        assert worker.poll() is None, "the worker died"
        time.sleep(0.3)
    else:
        pytest.fail("the worker did not load the upload in time")
    assert upload.status == "done", upload.error
    feed = FeedFile.objects.get()
    assert upload.feed == feed and (feed.rows_loaded, feed.rows_failed) == (2, 1)
