"""R-BR-1: the branch creates, replaces and ends EXISTING_DEV / MAINTENANCE / KEY_SERVICE relationships
(the types whose `creation` is `branch`), each through the 1-level chain."""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from approvals.explanations import Code as ExplanationCode
from approvals.models import ApprovalCase, CaseOutcome, CaseReason
from approvals.services import case_open
from common.actors import actor_user
from permissions.authority import may_act_for_branch
from relationships.audit import audit
from relationships.identity import normalise_id_number
from relationships.models import (
    BranchRequest,
    BranchRequestKind,
    BranchRequestStatus,
    Customer,
    Organisation,
    Relationship,
    RelationshipType,
    Staff,
)
from relationships.pii import pii_hashes
from relationships.selectors import customer_branch_ids
from relationships.services import Share, check_can_attach, parse_ratio, validate_shares


def require_branch(actor, branch_id: int | None) -> None:
    if not may_act_for_branch(actor, branch_id):
        raise PermissionDenied(_("Only the branch itself (or the head office) may do this."))


def branch_types():
    return RelationshipType.objects.filter(creation="branch")


@dataclass
class BranchRequestInput:
    id_number: str
    type_code: str
    participants: Sequence[tuple[Staff, object]]     # (staff, ratio text or Decimal)
    effective_from: dt.date
    reason: str = ""
    source: str = "form"


def _clean_shares(rel_type: RelationshipType, branch_id: int, participants, on: dt.date) -> list[Share]:
    errors: list[str] = []
    shares: list[Share] = []
    for staff, ratio in participants:
        try:
            shares.append(Share(staff, parse_ratio(ratio)))
        except ValidationError as exc:
            errors.extend(exc.messages)
    if errors:
        raise ValidationError({"participants": errors})
    try:
        validate_shares(rel_type, shares)
        check_can_attach(shares, rel_type, on)
    except ValidationError as exc:
        raise ValidationError({"participants": exc.messages}) from exc
    outside = [s.staff for s in shares if s.staff.outlet.branch_id != branch_id]
    if outside:
        raise ValidationError({"participants": [_(
            "%(staff)s is not staff of this branch.") % {"staff": ", ".join(str(s) for s in outside)}]})
    return shares


def _customer(id_number: str) -> Customer:
    try:
        normalised = normalise_id_number(id_number)
    except ValidationError as exc:
        raise ValidationError({"id_number": exc.messages}) from exc
    customer = Customer.objects.filter(id_hash__in=pii_hashes(normalised)).first()
    if customer is None:
        raise ValidationError({"id_number": [_("No customer with this ID card number is known to the platform.")]})
    return customer


def _no_case_in_progress(customer: Customer, rel_type: RelationshipType) -> None:
    if (ApprovalCase.objects.in_progress().filter(customer=customer, type=rel_type).exists()
            or BranchRequest.objects.filter(customer=customer, type=rel_type,
                                            status=BranchRequestStatus.PENDING).exists()):
        raise ValidationError({"id_number": [_(
            "A request for this customer's %(type)s relationship is already waiting for approval.")
            % {"type": rel_type.label}]})


def _open_case(*, actor, req: BranchRequest, shares: list[Share], outlet) -> ApprovalCase:
    verb = {BranchRequestKind.CREATE: _("Create"), BranchRequestKind.REPLACE: _("Replace"),
            BranchRequestKind.END: _("End")}[BranchRequestKind(req.kind)]
    outcome = {BranchRequestKind.CREATE: CaseOutcome.CREATE, BranchRequestKind.REPLACE: CaseOutcome.REPLACE,
               BranchRequestKind.END: CaseOutcome.END}[BranchRequestKind(req.kind)]
    case = case_open(
        actor=actor, reason=CaseReason.BRANCH_CREATED, rel_type=req.type, customer=req.customer,
        proposed_shares=[{"staff_id": s.staff.pk, "ratio": str(s.ratio)} for s in shares],
        dedupe_key=req.dedupe_key, branch=req.branch, applicant=None, outcome=outcome, branch_request=req,
        target_relationship=req.old_relationship if outcome != CaseOutcome.CREATE else None,
        # The engine creates the relationship from the case's date and outlet.
        opening_date=req.effective_from, opening_outlet=outlet,
        explanation_code={CaseOutcome.CREATE: ExplanationCode.BRANCH_CREATE, CaseOutcome.REPLACE:
                          ExplanationCode.BRANCH_REPLACE, CaseOutcome.END: ExplanationCode.BRANCH_END}[outcome],
        explanation_params={"date": req.effective_from.isoformat(), "note": req.reason or ""},
        explanation=(_("End %(type)s on %(date)s, requested by the branch. [R-BR-1]") if outcome == CaseOutcome.END
                     else _("%(verb)s %(type)s from %(date)s, requested by the branch. [R-BR-1]")) % {
            "verb": verb, "type": req.type.label, "date": req.effective_from}
                    + (f"\n{req.reason}" if req.reason else ""))
    return case


