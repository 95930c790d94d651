"""R-PII-1, §12 — feed files uploaded in the browser wait sealed with the current PII key (AES-GCM) and are
blanked once loaded (issue "The night never jams and no line loses another", item 7); workbooks upload too."""
from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from relationships import pii_rotation
from relationships.pii import keyring, seal, unseal
from reservations.exchange.loading import feed_upload_process
from reservations.exchange.registry import COLUMNS
from reservations.models import FeedUpload
from tests.integration.reservations.test_feed_lines import feed_bytes, workbook
from tests.support.approvals import make_branch
from tests.support.factories import HQFactory, RoleFactory, make_id_number
from tests.support.helpers import EVENT_HEADER, at, event_row

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return make_branch()



@pytest.fixture
def hq_client(client):
    client.force_login(RoleFactory(kind="hq", organisation=HQFactory()).user)
    return client


def test_an_upload_waits_sealed_with_the_current_pii_key_and_is_blanked_once_loaded(world, hq_client,
                                                                                  django_capture_on_commit_callbacks):
    """R-PII-1: `reservations_feedupload.content` holds full ID numbers: sealed (AES-GCM, current key version)
    while queued, blanked when the load ends."""
    idn = make_id_number()
    content = feed_bytes(EVENT_HEADER, [event_row(when=at("2026-03-03 10:00"), id_number=idn, name="郑九",
                                                  outlet=world.outlet)])
    with django_capture_on_commit_callbacks(execute=False) as queued:
        hq_client.post("/reservations/feeds/", {"kind": "account_events", "file": SimpleUploadedFile("e.csv", content)})
    stored = bytes(FeedUpload.objects.get().content)
    assert idn.encode() not in stored and "郑九".encode() not in stored
    assert stored.startswith(f"v{keyring().current}:".encode()) and unseal(stored) == content
    queued[0]()
    upload = FeedUpload.objects.get()
    assert upload.status == "done" and bytes(upload.content) == b"" and upload.feed.rows_loaded == 1


def test_an_upload_sealed_before_a_key_rotation_still_loads_and_the_rotation_reseals_it(world, settings):
    """R-PII-1: an upload waiting under version 1 loads after version 2 is added; `rotate_pii_key` re-seals it
    (and `--check` counts it until then), so version 1 can be removed only when no upload needs it."""
    content = feed_bytes(COLUMNS["org"], [["HQ", "总部", "hq", "", ""]])
    waiting, queued = (FeedUpload.objects.create(kind="org", filename=f"{n}.csv", content=seal(content),
                                                 uploaded_by=world.head) for n in ("a", "b"))
    settings.PII_KEYS = "2:rotation-test-secret-version-2-0123456789"
    assert bytes(waiting.content).startswith(b"v1:")
    assert pii_rotation.behind_by_table()["reservations.feedupload.content"] == 2
    assert feed_upload_process(upload_id=waiting.pk).status == "done"
    pii_rotation.rotate_pii()
    queued.refresh_from_db()
    assert bytes(queued.content).startswith(b"v2:") and unseal(bytes(queued.content)) == content
    assert "reservations.feedupload.content" not in pii_rotation.behind_by_table()  # listed only while behind


def test_an_upload_that_cannot_be_unsealed_fails_with_a_reason_and_is_blanked(world):
    upload = FeedUpload.objects.create(kind="org", filename="o.csv", content=b"code,name\n", uploaded_by=world.head)
    upload = feed_upload_process(upload_id=upload.pk)
    assert upload.status == "failed" and upload.error and bytes(upload.content) == b""


def test_an_xlsx_workbook_uploaded_in_the_browser_is_loaded(hq_client, django_capture_on_commit_callbacks):
    content = workbook([COLUMNS["org"], ["HQ", "总部", "hq", None, None], ["XX", "坏行", "planet", "HQ", None]])
    with django_capture_on_commit_callbacks(execute=True):
        hq_client.post("/reservations/feeds/", {"kind": "org", "file": SimpleUploadedFile("org.xlsx", content)})
    feed = FeedUpload.objects.get().feed
    assert (feed.rows_loaded, [e["line"] for e in feed.errors]) == (1, [3])
