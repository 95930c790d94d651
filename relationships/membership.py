"""Effective-dated membership (R-STAFF-1): which outlet a staff member belonged to on which day.

`Staff.outlet` stays the current outlet for the rest of the platform. A staff member without membership rows
has always been at it; his first move writes the row before the move (from `EPOCH`) and the row after it, so a
staff member's rows cover every day from `EPOCH` until he leaves. The database refuses overlapping rows and a
second open row (`StaffMembership`'s constraints); the checks here name the refused line before that.

Reads for other apps (performance attributes a day's credit to the outlet of that day):
- `OUTLET_SEGMENTS_SQL`: a subquery of every staff member's (staff_id, outlet_id, valid_from, valid_to) segments,
  covering all time, to join on `staff_id = s.staff_id AND day >= s.valid_from AND (s.valid_to IS NULL OR
  day < s.valid_to)` — one set-based join, whatever the number of staff and days;
- `staff_outlets_on(staff_ids, day)`: the same for one day, as a dict (one query).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from relationships.audit import audit_many
from relationships.models import CreditChange, Staff, StaffMembership

EPOCH = dt.date(1990, 1, 1)  # the feeds' earliest date (common.feedlines.EARLIEST_YEAR)

OUTLET_SEGMENTS_SQL = """
    SELECT m.staff_id, m.outlet_id, m.valid_from, m.valid_to FROM relationships_staffmembership m
    UNION ALL
    SELECT s.id, s.outlet_id, DATE '1990-01-01', s.left_on FROM relationships_staff s
    WHERE NOT EXISTS (SELECT 1 FROM relationships_staffmembership m WHERE m.staff_id = s.id)"""


def staff_outlets_on(staff_ids: Iterable[int], day: dt.date) -> dict[int, int | None]:
    """The outlet of each staff member on `day` (None: he had left, or had not yet joined by his first row)."""
    ids = list(staff_ids)
    result: dict[int, int | None] = dict.fromkeys(ids)
    if not ids:
        return result
    with connection.cursor() as cur:
        cur.execute(f"""
            SELECT seg.staff_id, seg.outlet_id FROM ({OUTLET_SEGMENTS_SQL}) seg
            WHERE seg.staff_id = ANY(%s) AND seg.valid_from <= %s AND (seg.valid_to IS NULL OR seg.valid_to > %s)
            """, [ids, day, day])
        for staff_id, outlet_id in cur.fetchall():
            result[staff_id] = outlet_id
    return result


@dataclass(frozen=True)
class Move:
    """A staff member moves to `outlet_id` from `on` (the first day at the new outlet). `key`: the caller's
    line number, which a refusal names."""

    key: int
    staff: Staff
    outlet_id: int
    on: dt.date


@dataclass(frozen=True)
class Leave:
    """A staff member leaves on `on` (his first day away: he belongs to no outlet from it)."""

    key: int
    staff: Staff
    on: dt.date


def _open_rows(staff_ids: Sequence[int]) -> tuple[dict[int, StaffMembership], set[int]]:
    """(open row by staff id, ids of staff with any row), in one query."""
    open_rows: dict[int, StaffMembership] = {}
    with_rows: set[int] = set()
    for row in StaffMembership.objects.filter(staff_id__in=staff_ids).order_by("staff_id", "valid_from"):
        with_rows.add(row.staff_id)
        if row.valid_to is None:
            open_rows[row.staff_id] = row
    return open_rows, with_rows


def _refusal(staff: Staff, on: dt.date, today: dt.date, open_row: StaffMembership | None, has_rows: bool,
             verb: str, verb_is_move: bool) -> str | None:
    """Why this change cannot be recorded, or None. A leaving date may lie ahead (R-ATT-1 refuses him from it);
    a move is recorded once it has happened (`Staff.outlet` is the outlet of today)."""
    if on > today and verb_is_move:
        return _("%(what)s cannot be recorded before it happens: %(date)s is after today.") % {
            "what": verb, "date": on.isoformat()}
    if staff.left_on is not None:
        return _("%(staff)s left on %(date)s.") % {"staff": staff, "date": staff.left_on.isoformat()}
    if has_rows and open_row is None:
        return _("%(staff)s belongs to no outlet.") % {"staff": staff}
    if open_row is not None and on <= open_row.valid_from:
        return _("The last recorded move of %(staff)s took effect on %(date)s; a later change must come after it."
                 ) % {"staff": staff, "date": open_row.valid_from.isoformat()}
    if on <= EPOCH:
        return _("The date must be after %(date)s.") % {"date": EPOCH.isoformat()}
    return None


def memberships_change(*, actor, moves: Sequence[Move] = (), leaves: Sequence[Leave] = (),
                       today: dt.date) -> dict[int, str]:
    """Record moves and leavings set-based (one read, one UPDATE and one INSERT of rows, one of audit rows).

    Returns the refusal of each refused key; the others are written. The caller updates `Staff.outlet` of the
    moves it keeps (the staff feed and the admin already write the staff row); leavers get `left_on` here."""
    staff_ids = [m.staff.pk for m in moves] + [leave.staff.pk for leave in leaves]
    open_rows, with_rows = _open_rows(staff_ids)
    refused: dict[int, str] = {}
    closing: list[StaffMembership] = []
    new: list[StaffMembership] = []
    audits: list[tuple[int, dict | None, dict]] = []
    leavers: list[Staff] = []
    changes: list[Move | Leave] = [*moves, *leaves]
    for change in changes:
        staff, on = change.staff, change.on
        if change.key in refused:  # one line, one decision: its move was refused, so is its leaving
            continue
        verb = _("A move") if isinstance(change, Move) else _("A leaving date")
        open_row = open_rows.get(staff.pk)
        reason = _refusal(staff, on, today, open_row, staff.pk in with_rows, verb, isinstance(change, Move))
        if reason is None and isinstance(change, Move) and change.outlet_id == (
                open_row.outlet_id if open_row is not None else staff.outlet_id):
            reason = _("%(staff)s is at this outlet already.") % {"staff": staff}
        if reason is not None:
            refused[change.key] = reason
            continue
        old_outlet = open_row.outlet_id if open_row is not None else staff.outlet_id
        if open_row is not None:
            open_row.valid_to = on
            if open_row.pk is not None:  # (a row written by a move earlier in this call is still to insert)
                closing.append(open_row)
        else:
            new.append(StaffMembership(staff=staff, outlet_id=old_outlet, valid_from=EPOCH, valid_to=on))
        if isinstance(change, Move):
            new.append(StaffMembership(staff=staff, outlet_id=change.outlet_id, valid_from=on))
            open_rows[staff.pk] = new[-1]
            audits.append((staff.pk, {"outlet": old_outlet}, {"outlet": change.outlet_id, "from": on.isoformat()}))
        else:
            staff.left_on = on
            leavers.append(staff)
            open_rows.pop(staff.pk, None)
            audits.append((staff.pk, {"outlet": old_outlet, "left_on": None}, {"left_on": on.isoformat()}))
        with_rows.add(staff.pk)
    if audits:  # the outlet credited from the earliest change on is another (the performance night recomputes)
        first = min(dt.date.fromisoformat(after.get("from") or after["left_on"]) for _pk, _b, after in audits)
        CreditChange.objects.create(from_day=first, recorded_at=timezone.now())
    StaffMembership.objects.bulk_update(closing, ["valid_to"], batch_size=2000)
    StaffMembership.objects.bulk_create(new, batch_size=2000)
    Staff.objects.bulk_update(leavers, ["left_on"], batch_size=2000)
    moved = [a for a in audits if "outlet" in a[2]]
    left = [a for a in audits if "left_on" in a[2]]
    audit_many(actor=actor, action="staff.move", model_label="relationships.staff", rows=moved)
    audit_many(actor=actor, action="staff.leave", model_label="relationships.staff", rows=left)
    return refused
