"""What every §12 feed loader shares: line errors, the result it fills, time parsing, the per-line loop.

A loader is given `rows` as (physical line number, {column: stripped text}) and a `FeedResult` to fill;
a bad line is reported with its number and reason and never stops the good ones.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

PROGRESS_EVERY = 100  # lines between two progress reports of a line-by-line loader

Row = dict[str, str]


class LineError(Exception):
    """This line is refused, for the reason given; the file goes on."""


@dataclass
class FeedResult:
    kind: str
    filename: str
    already_loaded: bool = False
    rows_total: int = 0
    rows_loaded: int = 0
    rows_skipped: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    on_progress: Callable[[int, int], None] | None = field(default=None, repr=False)

    def progress(self, done: int) -> None:
        """Loaders that go line by line report here; bulk loaders need not (the page shows "loading")."""
        if self.on_progress is not None:
            self.on_progress(done, self.rows_total)

    @property
    def rows_failed(self) -> int:
        return len(self.errors)

    def summary(self) -> str:
        if self.already_loaded:
            return _("%(file)s: already loaded, nothing done.") % {"file": self.filename}
        return _("%(file)s: %(total)d lines, %(loaded)d loaded, %(skipped)d skipped, %(failed)d refused.") % {
            "file": self.filename, "total": self.rows_total, "loaded": self.rows_loaded,
            "skipped": self.rows_skipped, "failed": self.rows_failed}


def parse_time(value: str, column: str) -> dt.datetime:
    """§12: an ISO 8601 time with its UTC offset."""
    parsed = parse_datetime(value) if value else None
    if parsed is None:
        raise LineError(_("%(col)s “%(value)s” is not an ISO 8601 time.") % {"col": column, "value": value})
    if parsed.tzinfo is None:
        raise LineError(_("%(col)s “%(value)s” has no UTC offset.") % {"col": column, "value": value})
    return parsed


def validation_messages(exc: ValidationError) -> str:
    """Every message of a service's refusal, field by field, as one line of text."""
    if hasattr(exc, "message_dict"):
        return "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
    return " ".join(exc.messages)


REFUSALS = (LineError, ValidationError, PermissionDenied, IntegrityError)


def refusal_text(exc: Exception) -> str:
    """The reason a line is refused: a service's messages, or the first line of a constraint's."""
    if isinstance(exc, ValidationError):
        return validation_messages(exc)
    if isinstance(exc, IntegrityError):  # a constraint the service did not foresee: the line, not the file
        return str(exc).splitlines()[0]
    return str(exc)


def for_each_line(rows: Iterable[tuple[int, Row]], result: FeedResult, handle: Callable[[int, Row], None]) -> None:
    """Feed each line to `handle` in its own savepoint: a refused line leaves nothing behind and is reported
    with its number; `handle` counts what it loaded. Progress is reported every `PROGRESS_EVERY` lines."""
    for n, (line, row) in enumerate(rows):
        if n % PROGRESS_EVERY == 0:
            result.progress(n)
        try:
            with transaction.atomic():
                handle(line, row)
        except REFUSALS as exc:
            result.errors.append((line, refusal_text(exc)))
