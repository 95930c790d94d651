"""Reads for the approval pages: inboxes and the scoped case list (R-PERM-4, R-APR-6, R-REM-1)."""
from __future__ import annotations

from functools import reduce
from operator import or_

from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from approvals.explanations import explain, staff_ids_of
from approvals.models import (
    ApprovalCase,
    CaseAction,
    CaseClaimant,
    CaseReason,
    CaseStatus,
    CaseStep,
    Post,
    PostAssignment,
    StepState,
)
from approvals.notices import StepAssignee
from approvals.services import current_assignments
from permissions.scoping import HQ_ROLES, scope_for
from relationships.models import Staff
from relationships.selectors import current_staff
from relationships.services import attach_refusals

HQ_INBOX_REASONS = (CaseReason.CROSS_REGION, CaseReason.SPECIAL_NEW)


def _assignments(user) -> list[PostAssignment]:
    """His posts today, read once per request for the page reads below (the inbox, the HQ reviewer's inbox and the
    case list each asked again); the services' authority checks read them afresh (`current_assignments`)."""
    today = timezone.localdate()
    cached = getattr(user, "_crm_assignments", None)
    if cached is None or cached[0] != today:
        cached = (today, current_assignments(user, today))
        user._crm_assignments = cached
    return cached[1]


def inbox_for(user) -> QuerySet:
    """Steps waiting for `user` now: posts he holds or deputises, at their organisations, oldest first.

    Two queries whatever the number of cases (his assignments, then the steps with their cases).
    """
    if not getattr(user, "is_authenticated", False):
        return CaseStep.objects.none()
    assignments = _assignments(user)
    if not assignments:
        return CaseStep.objects.none()
    held = reduce(or_, (Q(post=a.post, organisation_id=a.organisation_id) for a in assignments))
    already = CaseStep.objects.filter(case=OuterRef("case"), state=StepState.APPROVED, decided_by=user)
    steps = (CaseStep.objects.filter(held, state=StepState.PENDING, case__status=CaseStatus.PENDING,
                                     order=F("case__current_step"))
             .exclude(case__filed_by=user))
    staff = current_staff(user)
    if staff is not None:
        # R-APR-3: the applicant, a proposed holder, a co-developer or a claimant does not decide. His staff id is
        # a literal (issue 18): a subquery inside the JSON made PostgreSQL test every case's shares; a user with
        # no staff record can be none of them, and his inbox tests nothing of the kind.
        mine = [{"staff_id": staff.pk}]
        steps = (steps.exclude(case__applicant_id=staff.pk)
                 .exclude(case__proposed_shares__contains=mine)
                 .exclude(Exists(CaseClaimant.objects.filter(case=OuterRef("case"), shares__contains=mine)))
                 .exclude(Exists(CaseClaimant.objects.filter(case=OuterRef("case"), staff_id=staff.pk))))
    return (steps.exclude(Exists(already))
            .exclude(Exists(StepAssignee.objects.filter(step=OuterRef("pk")).exclude(user=user)))  # R-APR-10
            .select_related("organisation", "case__customer", "case__type", "case__chain", "case__branch",
                            "case__opening_outlet", "case__applicant__outlet")
            .order_by("case__created_at", "case_id", "order", "id"))


def is_hq_reviewer(user) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_superuser or scope_for(user).role_kinds & HQ_ROLES:  # the roles the scope read once
        return True
    return any(a.post == Post.HQ for a in _assignments(user))