def branch_request_create(*, actor, branch: Organisation, data: BranchRequestInput) -> BranchRequest:
    """R-BR-1: a new branch-created relationship, through the 1-level chain."""
    require_branch(actor, branch.pk)
    rel_type = branch_types().filter(code=data.type_code).first()
    if rel_type is None:
        raise ValidationError({"relationship_type": [_(
            "“%(code)s” is not a relationship type the branch creates.") % {"code": data.type_code}]})
    customer = _customer(data.id_number)
    if branch.pk not in customer_branch_ids([customer.pk]).get(customer.pk, set()):
        raise ValidationError({"id_number": [_("The customer has no account at an outlet of %(branch)s.")
                                             % {"branch": branch.name}]})
    shares = _clean_shares(rel_type, branch.pk, data.participants, data.effective_from)
    current = Relationship.objects.filter(customer=customer, type=rel_type, effective_to__isnull=True) \
        .select_related("outlet").first()
    if current is not None:
        raise ValidationError({"id_number": [_(
            "This customer already holds a %(type)s relationship, with %(outlet)s: replace it instead.") % {
            "type": rel_type.label, "outlet": current.outlet.name if current.outlet else "—"}]})
    with transaction.atomic():
        _no_case_in_progress(customer, rel_type)
        req = BranchRequest.objects.create(
            kind=BranchRequestKind.CREATE, customer=customer, type=rel_type, branch=branch,
            shares=[{"staff_id": s.staff.pk, "ratio": str(s.ratio)} for s in shares],
            effective_from=data.effective_from, reason=data.reason.strip(), requested_by=actor_user(actor),
            source=data.source)
        _open_case(actor=actor, req=req, shares=shares, outlet=shares[0].staff.outlet)
        audit(actor=actor, action="branch_request.create", target=req, after={
            "kind": req.kind, "type": rel_type.code, "effective_from": data.effective_from.isoformat(),
            "shares": req.shares})
    return req


def _branch_relationship(relationship_id: int) -> Relationship:
    rel = (Relationship.objects.select_for_update(of=("self",)).select_related("type", "outlet", "customer")
           .get(pk=relationship_id))
    if rel.type.creation != "branch":
        raise ValidationError(_("Only branch-created relationship types can be replaced here."))
    if rel.effective_to is not None:
        raise ValidationError(_("This relationship version has already ended."))
    return rel


def _branch_of(rel: Relationship) -> int:
    """The branch of a branch-created relationship: its outlet's (every such relationship has one)."""
    if rel.outlet is None or rel.outlet.branch_id is None:
        raise ValidationError(_("This relationship has no outlet, so no branch can change it."))
    return rel.outlet.branch_id


def branch_request_replace(*, actor, relationship_id: int, participants, effective_from: dt.date,
                           reason: str = "", source: str = "form") -> BranchRequest:
    """R-BR-1: a new version (holders, ratios) from `effective_from`, through the 1-level chain; the current
    version stays active until the case is approved, then ends that day (in the approving transaction)."""
    with transaction.atomic():
        rel = _branch_relationship(relationship_id)
        branch_id = _branch_of(rel)
        require_branch(actor, branch_id)
        if effective_from < rel.effective_from:
            raise ValidationError({"effective_from": [_(
                "The new version cannot start before the current one (%(date)s).") % {"date": rel.effective_from}]})
        shares = _clean_shares(rel.type, branch_id, participants, effective_from)
        _no_case_in_progress(rel.customer, rel.type)
        req = BranchRequest.objects.create(
            kind=BranchRequestKind.REPLACE, customer=rel.customer, type=rel.type, branch_id=branch_id,
            shares=[{"staff_id": s.staff.pk, "ratio": str(s.ratio)} for s in shares], effective_from=effective_from,
            old_relationship=rel, reason=reason.strip(), requested_by=actor_user(actor), source=source)
        _open_case(actor=actor, req=req, shares=shares, outlet=rel.outlet)
        audit(actor=actor, action="branch_request.create", target=req, after={
            "kind": req.kind, "type": rel.type.code, "old": rel.pk, "effective_from": effective_from.isoformat(),
            "shares": req.shares})
    return req


def branch_relationship_end(*, actor, relationship_id: int, on: dt.date, reason: str,
                            source: str = "form") -> BranchRequest:
    """R-BR-1: the branch asks to end a branch-created relationship on `on` (exclusive), with a reason, through
    the 1-level chain; it stays active until the case is approved, and the engine ends it then."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("Give the reason for ending the relationship.")]})
    with transaction.atomic():
        rel = _branch_relationship(relationship_id)
        branch_id = _branch_of(rel)
        require_branch(actor, branch_id)
        if on < rel.effective_from:
            raise ValidationError({"on": [_("A relationship cannot end before it started (%(date)s).")
                                          % {"date": rel.effective_from}]})
        if (BranchRequest.objects.filter(customer=rel.customer, type=rel.type,
                                         status=BranchRequestStatus.PENDING).exists()
                or ApprovalCase.objects.in_progress().filter(customer=rel.customer, type=rel.type).exists()):
            raise ValidationError(_("A request for this relationship is waiting for approval."))
        req = BranchRequest.objects.create(
            kind=BranchRequestKind.END, customer=rel.customer, type=rel.type, branch_id=branch_id,
            shares=[], effective_from=on, old_relationship=rel, reason=reason, requested_by=actor_user(actor),
            source=source)
        _open_case(actor=actor, req=req, shares=[], outlet=rel.outlet)
        audit(actor=actor, action="branch_request.end", target=req, after={"relationship": rel.pk,
                                                                           "on": on.isoformat(), "reason": reason})
    return req


def may_change_branch_relationship(user, relationship: Relationship) -> bool:
    """Whether `user` may ask to replace or end this version (R-BR-1): an active branch-created relationship of a
    branch he acts for."""
    return (relationship.type.creation == "branch" and relationship.effective_to is None
            and relationship.outlet is not None and may_act_for_branch(user, relationship.outlet.branch_id))
