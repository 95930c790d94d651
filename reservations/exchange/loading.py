"""Loading a feed file uploaded in the browser, in the Celery task `reservations.tasks.load_feed_upload_task`.

The load is `load_feed` — the same rules as `manage.py load_feed` — and stays one transaction, so its line
counts are not visible to other connections until it commits. Progress therefore goes through the cache
(Redis when configured, shared by web and worker; in-process otherwise, where tasks run in-process too),
while the upload row records the committed facts: queued, loading, done or failed.

The stored file is sealed (`reservations.exchange.uploads`); it is unsealed here, in memory only, and blanked
in the same statement that records the end of the load, done or failed.
"""
from __future__ import annotations

import hashlib
import logging
import time
from typing import Any

from cryptography.exceptions import InvalidTag
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from common.wording import Message, message_of, to_json
from relationships.pii import unseal
from reservations.exchange.registry import load_feed
from reservations.models import FeedFile, FeedUpload, UploadStatus

log = logging.getLogger(__name__)
UNSEALABLE = (InvalidTag, ValueError, ImproperlyConfigured)  # damaged, not sealed, or its key version is gone
PROGRESS_TTL = 24 * 3600
PROGRESS_MIN_INTERVAL = 0.5  # seconds between two cache writes


def progress_key(upload_id: int) -> str:
    return f"feed-upload:{upload_id}:progress"


def upload_progress(upload_id: int) -> dict | None:
    """{"done": lines, "total": lines} while a load runs, or None before its first report."""
    return cache.get(progress_key(upload_id))


def _failure(message: str) -> dict[str, Any]:
    """Why an upload failed: its message (shown in the reader's language) and its text as worded now."""
    return {"error": str(message) or "?", "error_message": to_json(message)}


def feed_upload_process(*, upload_id: int) -> FeedUpload:
    """Load a queued upload. A task delivered twice, or again after its worker died mid-load (which rolled
    the load back), loads at most once: the feed's content hash is unique."""
    with transaction.atomic():
        upload = FeedUpload.objects.select_for_update().get(pk=upload_id)
        if upload.status in (UploadStatus.DONE, UploadStatus.FAILED):
            return upload
        upload.status, upload.started_at = UploadStatus.RUNNING, timezone.now()
        upload.save(update_fields=["status", "started_at"])
    try:
        content = unseal(bytes(upload.content))
    except UNSEALABLE:
        log.exception("feed upload %s cannot be unsealed", upload_id)
        message = Message(gettext_noop("The stored file cannot be decrypted with the configured PII keys; upload it "
                                       "again."))
        with transaction.atomic():
            FeedUpload.objects.filter(pk=upload_id).update(
                content=b"", status=UploadStatus.FAILED, finished_at=timezone.now(), **_failure(message))
        upload.refresh_from_db()
        return upload
    last = [0.0]

    def report(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_MIN_INTERVAL or done == 0:
            last[0] = now
            cache.set(progress_key(upload_id), {"done": done, "total": total}, PROGRESS_TTL)

    digest = hashlib.sha256(content).hexdigest()
    fields: dict[str, Any] = {"content": b"", "finished_at": None}
    try:
        result = load_feed(actor=upload.uploaded_by, kind=upload.kind, content=content, filename=upload.filename,
                           on_progress=report)
    except ValueError as exc:  # the file as a whole is unusable: not UTF-8, missing columns
        fields.update(status=UploadStatus.FAILED, **_failure(message_of(exc)))
    except IntegrityError as exc:
        earlier = FeedFile.objects.filter(kind=upload.kind, sha256=digest).first()
        if earlier is not None:  # the same file committed meanwhile by another delivery or upload
            fields.update(status=UploadStatus.DONE, already_loaded=True, feed=earlier)
        else:
            log.exception("feed upload %s failed", upload_id)
            fields.update(status=UploadStatus.FAILED, **_failure(Message(gettext_noop(
                "Loading stopped on an unexpected error: %(error)s"), {"error": str(exc).splitlines()[0]})))
    except Exception as exc:  # noqa: BLE001 - the page must say it failed; the log keeps the trace
        log.exception("feed upload %s failed", upload_id)
        fields.update(status=UploadStatus.FAILED, **_failure(Message(gettext_noop(
            "Loading stopped on an unexpected error: %(error)s"),
            {"error": str(exc).splitlines()[0] if str(exc) else type(exc).__name__})))
    else:
        fields.update(status=UploadStatus.DONE, already_loaded=result.already_loaded,
                      feed=FeedFile.objects.filter(kind=upload.kind, sha256=digest).first())
    fields["finished_at"] = timezone.now()
    with transaction.atomic():
        FeedUpload.objects.filter(pk=upload_id).update(**fields)
    cache.delete(progress_key(upload_id))
    upload.refresh_from_db()
    return upload
