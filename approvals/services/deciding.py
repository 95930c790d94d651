"""Deciding a step: who may act now, approving, rejecting, returning, the final approver's holders
(R-APR-3/4/5/7/9/10, R-MATCH-5)."""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from approvals.conflicts import check_new_holders, hq_lookup, interested_user_ids
from approvals.hooks import case_completion, fire_case_decided
from approvals.models import (
    ApprovalCase,
    CaseAction,
    CaseClaimant,
    CaseDocuments,
    CaseOutcome,
    CaseStatus,
    CaseStep,
    StepState,
)
from approvals.notifications import notify_case_returned, notify_steps_waiting
from approvals.routing import deciding_order, plan_confirmations, routes_cross_region, staff_ids_of
from approvals.services.posts import _authority, current_assignments
from approvals.services.state import (
    DECISIONS,
    _clean_shares,
    _lock,
    _moved_on,
    _save,
    _shares_from_rows,
    _transition,
    _write_documents,
    needs_documents,
)
from approvals.waiting import escalated_step_ids, handed_to_others
from relationships.models import Organisation, Relationship, Staff
from relationships.services import relationship_create
from relationships.versions import relationship_end


def _end_target(*, actor, case: ApprovalCase) -> None:
    """End the case's target version on the case's date (exclusive), with its shares, audited (R-BR-1)."""
    on = case.opening_date or timezone.localdate()
    target = Relationship.objects.select_for_update().get(pk=case.target_relationship_id or 0)
    if target.effective_to is not None:
        raise ValidationError(_("The relationship this case ends already ended on %(date)s.")
                              % {"date": target.effective_to}, code="already_ended")
    action = "relationship.replace" if case.outcome == CaseOutcome.REPLACE else "relationship.end"
    relationship_end(actor=actor, relationship_id=target.pk, on=on, action=action,
                     reason=_("Approved case #%(id)s.") % {"id": case.pk})


def _complete(*, actor, case: ApprovalCase) -> Relationship | None:
    """Carry out the approved case's outcome: end the target version (`end`, `replace`), then create the
    approved relationship, effective from the opening date (R-MATCH-3/4/5). `end` creates nothing; a reassignment
    (R-STAFF-1) is carried out by its follower (`reservations.reassign.follow`), in this transaction."""
    if case.outcome == CaseOutcome.REASSIGN:
        return None
    if case.outcome in (CaseOutcome.END, CaseOutcome.REPLACE):
        _end_target(actor=actor, case=case)
        if case.outcome == CaseOutcome.END:
            return None
    if Relationship.objects.filter(customer_id=case.customer_id, type_id=case.type_id,
                                   effective_to__isnull=True).exists():
        raise ValidationError(_("The customer already holds an active %(type)s relationship; end it before "
                                "approving this case.") % {"type": case.type.name}, code="already_held")
    shares = _shares_from_rows(case.proposed_shares)
    try:
        return relationship_create(
            actor=actor, customer=case.customer, rel_type=case.type, shares=shares,
            effective_from=case.opening_date or timezone.localdate(), source="approval",
            outlet=case.opening_outlet, origin_event=case.opening_event)
    except IntegrityError:
        raise ValidationError(_("The customer already holds an active %(type)s relationship.")
                              % {"type": case.type.name}, code="already_held") from None


def _reroute(case: ApprovalCase, steps: list[CaseStep]) -> list[CaseStep]:
    """The confirmations and HQ step a change of holders calls for (R-MATCH-5), written before the case moves on."""
    if not routes_cross_region(case):
        return []
    claims = list(CaseClaimant.objects.filter(case=case).only("staff_id", "shares"))
    branch_of = dict(Staff.objects.filter(pk__in=staff_ids_of(case, claims)).values_list("id", "outlet__branch_id"))
    opening = case.branch_id
    if case.opening_outlet_id:
        opening = Organisation.objects.filter(pk=case.opening_outlet_id).values_list("branch_id", flat=True).first() \
            or opening
    added = plan_confirmations(case, steps, branches={b for b in branch_of.values() if b is not None},
                               opening_branch=opening, hq_id=hq_lookup())
    return CaseStep.objects.bulk_create(added) if added else []


