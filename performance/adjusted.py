"""The writers of relationships that can reach back into a locked month, wrapped in
`performance.adjustments.adjustments_posted` (R-PERF-5, R-PERF-3, R-STAFF-1).

The kernel's writers (`relationships.services.relationships_create_bulk`) sit below performance and cannot post
adjustments themselves; their callers that may back-date — the nightly matching of an opening dated in a locked
month — call these instead. Each is one transaction with the change and its audit rows; when nothing from the
change's earliest day on is locked it costs one statement.
"""
from __future__ import annotations

from collections.abc import Sequence

from performance.adjustments import adjustments_posted
from performance.models import AdjustmentSource
from relationships.models import Relationship
from relationships.services import NewRelationship, relationships_create_bulk

_LISTED_CUSTOMERS = "SELECT unnest(%(customers)s::bigint[]) AS customer_id"


def relationships_create_bulk_adjusted(*, actor, rows: Sequence[NewRelationship],
                                       source: AdjustmentSource = AdjustmentSource.MATCH) -> list[Relationship]:
    """`relationships_create_bulk`; relationships starting in a locked month (an opening event dated in it,
    matched late) post their credit there as adjustments into the first open month."""
    if not rows:
        return []
    with adjustments_posted(actor=actor, source=source, effective_from=min(r.effective_from for r in rows),
                            customers_sql=_LISTED_CUSTOMERS,
                            params={"customers": sorted({r.customer_id for r in rows})}):
        return relationships_create_bulk(actor=actor, rows=rows)
