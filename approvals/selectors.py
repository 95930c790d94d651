"""Reads for the approval pages: inboxes and the scoped case list (R-PERM-4, R-APR-6, R-REM-1)."""
from __future__ import annotations

from functools import reduce
from operator import or_

from django.db.models import Exists, F, OuterRef, Q, QuerySet

from approvals.models import ApprovalCase, CaseAction, CaseReason, CaseStatus, CaseStep, Post, StepState
from approvals.services import current_assignments
from permissions.models import Role
from permissions.scoping import HQ_ROLES, scope_for
from relationships.models import Staff

HQ_INBOX_REASONS = (CaseReason.CROSS_REGION, CaseReason.SPECIAL_NEW)


def inbox_for(user) -> QuerySet:
    """Steps waiting for `user` now: posts he holds or deputises, at their organisations, oldest first.

    Two queries whatever the number of cases (his assignments, then the steps with their cases).
    """
    if not getattr(user, "is_authenticated", False):
        return CaseStep.objects.none()
    assignments = current_assignments(user)
    if not assignments:
        return CaseStep.objects.none()
    held = reduce(or_, (Q(post=a.post, organisation_id=a.organisation_id) for a in assignments))
    already = CaseStep.objects.filter(case=OuterRef("case"), state=StepState.APPROVED, decided_by=user)
    return (CaseStep.objects.filter(held, state=StepState.PENDING, case__status=CaseStatus.PENDING,
                                    order=F("case__current_step"))
            .exclude(case__applicant__user=user)
            .exclude(case__filed_by=user)
            .exclude(Exists(already))
            .select_related("organisation", "case__customer", "case__type", "case__chain", "case__branch",
                            "case__opening_outlet", "case__applicant__outlet")
            .order_by("case__created_at", "case_id", "order", "id"))


def is_hq_reviewer(user) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_superuser or Role.objects.filter(user=user, kind__in=HQ_ROLES).exists():
        return True
    return any(a.post == Post.HQ for a in current_assignments(user))


def hq_inbox(user) -> QuerySet:
    """R-APR-6: HQ reviewers see every pending cross-region and special-new case, across regions."""
    if not is_hq_reviewer(user):
        return ApprovalCase.objects.none()
    return (ApprovalCase.objects.filter(status=CaseStatus.PENDING, reason__in=HQ_INBOX_REASONS)
            .select_related("customer", "type", "branch", "opening_outlet", "applicant__outlet")
            .order_by("created_at", "id"))


def visible_cases(user) -> QuerySet:
    """Cases of the user's branch scope; HQ all; the applicant his own; post holders the cases at their posts."""
    qs = ApprovalCase.objects.all()
    if not getattr(user, "is_authenticated", False):
        return qs.none()
    scope = scope_for(user)
    if scope.everything:
        return qs
    # Issue 18: each test is a column of the case or an uncorrelated id list that PostgreSQL hashes once, so the
    # count reads no other table row by row and a page walks the newest-first index, testing each case; a join
    # to the applicant or a step lookup per case made counting a post holder's cases cost a join per case.
    cond = Q(applicant_id__in=Staff.objects.filter(user=user).values("id")) | Q(filed_by=user)
    if scope.branch_ids:
        cond |= Q(branch_id__in=scope.branch_ids)
    if scope.outlet_ids:
        cond |= Q(opening_outlet_id__in=scope.outlet_ids)
    org_ids = {a.organisation_id for a in current_assignments(user)}
    if org_ids:
        cond |= Q(pk__in=CaseStep.objects.filter(organisation_id__in=org_ids).order_by().values("case_id"))
    return qs.filter(cond)


def case_detail(user, pk: int) -> ApprovalCase:
    """The case page's data, or ApprovalCase.DoesNotExist when outside scope (the view answers 404)."""
    case = (visible_cases(user)
            .select_related("customer", "type", "chain", "branch", "opening_outlet", "applicant__outlet",
                            "opening_event", "documents")
            .get(pk=pk))
    case.step_list = list(case.steps.select_related("organisation", "decided_by", "on_behalf_of")
                          .order_by("order", "id"))
    case.action_list = list(CaseAction.objects.filter(case=case).select_related("actor", "on_behalf_of")
                            .order_by("at", "id"))
    ids = {int(s["staff_id"]) for s in case.proposed_shares}
    for a in case.action_list:
        for side in (a.before, a.after):
            if isinstance(side, dict):
                ids |= {int(s["staff_id"]) for s in side.get("shares", []) or []}
    staff = Staff.objects.select_related("outlet").in_bulk(ids)
    case.holder_rows = [(staff.get(int(s["staff_id"])), s["ratio"]) for s in case.proposed_shares]
    for a in case.action_list:
        a.share_text = {k: _shares_text(getattr(a, k), staff) for k in ("before", "after")}
    return case


def _shares_text(side, staff) -> str:
    if not isinstance(side, dict) or "shares" not in side:
        return ""
    return "; ".join(f"{staff[int(s['staff_id'])].staff_no if int(s['staff_id']) in staff else s['staff_id']}:"
                     f"{s['ratio']}" for s in side["shares"])
