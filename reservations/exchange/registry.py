"""`load_feed`: the file-level rules of every §12 feed, and the registry of the loaders.

Every line is validated; a bad line is reported with its number and reason and does not stop the good
ones; the whole file is one transaction; the same file (same content hash) loads once. Each loader lives
with the app whose tables it writes and is registered here by a plain import.

Before a loader sees a line, the line has been read and checked here, once for every kind: the file's
encoding decided and its lines split one by one, or its workbook read (`common.feedtext`: a quoting error is
the error of its own line and hides none after it), then every field of the kind's columns checked
(`common.feedlines.check_row`: control and invisible characters, spaces in codes, the models' lengths).
A line refused here is reported like one the loader refuses; the loader gets only the others. Columns the
kind does not know are dropped.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction
from django.utils.translation import gettext_noop

from common.actors import actor_label
from common.feedlines import FeedResult, FieldRules, Row, check_row, refused_character, safe_stored
from common.feedtext import gc_paused, read_feed
from common.wording import Message, from_stored, stored_line
from performance import feeds as performance_feeds
from relationships import calendar_feed
from relationships.feeds import account_events as event_feed
from relationships.feeds import organisation as org_feed
from reservations import feed as reservation_feed
from reservations.branch import feed as branch_feed
from reservations.exchange.columns import MEANINGS, SAMPLES
from reservations.models import FEED_KIND_LABELS, FeedFile
from reservations.reassign import feed as reassign_feed
from reservations.secondary import feed as secondary_feed


@dataclass(frozen=True)
class Feed:
    columns: list[str]            # required in the header
    loader: Callable               # loader(actor, rows, result)
    rules: FieldRules              # lengths and codes, checked before the loader
    optional: tuple[str, ...] = ()  # further columns the loader reads when present


LOADERS: dict[str, Feed] = {
    "org": Feed(org_feed.ORG_COLUMNS, org_feed.load_org, org_feed.ORG_RULES),
    "staff": Feed(org_feed.STAFF_COLUMNS, org_feed.load_staff, org_feed.STAFF_RULES,
                  optional=org_feed.STAFF_OPTIONAL_COLUMNS),  # R-STAFF-1
    "reservations": Feed(reservation_feed.COLUMNS, reservation_feed.load_reservations, reservation_feed.RULES),
    "account_events": Feed(event_feed.ACCOUNT_EVENT_COLUMNS, event_feed.load_account_events,
                           event_feed.ACCOUNT_EVENT_RULES),
    "metrics": Feed(performance_feeds.COLUMNS, performance_feeds.load_metrics,  # COPY + set-based upsert
                    performance_feeds.RULES),
    # Same rules as the forms: each line through the pre-assignment / branch-request / core-list services.
    "assignments": Feed(secondary_feed.ASSIGNMENT_COLUMNS, secondary_feed.load_assignments,  # R-SEC-4
                        secondary_feed.RULES),
    "relationships": Feed(branch_feed.RELATIONSHIP_COLUMNS, branch_feed.load_relationships,  # R-BR-1, R-CORE-2
                          branch_feed.RULES),
    "reassignments": Feed(reassign_feed.COLUMNS, reassign_feed.load_reassignments,  # R-STAFF-1
                          reassign_feed.RULES),
    "calendar": Feed(calendar_feed.COLUMNS, calendar_feed.load_calendar, calendar_feed.RULES,  # R-CAL-1
                     optional=calendar_feed.OPTIONAL_COLUMNS),
}
FEED_KINDS = tuple(LOADERS)
COLUMNS = {kind: feed.columns for kind, feed in LOADERS.items()}


def feed_formats() -> list[dict]:
    """The upload page's help: each kind with its columns (the loader's own list) and what each one means."""
    return [{"kind": kind, "label": FEED_KIND_LABELS[kind],
             "columns": [(c, MEANINGS[kind][c], c not in feed.optional) for c in (*feed.columns, *feed.optional)]}
            for kind, feed in LOADERS.items()]


def feed_sample(kind: str) -> tuple[list[str], list[list[str]]]:
    """(header, lines) of a sample file of the kind: a KeyError for an unknown kind."""
    feed = LOADERS[kind]
    return [*feed.columns, *feed.optional], SAMPLES[kind]


def load_feed(*, actor, kind: str, path: str | Path | None = None, content: bytes | None = None,
              filename: str | None = None, on_progress: Callable[[int, int], None] | None = None,
              encoding: str | None = None) -> FeedResult:
    """`encoding` (utf-8 or gb18030) overrides the guess for a CSV without a byte-order mark (`common.feedtext`).
    A file that cannot be read as a whole raises ValueError (`manage.py load_feed` exits 2), its argument a
    `common.wording.Message` (the upload keeps it, to show in its reader's language)."""
    if kind not in LOADERS:
        raise ValueError(Message(gettext_noop("Unknown or not yet supported feed “%(kind)s”; supported: %(kinds)s."),
                                 {"kind": kind, "kinds": ", ".join(LOADERS)}))
    spec = LOADERS[kind]
    if content is None:
        if path is None:
            raise ValueError(Message(gettext_noop("Give the file to load.")))
        content = Path(path).read_bytes()
    filename = filename or (Path(path).name if path else "upload.csv")
    digest = hashlib.sha256(content).hexdigest()
    result = FeedResult(kind=kind, filename=filename, on_progress=on_progress)
    if FeedFile.objects.filter(kind=kind, sha256=digest).exists():
        result.already_loaded = True
        return result
    with gc_paused():  # millions of small objects, no cycles (common.feedtext)
        table = read_feed(content, filename=filename, encoding=encoding)
        missing = [c for c in spec.columns if c not in table.header]
        if missing:
            raise ValueError(Message(gettext_noop("%(file)s: missing columns %(cols)s."),
                                     {"file": filename, "cols": ", ".join(missing)}))
        position: dict[str, int] = {}
        for i, name in enumerate(table.header):
            position.setdefault(name, i)
        known = [(c, position[c]) for c in (*spec.columns, *spec.optional) if c in position]
        rows: list[tuple[int, Row]] = []
        refused = list(table.errors)
        result.refused_before.update(table.raw)
        for line, fields in table.lines:
            row = {c: (fields[i].strip() if i < len(fields) else "") for c, i in known}
            reason = check_row(row, spec.rules)
            if reason is None:
                rows.append((line, row))
            else:
                refused.append((line, reason))
                result.refused_before[line] = ",".join(fields)
        del table
    result.rows_total = len(rows) + len(refused)
    result.progress(0)
    with transaction.atomic():
        feed = FeedFile.objects.create(kind=kind, sha256=digest, filename=filename, loaded_by=actor_label(actor))
        spec.loader(actor, rows, result)
        # Each reason as its message and parameters, rendered in the reader's language (common.wording); no text
        # in it may hold a character the JSON column refuses (a NUL in a quoted value).
        result.errors = sorted(refused + result.errors, key=lambda e: (e[0], str(e[1])))
        feed.errors = [safe_stored(stored_line(n, r)) for n, r in result.errors]
        result.errors = [(n, r if refused_character(r) is None else from_stored(e))
                         for (n, r), e in zip(result.errors, feed.errors, strict=True)]
        feed.rows_total, feed.rows_loaded = result.rows_total, result.rows_loaded
        feed.rows_skipped, feed.rows_failed = result.rows_skipped, result.rows_failed
        feed.save()
    return result
