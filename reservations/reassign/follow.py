"""A reassignment follows its case (R-STAFF-1): registered with `approvals.hooks` by `ReservationsConfig.ready()`,
run inside the transaction that decided the case — approved, its lines are carried out (what they change in a
locked month is posted as adjustments into the first open one, R-PERF-5); otherwise they stop waiting."""
from __future__ import annotations

from approvals.models import CaseReason, CaseStatus
from performance.adjustments import adjustments_posted
from performance.models import AdjustmentSource
from relationships.models import Reassignment, ReassignmentStatus
from relationships.reassignment import reassignment_apply, reassignment_drop

# The customers of a reassignment's waiting lines: those whose credit the approval changes.
REASSIGNED_CUSTOMERS = """
    SELECT r.customer_id FROM relationships_reassignmentline l JOIN relationships_relationship r
      ON r.id = l.relationship_id
    WHERE l.reassignment_id = %(ra)s AND l.status = 'pending'"""


def reassignment_case_decided(case, *, relationship, actor) -> None:
    if case.reason != CaseReason.REASSIGNMENT:
        return
    reassignment_id = int(case.dedupe_key.split(":", 1)[1])
    if case.status == CaseStatus.APPROVED:
        effective_from, source, callback_id = Reassignment.objects.values_list(
            "effective_from", "source", "callback_id").get(pk=reassignment_id)
        kind = AdjustmentSource.DISPUTE if callback_id is not None or source == "dispute" \
            else AdjustmentSource.REASSIGNMENT
        with adjustments_posted(actor=actor, source=kind, effective_from=effective_from,
                                customers_sql=REASSIGNED_CUSTOMERS, params={"ra": reassignment_id},
                                case_id=case.pk, reassignment_id=reassignment_id):
            reassignment_apply(actor=actor, reassignment_id=reassignment_id, shares=case.proposed_shares)
    else:
        reassignment_drop(actor=actor, reassignment_id=reassignment_id,
                          status=ReassignmentStatus.WITHDRAWN if case.status == CaseStatus.WITHDRAWN
                          else ReassignmentStatus.REJECTED)
