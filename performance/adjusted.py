"""The writers of relationships and outlet memberships that can reach back into a locked month, wrapped in
`performance.adjustments.adjustments_posted` (R-PERF-5, R-PERF-3, R-STAFF-1).

The kernel's writers (`relationships.services.relationships_create_bulk`, `relationships.membership
.memberships_change`, `permissions.staff_changes.staff_move`) sit below performance and cannot post adjustments
themselves; their callers that may back-date — the nightly matching of an opening dated in a locked month, the
staff feed's and the admin's moves recorded from an earlier day — call these instead. Each is one transaction with
the change and its audit rows; when nothing from the change's earliest day on is locked it costs one statement.

A move changes no holder, only the outlet a staff member's credited days go to: the customers captured are those
he held on or after the day of his move, so the adjustment rows take his credit from the old outlet (−) to the new
one (+). A leaving changes no outlet credited (his days after it go to his current outlet, R-ATT-2), so it posts
nothing.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.db import transaction

from performance.adjustments import adjustments_posted
from performance.models import AdjustmentSource
from permissions.staff_changes import staff_move
from relationships.membership import Leave, Move, memberships_change
from relationships.models import Organisation, Staff
from relationships.services import NewRelationship, relationships_create_bulk

_LISTED_CUSTOMERS = "SELECT unnest(%(customers)s::bigint[]) AS customer_id"

# The customers each moved staff member held on or after the day of his move.
_MOVED_STAFF_CUSTOMERS = """
    SELECT r.customer_id
    FROM unnest(%(staff)s::bigint[], %(on)s::date[]) AS mv(staff_id, on_day)
    JOIN relationships_relationshipshare s ON s.staff_id = mv.staff_id
     AND (s.effective_to IS NULL OR s.effective_to > mv.on_day)
    JOIN relationships_relationship r ON r.id = s.relationship_id"""


def relationships_create_bulk_adjusted(*, actor, rows: Sequence[NewRelationship],
                                       source: AdjustmentSource = AdjustmentSource.MATCH) -> list[int]:
    """`relationships_create_bulk`; relationships starting in a locked month (an opening event dated in it,
    matched late) post their credit there as adjustments into the first open month."""
    if not rows:
        return []
    with adjustments_posted(actor=actor, source=source, effective_from=min(r.effective_from for r in rows),
                            customers_sql=_LISTED_CUSTOMERS,
                            params={"customers": sorted({r.customer_id for r in rows})}):
        return relationships_create_bulk(actor=actor, rows=rows)


def memberships_change_adjusted(*, actor, moves: Sequence[Move] = (), leaves: Sequence[Leave] = (),
                                today: dt.date) -> dict[int, str]:
    """`memberships_change` (the staff feed's moves and leavings); moves from a day in a locked month post the
    credit they take from one outlet to another there as adjustments (a refused move changes nothing, so posts
    nothing)."""
    if not moves:
        return memberships_change(actor=actor, leaves=leaves, today=today)
    with adjustments_posted(actor=actor, source=AdjustmentSource.MOVE, effective_from=min(m.on for m in moves),
                            customers_sql=_MOVED_STAFF_CUSTOMERS,
                            params={"staff": [m.staff.pk for m in moves], "on": [m.on for m in moves]}):
        return memberships_change(actor=actor, moves=moves, leaves=leaves, today=today)


def staff_move_adjusted(*, actor, staff: Staff, outlet: Organisation, on: dt.date, reason: str) -> Staff:
    """`staff_move` (the admin's move, with its branch check, register and audit rows); from a day in a locked
    month, its credit moved between outlets there is posted as adjustments, in the same transaction."""
    with transaction.atomic():
        list(Staff.objects.select_for_update().filter(pk=staff.pk).values_list("pk"))  # no move in between
        with adjustments_posted(actor=actor, source=AdjustmentSource.MOVE, effective_from=on,
                                customers_sql=_MOVED_STAFF_CUSTOMERS, params={"staff": [staff.pk], "on": [on]}):
            return staff_move(actor=actor, staff=staff, outlet=outlet, on=on, reason=reason)