def check_decision(decision: str, reason: str) -> str:
    """R-APR-4: a known decision; a reason to reject or return. Returns the stripped reason."""
    if decision not in DECISIONS:
        raise ValidationError(_("Unknown decision “%(d)s”.") % {"d": decision}, code="decision")
    reason = (reason or "").strip()
    if decision in ("reject", "return") and not reason:
        raise ValidationError({"reason": [_("A reason is required to reject or return a case. [R-APR-4]")]})
    return reason


def _acting_step(actor, case: ApprovalCase, steps: Sequence[CaseStep], today: dt.date,
                 step_id: int | None = None) -> tuple[CaseStep, int | None, list[CaseStep]]:
    """The step `actor` may act on now, for whom (a delegate's principal), and the pending steps; or the
    refusal (R-APR-3/7/9/10). The one predicate of "may act now": `case_act` and the case page both use it."""
    if case.status != CaseStatus.PENDING:
        raise _moved_on()
    if actor.pk in interested_user_ids(case):
        raise PermissionDenied(_("You may not decide a case in which you are or were the applicant, a claimant, "
                                 "a co-developer or a proposed holder. [R-APR-3]"))
    assignments = current_assignments(actor, today)
    waiting_ids = [s.pk for s in steps if s.state == StepState.PENDING]
    escalated = escalated_step_ids(actor, waiting_ids)  # R-APR-9: escalated to him
    handed = handed_to_others(actor, waiting_ids)  # R-APR-10: handed to another holder of his post
    mine = [(s, behalf) for s in steps for ok, behalf in [_authority(assignments, s)]
            if (ok and s.pk not in handed) or s.pk in escalated]
    if step_id is not None:
        mine = [(s, b) for s, b in mine if s.pk == step_id]
    if not mine:
        raise PermissionDenied(_("You do not currently hold the post this case needs (or a delegation for "
                                 "it) at the acting organisation. [R-APR-3]"))
    pending = [s for s in steps if s.state == StepState.PENDING]
    current_order = min(s.order for s in pending) if pending else None
    actionable = [(s, b) for s, b in mine if s.state == StepState.PENDING and s.order == current_order]
    if not actionable:
        if any(s.state == StepState.PENDING for s, _b in mine):
            waiting = _(", ").join(dict.fromkeys(s.get_post_display() for s in pending if s.order == current_order))
            raise ValidationError(_("This case is not at your step yet; it is waiting for %(posts)s.")
                                  % {"posts": waiting}, code="not_yet")
        raise _moved_on()
    step, behalf = actionable[0]
    persons = {actor.pk} | ({behalf} if behalf else set())
    for s in steps:
        if s.pk != step.pk and s.state == StepState.APPROVED and {s.decided_by_id, s.on_behalf_of_id} & persons:
            raise PermissionDenied(_("You already approved step %(order)d of this case; the same person may "
                                     "not approve two steps. [R-APR-3]") % {"order": s.order})
    return step, behalf, pending


def acting_step(user, case: ApprovalCase, steps: Sequence[CaseStep] | None = None) -> CaseStep | None:
    """The step `user` may act on now (None: no decision form for him). `steps` defaults to the case's."""
    if not getattr(user, "is_authenticated", False) or case.status != CaseStatus.PENDING:
        return None
    if steps is None:
        steps = list(CaseStep.objects.filter(case=case).order_by("order", "id"))
    try:
        step, _behalf, _pending = _acting_step(user, case, steps, timezone.localdate())
    except (ValidationError, PermissionDenied):
        return None
    return step


