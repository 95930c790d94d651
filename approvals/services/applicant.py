"""What the applicant (or filer) does with his case: withdraw, resubmit, record the broker documents (R-APR-4/5)."""
from __future__ import annotations

import datetime as dt

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from approvals.conflicts import interested_user_ids
from approvals.hooks import fire_case_decided
from approvals.models import (
    OPEN_CASE_STATUSES,
    ApprovalCase,
    CaseAction,
    CaseClaimant,
    CaseDocuments,
    CaseOutcome,
    CaseStatus,
    CaseStep,
    StepState,
)
from approvals.notifications import notify_steps_waiting
from approvals.services.posts import current_assignments
from approvals.services.state import (
    _clean_shares,
    _lock,
    _moved_on,
    _save,
    _transition,
    _write_documents,
    needs_documents,
)
from approvals.services.steps import _build_steps
from permissions.models import Role, RoleKind


def is_case_applicant(user, case: ApprovalCase) -> bool:
    """The staff applicant, or the user who filed a case without one (branch-created, core list)."""
    if user is None or not getattr(user, "pk", None):
        return False
    if case.applicant is not None and case.applicant.user_id == user.pk:
        return True
    return case.filed_by_id is not None and case.filed_by_id == user.pk


def _require_applicant(actor, case: ApprovalCase) -> None:
    if not is_case_applicant(actor, case):
        raise PermissionDenied(_("Only the applicant may do this."))


def case_withdraw(*, actor, case_id: int) -> ApprovalCase:
    """R-APR-4: the applicant may withdraw before the final step."""
    with transaction.atomic():
        case, steps = _lock(case_id)
        _require_applicant(actor, case)
        if case.status not in OPEN_CASE_STATUSES:
            raise _moved_on()
        last_order = max((s.order for s in steps), default=1)
        if case.status == CaseStatus.PENDING and case.current_step >= last_order:
            raise ValidationError(_("The case has reached its final step and can no longer be withdrawn. "
                                    "[R-APR-4]"), code="final_step")
        if CaseClaimant.objects.filter(case=case).exclude(staff_id=case.applicant_id or 0).exists():
            # R-MATCH-3 / R-APR-3: one claimant may not end the other claimants' claims by withdrawing their case.
            raise ValidationError(_("This case also holds other staff members' claims, so one claimant cannot "
                                    "withdraw it; it is decided by its approvers. [R-MATCH-3]"), code="claimants")
        _transition(case, "withdraw")
        _save(case, ["status"])
        CaseStep.objects.filter(case=case, state=StepState.PENDING).update(state=StepState.SKIPPED)
        CaseAction.objects.create(case=case, step_order=case.current_step, actor=actor, decision="withdraw",
                                  before={"status": "pending"}, after={"status": case.status})
        fire_case_decided(case, relationship=None, actor=actor)
    return case


def case_resubmit(*, actor, case_id: int, shares: list[dict] | None = None,
                  explanation: str | None = None) -> ApprovalCase:
    """The applicant corrects a returned case; its chain starts again from the first step."""
    with transaction.atomic():
        case, _steps = _lock(case_id)
        _require_applicant(actor, case)
        if case.status != CaseStatus.RETURNED:
            raise _moved_on()
        before = list(case.proposed_shares)
        if shares is not None:
            if case.outcome == CaseOutcome.END:
                raise ValidationError(_("A case that ends a relationship has no holders to change."))
            case.proposed_shares = _clean_shares(case, shares)
        if explanation is not None:
            case.explanation = explanation
            case.explanation_params = {**(case.explanation_params or {}), "note": explanation}
        # Holders may have changed (cross-region participants), so the steps are resolved again
        # from the case's own chain version; the history stays in CaseAction.
        CaseStep.objects.filter(case=case).delete()
        claims = list(CaseClaimant.objects.filter(case=case).only("staff_id", "shares"))
        new_steps = CaseStep.objects.bulk_create(_build_steps([case], {case.pk: claims}))
        case.current_step = min(s.order for s in new_steps)
        _transition(case, "resubmit")
        _save(case, ["status", "proposed_shares", "explanation", "explanation_params", "current_step"])
        notify_steps_waiting([case.pk])
        CaseAction.objects.create(case=case, step_order=case.current_step, actor=actor, decision="resubmit",
                                  before={"shares": before}, after={"shares": case.proposed_shares})
    return case


def may_record_documents(user, case: ApprovalCase, today: dt.date | None = None) -> bool:
    if case.applicant is not None and case.applicant.user_id == user.pk:
        return False
    if user.pk in interested_user_ids(case):  # R-APR-3: no claimant, co-developer or holder acts on the case
        return False
    org_ids = set(CaseStep.objects.filter(case=case).values_list("organisation_id", flat=True))
    org_ids |= {i for i in (case.branch_id, case.opening_outlet_id) if i}
    if any(a.organisation_id in org_ids for a in current_assignments(user, today)):
        return True
    return user.is_superuser or Role.objects.filter(user=user).filter(
        Q(kind__in=(RoleKind.HQ, RoleKind.HQ_REVIEWER))
        | Q(kind__in=(RoleKind.BRANCH, RoleKind.BRANCH_HEAD), organisation_id=case.branch_id)
        | Q(kind__in=(RoleKind.OUTLET_HEAD, RoleKind.OUTLET_STAFF), organisation_id=case.opening_outlet_id)).exists()


def case_record_documents(*, actor, case_id: int, documents: dict) -> CaseDocuments:
    """R-APR-5: record the broker case's forms as received / reviewed (by the branch, never the applicant)."""
    with transaction.atomic():
        case, _steps = _lock(case_id)
        if not needs_documents(case):
            raise ValidationError(_("Only broker development cases need these documents."))
        if case.status not in OPEN_CASE_STATUSES:
            raise _moved_on()
        if not may_record_documents(actor, case):
            raise PermissionDenied(_("Only the branch handling this case may record its documents."))
        return _write_documents(actor=actor, case=case, documents=documents)
