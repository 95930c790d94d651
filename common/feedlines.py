"""What every §12 feed loader shares: line errors, the result it fills, time parsing, the per-line loop.

A loader is given `rows` as (physical line number, {column: stripped text}) and a `FeedResult` to fill;
a bad line is reported with its number and reason and never stops the good ones.

The checks every line needs are made once, before any loader sees the line (`check_row`, called by
`reservations.exchange.registry.load_feed`): no field may hold a control or invisible formatting character
(NUL, line breaks, bidi overrides and marks, zero-width characters, private-use characters, U+FFFD) —
the column is named, never the value; a code (staff number, organisation code, event id, account number…)
holds no space either; no field is longer than the model field it is stored in (`FieldRules.lengths`,
derived from the models' `max_length`). Times and dates are parsed here with a line error for every
impossible value (2026-02-30, 25:00, +25:00) and refused outside the horizon
`EARLIEST_YEAR`–`LATEST_YEAR`; a UTC offset beyond ±14:00 (the widest any place uses) is refused too.
"""
from __future__ import annotations

import datetime as dt
import re
import sys
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from common.wording import Joined, Message, from_validation_error, message_of

PROGRESS_EVERY = 100  # lines between two progress reports of a line-by-line loader

# The sane horizon of a business date or time in a feed (event times, registration and assignment times,
# effective dates, metric dates, calendar days): a brokerage founded before 1990 has no electronic records of
# it, and a date after 2100 is a typing error or a placeholder such as 9999-12-31.
EARLIEST_YEAR, LATEST_YEAR = 1990, 2100
MAX_UTC_OFFSET = dt.timedelta(hours=14)

Row = dict[str, str]


class LineError(Exception):
    """This line is refused, for the reason given; the file goes on.

    The reason is a message (`common.wording`): a msgid marked with `gettext_noop` and its parameters, or a
    `Message` made already — stored as such and shown in the reader's language."""

    def __init__(self, reason: str, params: Mapping[str, object] | None = None) -> None:
        self.message: str = reason if isinstance(reason, (Message, Joined)) else Message(reason, params)
        super().__init__(self.message)


@dataclass
class FeedResult:
    kind: str
    filename: str
    already_loaded: bool = False
    rows_total: int = 0
    rows_loaded: int = 0
    rows_skipped: int = 0
    # (line, reason): each reason a `common.wording.Message` (a str: its text in the language it was made in).
    errors: list[tuple[int, str]] = field(default_factory=list)
    on_progress: Callable[[int, int], None] | None = field(default=None, repr=False)
    # Lines refused before the loader saw them (malformed quoting, a refused character, too long): their text,
    # for a loader whose outcome depends on every line of a group (the calendar's years).
    refused_before: dict[int, str] = field(default_factory=dict, repr=False)

    def progress(self, done: int) -> None:
        """Loaders that go line by line report here; bulk loaders need not (the page shows "loading")."""
        if self.on_progress is not None:
            self.on_progress(done, self.rows_total)

    @property
    def rows_failed(self) -> int:
        return len(self.errors)

    def summary(self) -> str:
        """For the command's output, in the language active now; the pages render theirs from the counts."""
        if self.already_loaded:
            return _("%(file)s: already loaded, nothing done.") % {"file": self.filename}
        return _("%(file)s: %(total)d lines, %(loaded)d loaded, %(skipped)d skipped, %(failed)d refused.") % {
            "file": self.filename, "total": self.rows_total, "loaded": self.rows_loaded,
            "skipped": self.rows_skipped, "failed": self.rows_failed}


def parse_time(value: str, column: str) -> dt.datetime:
    """§12: an ISO 8601 time with its UTC offset, a real one, within the horizon."""
    try:
        parsed = parse_datetime(value) if value else None
    except (ValueError, OverflowError):  # 2026-02-30, 25:00, +25:00: well formed, impossible
        raise LineError(gettext_noop("%(col)s “%(value)s” is not a real time (day, hour, minute or UTC offset out of "
                                     "range)."), {"col": column, "value": value}) from None
    if parsed is None:
        raise LineError(gettext_noop("%(col)s “%(value)s” is not an ISO 8601 time."), {"col": column, "value": value})
    offset = parsed.utcoffset()
    if offset is None:
        raise LineError(gettext_noop("%(col)s “%(value)s” has no UTC offset."), {"col": column, "value": value})
    if abs(offset) > MAX_UTC_OFFSET:
        raise LineError(gettext_noop("%(col)s “%(value)s” has a UTC offset beyond ±14:00."),
                        {"col": column, "value": value})
    check_horizon(parsed.date(), column)
    return parsed


_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_day(value: str, column: str) -> dt.date:
    """§12: a real `YYYY-MM-DD` day within the horizon."""
    try:
        day = dt.date.fromisoformat(value) if _DAY.match(value) else None
    except ValueError:
        day = None
    if day is None:
        raise LineError(gettext_noop("%(col)s “%(value)s” is not a YYYY-MM-DD date."), {"col": column, "value": value})
    check_horizon(day, column)
    return day