def hq_inbox(user) -> QuerySet:
    """R-APR-6: HQ reviewers see every pending cross-region and special-new case, across regions — and every
    other case that has an HQ step (a late, duplicate or broker case whose holders span branches, R-MATCH-5)."""
    if not is_hq_reviewer(user):
        return ApprovalCase.objects.none()
    has_hq_step = Exists(CaseStep.objects.filter(case=OuterRef("pk"), post=Post.HQ))
    return (ApprovalCase.objects.filter(Q(reason__in=HQ_INBOX_REASONS) | Q(has_hq_step), status=CaseStatus.PENDING)
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
    staff = current_staff(user)  # read once per request (the scope read it)
    cond = Q(filed_by=user) | (Q(applicant_id=staff.pk) if staff is not None else Q())
    if scope.branch_ids:
        cond |= Q(branch_id__in=scope.branch_ids)
    if scope.outlet_ids:
        cond |= Q(opening_outlet_id__in=scope.outlet_ids)
    org_ids = {a.organisation_id for a in _assignments(user)}
    if org_ids:
        cond |= Q(pk__in=CaseStep.objects.filter(organisation_id__in=org_ids).order_by().values("case_id"))
    return qs.filter(cond)


def case_detail(user, pk: int) -> ApprovalCase:
    """The case page's data, or ApprovalCase.DoesNotExist when outside scope (the view answers 404)."""
    case = (visible_cases(user)
            .select_related("customer", "type", "chain", "branch", "opening_outlet", "applicant__outlet",
                            "opening_event", "documents")
            .get(pk=pk))
    case.step_list = list(case.steps.select_related("organisation", "decided_by__staff", "on_behalf_of__staff")
                          .order_by("order", "id"))
    case.action_list = list(CaseAction.objects.filter(case=case)
                            .select_related("actor__staff", "on_behalf_of__staff").order_by("at", "id"))
    ids = {int(s["staff_id"]) for s in case.proposed_shares} | staff_ids_of(case)
    for a in case.action_list:
        for side in (a.before, a.after):
            if isinstance(side, dict):
                ids |= {int(s["staff_id"]) for s in side.get("shares", []) or []}
    staff = Staff.objects.select_related("outlet__branch").in_bulk(ids)
    case.explained = explain(case, staff)
    case.holder_rows = [(staff.get(int(s["staff_id"])), s["ratio"]) for s in case.proposed_shares]
    for a in case.action_list:
        a.share_text = {k: _shares_text(getattr(a, k), staff) for k in ("before", "after")}
        a.decision_label = DECISION_WORDS.get(a.decision, gettext("other action"))
        a.post_label = Post(a.post).label if a.post in Post.values else ""
    return case


# The timeline's decisions in words (CaseAction.decision holds the code).
DECISION_WORDS = {"approve": gettext_lazy("approved"), "reject": gettext_lazy("rejected"),
                  "return": gettext_lazy("returned for correction"), "withdraw": gettext_lazy("withdrawn"),
                  "resubmit": gettext_lazy("resubmitted"), "documents": gettext_lazy("documents recorded"),
                  "join": gettext_lazy("claim joined the case"), "reassign": gettext_lazy("step handed over")}


def _shares_text(side, staff) -> str:
    """Holders and ratios in words: “Zhang San (S001): 0.6000; …”."""
    if not isinstance(side, dict) or "shares" not in side:
        return ""
    return gettext("; ").join(gettext("%(holder)s: %(ratio)s") % {
        "holder": staff[int(s["staff_id"])] if int(s["staff_id"]) in staff else "—", "ratio": s["ratio"]}
        for s in side["shares"])


def person_name(user) -> str:
    """How a user is named to other users: his staff name, else his full name, else his user name."""
    if user is None:
        return "—"
    staff = getattr(user, "staff", None)  # a missing reverse one-to-one raises an AttributeError subclass
    return (staff.name if staff is not None else "") or user.get_full_name() or user.get_username()


def waiting_at(case: ApprovalCase) -> list[tuple[CaseStep, list[str]]]:
    """The steps the case waits at now, each with the names of who holds its post there today (delegates
    included): two queries."""
    if case.status != CaseStatus.PENDING:
        return []
    steps = list(CaseStep.objects.filter(case=case, state=StepState.PENDING, order=case.current_step)
                 .select_related("organisation").order_by("id"))
    if not steps:
        return []
    today = timezone.localdate()
    live = Q(valid_from__lte=today) & (Q(valid_to__isnull=True) | Q(valid_to__gte=today))
    held = reduce(or_, (Q(post=s.post, organisation_id=s.organisation_id) for s in steps))
    names: dict[tuple[str, int], list[str]] = {}
    for a in (PostAssignment.objects.filter(live, held).select_related("user__staff")
              .order_by("delegate_for_id", "id")):
        bucket = names.setdefault((a.post, a.organisation_id), [])
        name = person_name(a.user)
        if name not in bucket:
            bucket.append(name)
    return [(s, names.get((s.post, s.organisation_id), [])) for s in steps]


def eligible_holders(case: ApprovalCase) -> list[Staff]:
    """The staff the final approver may pick as holders (R-ATT-1, judged by `attach_refusals` on the case's
    date): the staff of the case's branch and of the proposed holders' branches. Two queries."""
    branch_ids: set[int] = {case.branch_id} if case.branch_id else set()
    ids = [int(s["staff_id"]) for s in case.proposed_shares]
    branch_ids |= {b for b in Staff.objects.filter(pk__in=ids).values_list("outlet__branch_id", flat=True) if b}
    candidates = list(Staff.objects.filter(outlet__branch_id__in=branch_ids)
                      .select_related("outlet"))
    refusals = attach_refusals(candidates, case.type, case.opening_date or timezone.localdate())
    return sorted((s for s in candidates if refusals[s.pk] is None),
                  key=lambda s: (s.outlet.code, s.staff_no))
