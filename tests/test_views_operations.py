"""HQ operations in the browser: feed upload with a line-error file, and starting the nightly run."""
from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from reservations.models import BatchRun, FeedFile
from tests.factories import BranchFactory, HQFactory, RoleFactory, StaffFactory
from tests.helpers import csv_bytes

pytestmark = pytest.mark.django_db

ORG = csv_bytes(["code", "name", "kind", "parent_code", "region"], [
    ["HQ", "总部", "hq", "", ""], ["SH", "上海分公司", "branch", "HQ", "华东"], ["XX", "坏行", "planet", "HQ", ""]])


@pytest.fixture
def hq_client(client):
    user = RoleFactory(kind="hq", organisation=HQFactory()).user
    client.force_login(user)
    return client


def test_hq_uploads_a_feed_and_downloads_its_refused_lines(hq_client):
    """§12: good lines kept, bad lines reported with their number and reason, downloadable."""
    response = hq_client.post("/reservations/feeds/", {"kind": "org", "file": SimpleUploadedFile("org.csv", ORG)})
    feed = FeedFile.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/reservations/feeds/{feed.pk}/"
    page = hq_client.get(response["Location"]).content.decode()
    assert "org.csv" in page and "planet" in page
    errors = hq_client.get(f"/reservations/feeds/{feed.pk}/errors.csv")
    body = errors.content.decode("utf-8-sig").splitlines()
    assert body[0] == "line,reason" and body[1].startswith("4,")


def test_same_upload_twice_is_reported_as_already_loaded(hq_client):
    for _ in range(2):
        response = hq_client.post("/reservations/feeds/", {"kind": "org", "file": SimpleUploadedFile("o.csv", ORG)},
                                  follow=True)
    assert FeedFile.objects.count() == 1
    assert len(list(response.context["messages"])) == 1


def test_missing_columns_are_shown_on_the_file_field(hq_client):
    response = hq_client.post("/reservations/feeds/", {
        "kind": "org", "file": SimpleUploadedFile("bad.csv", csv_bytes(["code"], [["HQ"]]))})
    assert response.status_code == 200 and "parent_code" in response.content.decode()
    assert not FeedFile.objects.exists()


def test_hq_starts_the_nightly_run_and_the_ledger_shows_it(hq_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = hq_client.post("/reservations/runs/start/", {"business_date": "2026-03-03"})
    assert response.status_code == 302
    assert set(BatchRun.objects.values_list("stage", "status")) >= {("match", "succeeded"), ("expire", "succeeded")}


@pytest.mark.parametrize("url", ["/reservations/feeds/", "/reservations/feeds/1/", "/reservations/feeds/1/errors.csv"])
def test_branch_and_staff_users_cannot_operate_feeds(client, url):
    """R-PERM-4: operations are head-office work."""
    for user in (RoleFactory(kind="branch", organisation=BranchFactory()).user, StaffFactory().user):
        client.force_login(user)
        assert client.get(url).status_code == 403
    assert client.post("/reservations/runs/start/", {"business_date": "2026-03-03"}).status_code == 403
