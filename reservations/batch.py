"""What the nightly matchings share (R-MATCH-1, R-SEC-4): the unit's participants read in one statement,
R-ATT-1 judged on them, and the unit's reservation outcomes written with their audit rows in one statement."""
from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Collection, Sequence
from decimal import Decimal
from typing import NamedTuple

from django.db import connection
from django.utils.translation import gettext_noop

from common import wording
from common.actors import actor_label
from relationships.models import RelationshipType

PARTICIPANTS_SQL = """
SELECT p.reservation_id, p.staff_id, p.ratio, s.attach_open, s.kind, o.branch_id,
       ARRAY(SELECT q.kind FROM relationships_qualification q
             WHERE q.staff_id = s.id AND q.valid_from <= %s AND (q.valid_to IS NULL OR q.valid_to >= %s))
FROM reservations_reservationparticipant p
JOIN relationships_staff s ON s.id = p.staff_id
JOIN relationships_organisation o ON o.id = s.outlet_id
WHERE p.reservation_id = ANY(%s)
ORDER BY p.reservation_id, p.id
"""


_OUTCOMES_APPLY_SQL = """
WITH v AS (SELECT * FROM ROWS FROM (jsonb_to_recordset(%s::jsonb)
               AS (id bigint, status text, note jsonb, event_id bigint, rel_id bigint, case_id bigint, cal boolean))
           WITH ORDINALITY AS v(id, status, note, event_id, rel_id, case_id, cal, n)),
upd AS (UPDATE reservations_reservation r SET status = v.status, status_note = '', status_message = v.note,
        matched_event_id = v.event_id, relationship_id = v.rel_id, approval_case_id = v.case_id,
        calendar_unknown_on = CASE WHEN v.cal THEN %s::date ELSE r.calendar_unknown_on END,
        updated_at = now()
        FROM v JOIN reservations_reservation old ON old.id = v.id  -- the row as it was: its status before
        WHERE r.id = v.id
        RETURNING v.*, old.status AS old_status)
INSERT INTO relationships_auditentry (at, actor_label, action, target_model, target_id, before, after)
SELECT now(), %s, 'reservation.match_outcome', 'reservations.reservation', upd.id::text,
       jsonb_build_object('status', upd.old_status),
       jsonb_build_object('status', upd.status, 'note', upd.note, 'event', upd.event_id,
                          'relationship', upd.rel_id, 'case', upd.case_id)
       || CASE WHEN upd.cal THEN jsonb_build_object('calendar_unknown', true) ELSE '{}'::jsonb END
FROM upd ORDER BY upd.n
"""


class Participant(NamedTuple):
    staff_id: int
    ratio: Decimal
    attach_open: bool
    kind: str
    branch_id: int
    qualifications: set[str]


class ReservationOutcome(NamedTuple):
    """What the batch decided for one reservation: its new status and note, and what it matched or joined.

    `note` is a `common.wording.Message` (stored as its msgid and parameters, read in the reader's language), or
    "" for none."""

    reservation_id: int
    status: str
    note: str
    event_id: int | None
    relationship_id: int | None = None
    case_id: int | None = None


def participants_of(reservation_ids: Sequence[int], on: dt.date) -> dict[int, list[Participant]]:
    """Every participant of these reservations with his attach permission and the qualifications valid on `on`."""
    found: dict[int, list[Participant]] = defaultdict(list)
    if not reservation_ids:
        return found
    with connection.cursor() as cur:
        cur.execute(PARTICIPANTS_SQL, [on, on, list(reservation_ids)])
        for rid, staff_id, ratio, attach_open, kind, branch_id, quals in cur.fetchall():
            found[rid].append(Participant(staff_id, ratio, attach_open, kind, branch_id, set(quals or [])))
    return found


def attach_problem(parts: Sequence[Participant], rel_type: RelationshipType) -> str | None:
    """R-ATT-1 re-checked at match time, on the data already fetched for the unit."""
    for p in parts:
        if not p.attach_open:
            return wording.Message(gettext_noop("A participant's attach permission is closed."))
        if p.kind not in rel_type.holder_kinds:
            return wording.Message(gettext_noop("A participant may not hold this relationship type."))
        if rel_type.qualification not in p.qualifications:
            return wording.Message(gettext_noop("A participant lacks the qualification this type needs."))
    return None


def reservation_outcomes_apply(*, actor, outcomes: Sequence[ReservationOutcome],
                               calendar_unknown: Collection[int] = (), business_date: dt.date | None = None) -> None:
    """One statement updates the unit's reservations and writes their audit rows (before/after) from the same set.

    `calendar_unknown`: reservations decided on a working-day count that went through a year neither calendar
    knows (R-CAL-1); they are marked with `business_date` for review once the calendar is loaded.
    The outcomes travel as one JSON document (the quoting of seven parallel arrays cost more than the statement);
    each note in it is its message (msgid and parameters, or null), which the statement stores as it is — in the
    reservation's `status_message` and in the audit row's `note` — so that it is read in the reader's language.
    """
    if not outcomes:
        return
    doc = json.dumps([{"id": o.reservation_id, "status": str(o.status), "note": wording.to_json(o.note) or None,
                       "event_id": o.event_id,
                       "rel_id": o.relationship_id, "case_id": o.case_id, "cal": o.reservation_id in calendar_unknown}
                      for o in outcomes])
    with connection.cursor() as cur:
        cur.execute(_OUTCOMES_APPLY_SQL, [doc, business_date, actor_label(actor)])
