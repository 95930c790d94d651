"""Requests and core lines follow their case: registered with `approvals.hooks` by `ReservationsConfig.ready()`,
run inside the transaction that decided the case. (What an approved case changes in a locked month is posted as
adjustments by `reservations.case_hooks.case_completion_adjusted`, R-PERF-5.)"""
from __future__ import annotations

from approvals.models import CaseStatus
from relationships.audit import audit
from relationships.models import (
    BranchRequest,
    BranchRequestKind,
    BranchRequestStatus,
    CoreLineStatus,
    CoreListLine,
    RelationshipShare,
)


def branch_cases_decided(case, *, relationship, actor) -> None:
    """Requests and core lines follow their case (runs inside the deciding transaction)."""
    if case.branch_request_id is not None:
        req = BranchRequest.objects.select_for_update().filter(pk=case.branch_request_id).first()
        if req is None or req.status != BranchRequestStatus.PENDING:
            return
        if case.status == CaseStatus.APPROVED:
            req.status, req.new_relationship = BranchRequestStatus.APPROVED, relationship
            if req.kind in (BranchRequestKind.END, BranchRequestKind.REPLACE) and req.old_relationship_id \
                    and not req.ended_share_ids:
                # The engine ended the old version on the request's date: remember which shares it closed.
                req.ended_share_ids = list(RelationshipShare.objects.filter(
                    relationship_id=req.old_relationship_id, effective_to=req.effective_from)
                    .values_list("id", flat=True))
        else:  # a rejected or withdrawn request changed nothing: the current version was never ended
            req.status = (BranchRequestStatus.WITHDRAWN if case.status == CaseStatus.WITHDRAWN
                          else BranchRequestStatus.REJECTED)
        req.save(update_fields=["status", "new_relationship", "ended_share_ids"])
        audit(actor=actor, action="branch_request.decided", target=req, after={
            "status": req.status, "case": case.pk, "relationship": relationship.pk if relationship else None})
    elif case.core_line_id is not None:
        line = CoreListLine.objects.select_for_update().filter(pk=case.core_line_id).first()
        if line is None or line.status != CoreLineStatus.PENDING:
            return
        if case.status == CaseStatus.APPROVED:
            line.status, line.relationship = CoreLineStatus.APPROVED, relationship
        else:
            line.status = (CoreLineStatus.WITHDRAWN if case.status == CaseStatus.WITHDRAWN
                           else CoreLineStatus.REJECTED)
        line.save(update_fields=["status", "relationship"])
        audit(actor=actor, action="core_line.decided", target=line, after={
            "status": line.status, "case": case.pk, "relationship": relationship.pk if relationship else None})
