"""HQ operations in the browser: feed upload with a line-error file, and starting the nightly run."""
from __future__ import annotations

import contextlib

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile

import common.feedlines
from reservations.exchange.registry import COLUMNS, load_feed
from reservations.models import BatchRun, FeedFile, FeedUpload
from tests.support.factories import BranchFactory, HQFactory, OutletFactory, RoleFactory, StaffFactory, make_id_number
from tests.support.helpers import csv_bytes

pytestmark = pytest.mark.django_db

ORG = csv_bytes(["code", "name", "kind", "parent_code", "region"], [
    ["HQ", "总部", "hq", "", ""], ["SH", "上海分公司", "branch", "HQ", "华东"], ["XX", "坏行", "planet", "HQ", ""]])


@contextlib.contextmanager
def mock_progress_every(n: int):
    saved, common.feedlines.PROGRESS_EVERY = common.feedlines.PROGRESS_EVERY, n
    try:
        yield
    finally:
        common.feedlines.PROGRESS_EVERY = saved


@pytest.fixture
def hq_client(client):
    user = RoleFactory(kind="hq", organisation=HQFactory()).user
    client.force_login(user)
    return client


def _upload(hq_client, name: str, content: bytes, capture, kind: str = "org"):
    with capture(execute=True):  # the load is queued after commit; without a broker it runs in-process
        return hq_client.post("/reservations/feeds/", {"kind": kind, "file": SimpleUploadedFile(name, content)})


def test_hq_uploads_a_feed_and_downloads_its_refused_lines(hq_client, django_capture_on_commit_callbacks):
    """§12: good lines kept, bad lines reported with their number and reason, downloadable."""
    response = _upload(hq_client, "org.csv", ORG, django_capture_on_commit_callbacks)
    upload = FeedUpload.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/reservations/feeds/uploads/{upload.pk}/"
    feed = FeedFile.objects.get()
    assert upload.status == "done" and upload.feed == feed and bytes(upload.content) == b""
    page = hq_client.get(response["Location"]).content.decode()
    assert "org.csv" in page and "planet" in page and f"/reservations/feeds/{feed.pk}/errors.csv" in page
    assert "hx-trigger" not in page  # finished: nothing polls any more
    page = hq_client.get(f"/reservations/feeds/{feed.pk}/").content.decode()
    assert "org.csv" in page and "planet" in page
    errors = hq_client.get(f"/reservations/feeds/{feed.pk}/errors.csv")
    body = errors.content.decode("utf-8-sig").splitlines()
    assert body[0] == "line,reason" and body[1].startswith("4,")


def test_same_upload_twice_is_reported_as_already_loaded(hq_client, django_capture_on_commit_callbacks):
    for _ in range(2):
        _upload(hq_client, "o.csv", ORG, django_capture_on_commit_callbacks)
    first, second = FeedUpload.objects.order_by("id")
    assert FeedFile.objects.count() == 1
    assert second.status == "done" and second.already_loaded and second.feed == first.feed
    page = hq_client.get(f"/reservations/feeds/uploads/{second.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "already loaded" in page and f"/reservations/feeds/{first.feed_id}/" in page


def test_missing_columns_fail_the_upload_and_say_which(hq_client, django_capture_on_commit_callbacks):
    response = _upload(hq_client, "bad.csv", csv_bytes(["code"], [["HQ"]]), django_capture_on_commit_callbacks)
    upload = FeedUpload.objects.get()
    assert upload.status == "failed" and "parent_code" in upload.error
    page = hq_client.get(response["Location"]).content.decode()
    assert "parent_code" in page and 'role="alert"' in page
    assert not FeedFile.objects.exists()


def test_upload_page_polls_its_progress_until_the_load_has_finished(hq_client, django_capture_on_commit_callbacks):
    """Issue 7: a long upload shows its progress (htmx polls; without JavaScript the page refreshes itself)."""
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = hq_client.post("/reservations/feeds/", {"kind": "org", "file": SimpleUploadedFile("o.csv", ORG)})
    upload = FeedUpload.objects.get()
    assert upload.status == "queued" and len(queued) == 1 and not FeedFile.objects.exists()
    page = hq_client.get(response["Location"]).content.decode()
    progress_url = f"/reservations/feeds/uploads/{upload.pk}/progress/"
    assert f'hx-get="{progress_url}"' in page and 'hx-trigger="every 1s"' in page
    assert '<meta http-equiv="refresh"' in page  # inside <noscript>

    FeedUpload.objects.filter(pk=upload.pk).update(status="running")
    cache.set(f"feed-upload:{upload.pk}:progress", {"done": 300, "total": 1200})
    fragment = hq_client.get(progress_url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "300 of 1200 lines" in fragment and 'value="25"' in fragment and "hx-trigger" in fragment

    queued[0]()  # the worker picks the task up
    fragment = hq_client.get(progress_url).content.decode()
    assert "hx-trigger" not in fragment and "planet" in fragment
    assert cache.get(f"feed-upload:{upload.pk}:progress") is None


def test_a_line_by_line_feed_reports_its_progress():
    """The reservations feed goes through the registration service line by line, so it reports as it goes."""
    outlet = OutletFactory()
    staff = StaffFactory(outlet=outlet)
    rows = [[staff.staff_no, "NEW_DEV", f"客户{i}", make_id_number(seq=700 + i), "13800000000",
             "2026-03-03T09:00:00+08:00", ""] for i in range(5)]
    seen = []
    with mock_progress_every(2):
        load_feed(actor="test", kind="reservations", content=csv_bytes(COLUMNS["reservations"], rows),
                  filename="r.csv", on_progress=lambda done, total: seen.append((done, total)))
    assert seen == [(0, 5), (0, 5), (2, 5), (4, 5)]


def test_hq_starts_the_nightly_run_and_the_ledger_shows_it(hq_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = hq_client.post("/reservations/runs/start/", {"business_date": "2026-03-03"})
    assert response.status_code == 302
    assert set(BatchRun.objects.values_list("stage", "status")) >= {("match", "succeeded"), ("expire", "succeeded")}


@pytest.mark.parametrize("url", ["/reservations/feeds/", "/reservations/feeds/1/", "/reservations/feeds/1/errors.csv",
                                 "/reservations/feeds/uploads/1/", "/reservations/feeds/uploads/1/progress/"])
def test_branch_and_staff_users_cannot_operate_feeds(client, url):
    """R-PERM-4: operations are head-office work."""
    for user in (RoleFactory(kind="branch", organisation=BranchFactory()).user, StaffFactory().user):
        client.force_login(user)
        assert client.get(url).status_code == 403
    assert client.post("/reservations/runs/start/", {"business_date": "2026-03-03"}).status_code == 403
