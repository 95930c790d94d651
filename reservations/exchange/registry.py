"""`load_feed`: the file-level rules of every §12 feed, and the registry of the loaders.

Every line is validated; a bad line is reported with its number and reason and does not stop the good
ones; the whole file is one transaction; the same file (same content hash) loads once. Each loader lives
with the app whose tables it writes and is registered here by a plain import.
"""
from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable
from pathlib import Path

from django.db import transaction
from django.utils.translation import gettext as _

from common.actors import actor_label
from common.feedlines import FeedResult
from performance import feeds as performance_feeds
from relationships import calendar_feed
from relationships import feeds as relationship_feeds
from reservations import feed as reservation_feed
from reservations.branch import feed as branch_feed
from reservations.models import FeedFile
from reservations.secondary import feed as secondary_feed

# kind → (required columns, loader(actor, rows, result))
LOADERS: dict[str, tuple[list[str], Callable]] = {
    "org": (relationship_feeds.ORG_COLUMNS, relationship_feeds.load_org),
    "staff": (relationship_feeds.STAFF_COLUMNS, relationship_feeds.load_staff),
    "reservations": (reservation_feed.COLUMNS, reservation_feed.load_reservations),
    "account_events": (relationship_feeds.ACCOUNT_EVENT_COLUMNS, relationship_feeds.load_account_events),
    "metrics": (performance_feeds.COLUMNS, performance_feeds.load_metrics),  # COPY + set-based upsert
    # Same rules as the forms: each line through the pre-assignment / branch-request / core-list services.
    "assignments": (secondary_feed.ASSIGNMENT_COLUMNS, secondary_feed.load_assignments),         # R-SEC-4
    "relationships": (branch_feed.RELATIONSHIP_COLUMNS, branch_feed.load_relationships),  # R-BR-1, R-CORE-2
    "calendar": (calendar_feed.COLUMNS, calendar_feed.load_calendar),                     # R-CAL-1
}
FEED_KINDS = tuple(LOADERS)
COLUMNS = {kind: columns for kind, (columns, _loader) in LOADERS.items()}


def load_feed(*, actor, kind: str, path: str | Path | None = None, content: bytes | None = None,
              filename: str | None = None, on_progress: Callable[[int, int], None] | None = None) -> FeedResult:
    if kind not in LOADERS:
        raise ValueError(_("Unknown or not yet supported feed “%(kind)s”; supported: %(kinds)s.")
                         % {"kind": kind, "kinds": ", ".join(LOADERS)})
    columns, loader = LOADERS[kind]
    if content is None:
        if path is None:
            raise ValueError(_("Give the file to load."))
        content = Path(path).read_bytes()
    filename = filename or (Path(path).name if path else "upload.csv")
    digest = hashlib.sha256(content).hexdigest()
    result = FeedResult(kind=kind, filename=filename, on_progress=on_progress)
    if FeedFile.objects.filter(kind=kind, sha256=digest).exists():
        result.already_loaded = True
        return result
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError(_("%(file)s is not UTF-8 text.") % {"file": filename}) from None
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in columns if c not in (reader.fieldnames or [])]
    if missing:
        raise ValueError(_("%(file)s: missing columns %(cols)s.") % {"file": filename, "cols": ", ".join(missing)})
    rows = [(reader.line_num, {k: (v or "").strip() for k, v in row.items() if k}) for row in reader]
    result.rows_total = len(rows)
    result.progress(0)
    with transaction.atomic():
        feed = FeedFile.objects.create(kind=kind, sha256=digest, filename=filename, loaded_by=actor_label(actor))
        loader(actor, rows, result)
        feed.rows_total, feed.rows_loaded = result.rows_total, result.rows_loaded
        feed.rows_skipped, feed.rows_failed = result.rows_skipped, result.rows_failed
        feed.errors = [{"line": n, "reason": r} for n, r in result.errors]
        feed.save()
    return result
