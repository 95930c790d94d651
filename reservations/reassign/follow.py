"""A reassignment follows its case (R-STAFF-1): registered with `approvals.hooks` by `ReservationsConfig.ready()`,
run inside the transaction that decided the case — approved, its lines are carried out; otherwise they stop
waiting."""
from __future__ import annotations

from approvals.models import CaseReason, CaseStatus
from relationships.models import ReassignmentStatus
from relationships.reassignment import reassignment_apply, reassignment_drop


def reassignment_case_decided(case, *, relationship, actor) -> None:
    if case.reason != CaseReason.REASSIGNMENT:
        return
    reassignment_id = int(case.dedupe_key.split(":", 1)[1])
    if case.status == CaseStatus.APPROVED:
        reassignment_apply(actor=actor, reassignment_id=reassignment_id, shares=case.proposed_shares)
    else:
        reassignment_drop(actor=actor, reassignment_id=reassignment_id,
                          status=ReassignmentStatus.WITHDRAWN if case.status == CaseStatus.WITHDRAWN
                          else ReassignmentStatus.REJECTED)
