"""Feed files uploaded in the browser: stored, then loaded in the background by a Celery task.

The load itself is `reservations.exchange.loading.feed_upload_process` — `load_feed`, the same rules as
`manage.py load_feed` — queued here once the stored file has committed. The file holds full ID numbers: it is
stored sealed with the current PII key (`relationships.pii.seal`), never in clear, and blanked once loaded.
"""
from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from relationships.pii import seal
from reservations.exchange.registry import COLUMNS
from reservations.models import FeedUpload
from reservations.tasks import load_feed_upload_task

MAX_UPLOAD_BYTES = 50 * 1024 * 1024


def feed_upload_submit(*, actor, kind: str, filename: str, content: bytes) -> FeedUpload:
    """Store the file and queue its load after commit; the caller shows the upload's page."""
    if kind not in COLUMNS:
        raise ValueError(_("Unknown or not yet supported feed “%(kind)s”; supported: %(kinds)s.")
                         % {"kind": kind, "kinds": ", ".join(COLUMNS)})
    if len(content) > MAX_UPLOAD_BYTES:
        raise ValueError(_("The file is larger than 50 MB; load it with manage.py load_feed."))
    with transaction.atomic():
        upload = FeedUpload.objects.create(kind=kind, filename=filename[:300], content=seal(content),
                                           uploaded_by=actor)
        transaction.on_commit(lambda: load_feed_upload_task.delay(upload.pk))
    return upload
