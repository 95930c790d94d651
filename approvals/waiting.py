"""How long work has waited, and who it was escalated to (R-APR-9, R-REM-1).

A step starts waiting when its case opened, when the step before it was approved, or when the applicant
resubmitted the case: the latest of those moments, read from the case's own actions (no extra column to keep in
step). Reminders and escalations are rows of `approvals.notices.Reminder`; an escalated step may be acted on by
the head it was escalated to: the branch head of the step's branch, or HQ's office for a head-office step.
"""
from __future__ import annotations

from django.db.models import Case, Exists, F, OuterRef, Q, QuerySet, Subquery, When
from django.db.models.functions import Coalesce

from approvals.models import CaseAction, CaseStatus, CaseStep, StepState
from approvals.notices import Reminder, ReminderKind, StepAssignee
from permissions.models import RoleKind
from permissions.scoping import scope_for
from relationships.models import OrgKind


def waiting_since():
    """The moment a step started waiting: the case's latest approval of an earlier step or resubmission, else the
    case's opening."""
    last = (CaseAction.objects.filter(case=OuterRef("case"))
            .filter(Q(decision="approve", step_order__lt=OuterRef("order")) | Q(decision="resubmit"))
            .order_by("-at").values("at")[:1])
    return Coalesce(Subquery(last), F("case__created_at"))


def escalation_organisation():
    """Where a step escalates to: the head office for an HQ step, else the step organisation's branch."""
    return Case(When(organisation__kind=OrgKind.HQ, then=F("organisation_id")),
                default=F("organisation__branch_id"))


def with_waiting(steps: QuerySet) -> QuerySet:
    """Annotate steps with `waiting_since` and whether they were reminded (已催办) or escalated (已升级)."""
    return steps.annotate(
        waiting_since=waiting_since(),
        reminded=Exists(Reminder.objects.filter(step=OuterRef("pk"), kind=ReminderKind.REMIND)),
        escalated=Exists(Reminder.objects.filter(step=OuterRef("pk"), kind=ReminderKind.ESCALATE)))


def current_steps() -> QuerySet:
    """Every step waiting now: pending, at its pending case's current order."""
    return CaseStep.objects.filter(state=StepState.PENDING, case__status=CaseStatus.PENDING,
                                   order=F("case__current_step"))


def escalation_heads(user) -> set[int]:
    """The organisations whose escalated work `user` receives: branches he heads; the head office for HQ's office
    (holders of the head-office role there)."""
    if not getattr(user, "is_authenticated", False):
        return set()
    return {org_id for kind, org_id, org_kind in scope_for(user).roles  # the roles the scope read once
            if kind == RoleKind.BRANCH_HEAD or (kind == RoleKind.HQ and org_kind == OrgKind.HQ)}


def escalated_to(user) -> QuerySet:
    """Steps escalated to `user` that still wait, oldest first (he may act on them, R-APR-9)."""
    heads = escalation_heads(user)
    if not heads:
        return CaseStep.objects.none()
    escalated = Reminder.objects.filter(step=OuterRef("pk"), kind=ReminderKind.ESCALATE, escalated_to_id__in=heads)
    return (with_waiting(current_steps().filter(Exists(escalated)))
            .exclude(case__applicant__user=user).exclude(case__filed_by=user)
            .select_related("organisation", "case__customer", "case__type", "case__branch", "case__applicant")
            .order_by("waiting_since", "case_id", "order", "id"))


def escalated_step_ids(user, step_ids) -> set[int]:
    """Which of `step_ids` were escalated to `user` (the approval engine lets him act on those)."""
    heads = escalation_heads(user)
    if not heads:
        return set()
    return set(Reminder.objects.filter(step_id__in=list(step_ids), kind=ReminderKind.ESCALATE,
                                       escalated_to_id__in=heads).values_list("step_id", flat=True))


def handed_to_others(user, step_ids) -> set[int]:
    """Which of `step_ids` were handed to another holder (R-APR-10): the other holders no longer decide them."""
    return set(StepAssignee.objects.filter(step_id__in=list(step_ids)).exclude(user=user)
               .values_list("step_id", flat=True))