def check_horizon(day: dt.date, column: str) -> None:
    if not EARLIEST_YEAR <= day.year <= LATEST_YEAR:
        raise LineError(gettext_noop("%(col)s %(value)s is outside the years %(first)d–%(last)d."), {
            "col": column, "value": day.isoformat(), "first": EARLIEST_YEAR, "last": LATEST_YEAR})


# --- the checks of every field ---------------------------------------------------------------------------

def _refused_ranges() -> list[tuple[int, int]]:
    """Control (Cc), format (Cf: bidi marks and overrides, zero-width), line and paragraph separators,
    private-use and surrogate code points, the non-characters U+FFFE/U+FFFF and the replacement character."""
    ranges: list[tuple[int, int]] = []
    for plane in (range(0x0, 0x20000), range(0xE0000, 0xE1000)):  # where Cc/Cf/Zl/Zp live
        for cp in plane:
            if unicodedata.category(chr(cp)) in ("Cc", "Cf", "Zl", "Zp", "Co", "Cs") or cp in (0xFFFD, 0xFFFE,
                                                                                             0xFFFF):
                if ranges and ranges[-1][1] == cp - 1:
                    ranges[-1] = (ranges[-1][0], cp)
                else:
                    ranges.append((cp, cp))
    return ranges + [(0xF0000, 0xFFFFD), (0x100000, min(0x10FFFD, sys.maxunicode))]  # private use, planes 15–16


def _char_class(ranges: list[tuple[int, int]]) -> str:
    return "[" + "".join(f"\\U{a:08x}" if a == b else f"\\U{a:08x}-\\U{b:08x}" for a, b in ranges) + "]"


_RANGES = _refused_ranges()
# One search per line must be cheap: the BMP ranges with every astral character as a candidate compile to a
# bitmap (a few ns a character); an astral candidate (rare: Han extension B in a name) is then checked exactly.
_CANDIDATE = re.compile(_char_class([r for r in _RANGES if r[1] <= 0xFFFF] + [(0x10000, sys.maxunicode)]))
_ASTRAL_REFUSED = re.compile(_char_class([r for r in _RANGES if r[1] > 0xFFFF]))


def refused_character(text: str) -> str | None:
    """The first character of `text` that no feed field may hold, or None."""
    for match in _CANDIDATE.finditer(text):
        char = match.group()
        if char <= "\uffff" or _ASTRAL_REFUSED.match(char):
            return char
    return None


_SPACE = re.compile(r"\s")


@dataclass(frozen=True)
class FieldRules:
    """What a feed's columns may hold beyond the checks of every field: the longest value each column may have
    (derived from the model field it is stored in) and the columns that are codes (no space inside)."""

    lengths: Mapping[str, int] = field(default_factory=dict)
    codes: frozenset[str] = frozenset()


def max_length(model, *names: str) -> int:
    """The longest value the model's fields `names` all accept (their `max_length`, the smallest of them)."""
    return min(model._meta.get_field(n).max_length for n in names)


def check_row(row: Mapping[str, str], rules: FieldRules) -> str | None:
    """The reason this line is refused by the checks of every field, or None. (The whole line is searched once
    for a refused character; the column is looked for only when there is one.)"""
    if refused_character("".join(row.values())):
        for column, value in row.items():
            bad = refused_character(value)
            if bad:
                return Message(gettext_noop("%(col)s holds a control or invisible formatting character "
                                            "(U+%(code)04X), which is refused."), {"col": column, "code": ord(bad)})
    for column, limit in rules.lengths.items():
        length = len(row.get(column, ""))
        if length > limit:
            return Message(gettext_noop("%(col)s is %(length)d characters long; at most %(max)d are allowed."), {
                "col": column, "length": length, "max": limit})
    if _SPACE.search("".join([row.get(c, "") for c in rules.codes])):
        for column, code in row.items():  # in the file's column order
            if column in rules.codes and _SPACE.search(code):
                return Message(gettext_noop("%(col)s “%(value)s” holds a space, which a code cannot."),
                               {"col": column, "value": code})
    return None


def safe_text(text: str) -> str:
    """A text as stored and shown: no character the database's JSON or the page cannot hold."""
    if refused_character(text) is None:
        return text
    return "".join("\ufffd" if refused_character(c) else c for c in text)


def safe_stored(value):
    """A stored reason (`common.wording.stored_line`) with `safe_text` applied to every text in it."""
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, dict):
        return {k: safe_stored(v) for k, v in value.items()}
    if isinstance(value, list):
        return [safe_stored(v) for v in value]
    return value


def validation_messages(exc: ValidationError) -> str:
    """Every message of a service's refusal, field by field, as one message (`common.wording`)."""
    return from_validation_error(exc)


REFUSALS = (LineError, ValidationError, PermissionDenied, IntegrityError)


def refusal_text(exc: Exception) -> str:
    """The reason a line is refused, as a message: a line error's, a service's messages, or the first line of a
    constraint's (the database's words: a literal text)."""
    if isinstance(exc, LineError):
        return exc.message
    if isinstance(exc, ValidationError):
        return validation_messages(exc)
    if isinstance(exc, IntegrityError):  # a constraint the service did not foresee: the line, not the file
        return str(exc).splitlines()[0]
    return message_of(exc)


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