def may_change_holders(case: ApprovalCase, step: CaseStep | None, steps: Sequence[CaseStep]) -> bool:
    """R-APR-4: the final approver may change holders and ratios, when approving: the last pending step, or the
    case's own deciding step before the other branches' confirmations and HQ (R-MATCH-5)."""
    if step is None or case.outcome == CaseOutcome.END:
        return False
    return ([s.pk for s in steps if s.state == StepState.PENDING] == [step.pk]
            or step.order == deciding_order(list(steps)))


def case_act(*, actor, case_id: int, decision: str, reason: str = "", shares: list[dict] | None = None,
             documents: dict | None = None, step_id: int | None = None) -> ApprovalCase:
    """Approve, reject or return the step of `case_id` that `actor` holds (R-APR-3/4/5/7)."""
    reason = check_decision(decision, reason)
    today = timezone.localdate()
    with transaction.atomic():
        case, steps = _lock(case_id)
        step, behalf, pending = _acting_step(actor, case, steps, today, step_id)
        persons = {actor.pk} | ({behalf} if behalf else set())
        is_last = decision == "approve" and len(pending) == 1
        before = list(case.proposed_shares)
        added: list[CaseStep] = []
        if shares is not None:
            if case.outcome == CaseOutcome.END:
                raise ValidationError(_("A case that ends a relationship has no holders to change."))
            if not (decision == "approve" and (is_last or step.order == deciding_order(steps))):
                raise PermissionDenied(_("Only the final approver, when approving, may change holders and "
                                         "ratios. [R-APR-4]"))
            case.proposed_shares = _clean_shares(case, shares)
            check_new_holders(case=case, steps=steps, shares=case.proposed_shares, persons=persons)
            added = _reroute(case, steps)  # R-MATCH-5: another branch's staff brought in → its confirmation, HQ
            is_last = is_last and not added
        if documents:
            if not needs_documents(case):
                raise ValidationError(_("Only broker development cases need these documents."))
            _write_documents(actor=actor, case=case, documents=documents)

        now = timezone.now()
        step.decided_by_id, step.on_behalf_of_id, step.decided_at = actor.pk, behalf, now
        relationship = None
        ended = False
        if decision == "approve":
            step.state = StepState.APPROVED
            step.save(update_fields=["state", "decided_by", "on_behalf_of", "decided_at"])
            if is_last:
                if needs_documents(case):
                    docs = CaseDocuments.objects.filter(case=case).first()
                    if docs is None or not docs.complete:
                        raise ValidationError(_(
                            "A broker development case can be approved only after the risk disclosure form and the "
                            "customer service confirmation are recorded as received and reviewed. [R-APR-5]"),
                            code="documents")
                _transition(case, "approve")
                _save(case, ["status", "proposed_shares"])
                with case_completion(case, actor=actor):  # e.g. adjustments of a back-dated correction
                    relationship = _complete(actor=actor, case=case)
                ended = True
            else:
                case.current_step = min(s.order for s in [*pending, *added] if s.pk != step.pk)
                _save(case, ["current_step", "proposed_shares"])
                notify_steps_waiting([case.pk])
        elif decision == "reject":
            step.state = StepState.REJECTED
            step.save(update_fields=["state", "decided_by", "on_behalf_of", "decided_at"])
            CaseStep.objects.filter(case=case, state=StepState.PENDING).update(state=StepState.SKIPPED)
            _transition(case, "reject")
            _save(case, ["status"])
            ended = True
        else:
            step.state = StepState.RETURNED
            step.save(update_fields=["state", "decided_by", "on_behalf_of", "decided_at"])
            _transition(case, "return_for_correction")
            _save(case, ["status"])
            notify_case_returned(case)
        CaseAction.objects.create(
            case=case, step_order=step.order, post=step.post, actor=actor, on_behalf_of_id=behalf,
            decision=decision, reason=reason, before={"shares": before}, after={"shares": case.proposed_shares})
        if ended:
            fire_case_decided(case, relationship=relationship, actor=actor)
    return case
