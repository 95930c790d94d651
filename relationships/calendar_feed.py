"""The `calendar` feed (§12, R-CAL-1): `date,kind` with kind `workday` or `holiday`.

The days that differ from Monday–Friday working, for a year the calendar library does not know yet
(an optional `note` column is kept with the day, e.g. 春节). Called by `reservations.exchange.registry.load_feed`,
which owns the file-level rules (content-hash dedupe, one transaction per file, the FeedFile record).

A line is refused, with its number, for a date that is not a real `YYYY-MM-DD` day of a year both the
calendar (2000–2999) and the feeds' horizon (`common.feedlines`, 1990–2100) accept, a kind other than
`workday`/`holiday`, a date an earlier line gave with the other kind, or a note longer than a day's note
holds. A line equal to what
is loaded already (or to an earlier line) is skipped; one that changes a loaded day replaces it.

Every year the file's lines touch becomes known (`CalendarYear`) — unless one of its lines was refused:
a half-loaded year must keep warning, so it stays unknown until a corrected file loads every line of it.
The good lines of that year are kept (HQ's entries win either way).
"""
from __future__ import annotations

import datetime as dt
import re

from django.utils.translation import gettext_noop

from common.actors import actor_label
from common.feedlines import EARLIEST_YEAR, LATEST_YEAR, FieldRules, max_length
from common.wording import Joined, Message
from relationships.audit import audit_many
from relationships.calendar_services import FIRST_YEAR, LAST_YEAR
from relationships.models import CalendarDay, CalendarYear

COLUMNS = ["date", "kind"]
OPTIONAL_COLUMNS = ("note",)
RULES = FieldRules(lengths={"note": max_length(CalendarDay, "note")}, codes=frozenset({"date", "kind"}))
FIRST, LAST = max(FIRST_YEAR, EARLIEST_YEAR), min(LAST_YEAR, LATEST_YEAR)
KINDS = {"workday": True, "holiday": False}
_DATE = re.compile(r"^(\d{4})-\d{2}-\d{2}$")
_YEAR_IN_TEXT = re.compile(r"(?<!\d)(\d{4})-\d{2}-\d{2}(?!\d)")


class _Refused(Exception):
    def __init__(self, msgid: str, params: dict | None = None) -> None:
        self.message = Message(msgid, params)  # shown in the reader's language (common.wording)
        super().__init__(self.message)


def _parse(row: dict) -> tuple[dt.date, bool, str]:
    raw = row.get("date", "")
    if not _DATE.match(raw):
        raise _Refused(gettext_noop("date “%(value)s” is not a YYYY-MM-DD date."), {"value": raw}) from None
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        raise _Refused(gettext_noop("date “%(value)s” is not a YYYY-MM-DD date."), {"value": raw}) from None
    if not FIRST <= day.year <= LAST:
        raise _Refused(gettext_noop("The year must be between %(first)d and %(last)d."), {"first": FIRST, "last": LAST})
    kind = row.get("kind", "").lower()
    if kind not in KINDS:
        raise _Refused(gettext_noop("kind “%(kind)s” must be workday or holiday."), {"kind": row.get("kind", "")})
    return day, KINDS[kind], row.get("note", "")


def load_calendar(actor, rows, result) -> None:
    """`rows` are (line number, {column: stripped text}); fills `result` (a `common.feedlines.FeedResult`)."""
    wanted: dict[dt.date, tuple[int, bool, str]] = {}
    good_years: set[int] = set()
    refused: list[tuple[int, Message, int | None]] = []  # (line, reason, year when readable)
    for line, row in rows:
        match = _DATE.match(row.get("date", ""))
        year = int(match.group(1)) if match else None
        try:
            day, is_workday, note = _parse(row)
            earlier = wanted.get(day)
            if earlier is not None:
                if earlier[1] != is_workday:
                    raise _Refused(gettext_noop("%(date)s is given as %(kind)s on line %(line)d already."), {
                        "date": day.isoformat(), "kind": "workday" if earlier[1] else "holiday", "line": earlier[0]})
                result.rows_skipped += 1
            else:
                wanted[day] = (line, is_workday, note)
            good_years.add(day.year)
        except _Refused as exc:
            refused.append((line, exc.message, year))
    bad_years = {year for _line, _reason, year in refused if year is not None}
    # A line refused before it reached here (malformed quoting, a refused character): its year if its text shows
    # one, else every year of the file stays unknown — a half-loaded year must keep warning.
    for text in result.refused_before.values():
        years = {int(y) for y in _YEAR_IN_TEXT.findall(text)}
        bad_years |= years or good_years
    for line, reason, year in refused:
        if year is not None and year in good_years:
            reason = Joined(" ", [reason, Message(gettext_noop("The year %(year)d stays unknown until a file loads "
                                                               "every line of it."), {"year": year})])
        result.errors.append((line, reason))

    existing = {d.date: d for d in CalendarDay.objects.select_for_update().filter(date__in=list(wanted))}
    new, changed = [], []
    for day, (_line, is_workday, note) in sorted(wanted.items()):
        current = existing.get(day)
        if current is None:
            new.append(CalendarDay(date=day, is_workday=is_workday, note=note))
        elif current.is_workday == is_workday and (current.note == note or not note):
            result.rows_skipped += 1
        else:
            before = {"kind": "workday" if current.is_workday else "holiday", "note": current.note}
            current.is_workday, current.note = is_workday, note or current.note
            changed.append((current, before))
    CalendarDay.objects.bulk_create(new, batch_size=2000)
    CalendarDay.objects.bulk_update([d for d, _b in changed], ["is_workday", "note"], batch_size=2000)
    result.rows_loaded += len(new) + len(changed)
    kind = lambda d: "workday" if d.is_workday else "holiday"  # noqa: E731
    audits = [(d.pk, None, {"date": d.date.isoformat(), "kind": kind(d), "note": d.note}) for d in new]
    audits += [(d.pk, before, {"date": d.date.isoformat(), "kind": kind(d), "note": d.note}) for d, before in changed]
    audit_many(actor=actor, action="calendar_day.load", model_label="relationships.calendarday", rows=audits)

    years = sorted(good_years - bad_years)
    known = {y.year: y for y in CalendarYear.objects.select_for_update().filter(year__in=years)}
    label = actor_label(actor)
    fresh = [CalendarYear(year=y, loaded_by=label, note=result.filename[:200]) for y in years if y not in known]
    CalendarYear.objects.bulk_create(fresh)
    audit_many(actor=actor, action="calendar_year.load", model_label="relationships.calendaryear",
               rows=[(y.pk, None, {"year": y.year, "file": result.filename}) for y in fresh])
