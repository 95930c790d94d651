"""Post designations and delegations with dates, and waiting steps handed to another holder (R-APR-10).

The branch head manages his branch's designations (its own posts and its outlets'), HQ's office the head office's.
Every change writes an audit row and a row of the permission register (R-PERM-3). A designation's end date is
honoured at the moment of acting: the approval engine reads the assignments valid today
(`approvals.services.current_assignments`), so a delegate whose end date has passed is refused.
"""
from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from approvals.models import CaseAction, CaseStep, Post, PostAssignment, StepState
from approvals.notices import StepAssignee
from approvals.notifications import Message, deliver, holders_of
from approvals.services import post_assign
from approvals.waiting import current_steps, escalation_heads
from common import wording
from permissions.authority import is_hq_office
from permissions.models import RegisterEvent, Role, RoleKind
from permissions.services import label_message, register_append
from relationships.audit import audit
from relationships.models import Organisation, OrgKind


def managed_organisations(user) -> QuerySet:
    """The organisations whose designations `user` manages: the branches he heads and their outlets; the head
    office for HQ's office."""
    heads = set(Role.objects.filter(user=user, kind=RoleKind.BRANCH_HEAD).values_list("organisation_id", flat=True))
    cond = Q(branch_id__in=heads) if heads else Q(pk__in=[])
    if is_hq_office(user):
        cond |= Q(kind=OrgKind.HQ)
    return Organisation.objects.filter(cond).order_by("kind", "code", "id")


def _register_branch(organisation: Organisation) -> int | None:
    return organisation.branch_id if organisation.kind != OrgKind.HQ else None


def _what(a: PostAssignment) -> str:
    """The designation as the register says it: a message (the post's label nested), rendered when read."""
    text = wording.Message(gettext_noop("%(post)s @ %(organisation)s: %(from)s – %(to)s"), {
        "post": label_message(Post(a.post).label), "organisation": a.organisation.name,
        "from": a.valid_from.isoformat(), "to": a.valid_to.isoformat() if a.valid_to else "…"})
    if a.delegate_for_id and a.delegate_for is not None:
        return wording.Joined(" · ", [text, wording.Message(gettext_noop("delegate for %(user)s"),
                                                {"user": a.delegate_for.user.get_username()})])
    return text


def designation_add(*, actor, post: str, organisation: Organisation, user, valid_from: dt.date,
                    valid_to: dt.date | None = None, delegate_for: PostAssignment | None = None,
                    reason: str = "") -> PostAssignment:
    """Designate `user` at `post` (or as a delegate), in the register. Another organisation's user is refused."""
    with transaction.atomic():
        assignment = post_assign(actor=actor, post=post, organisation=organisation, user=user, valid_from=valid_from,
                                 valid_to=valid_to, delegate_for=delegate_for)
        register_append(event=RegisterEvent.POST_DESIGNATED, actor=actor, branch=_register_branch(organisation),
                        subject_user=user, what=_what(assignment), reason=reason,
                        detail={"assignment": assignment.pk, "post": assignment.post})
    return assignment


def _lock_assignment(assignment_id: int) -> PostAssignment:
    try:
        return (PostAssignment.objects.select_for_update(of=("self",))
                .select_related("organisation", "user", "delegate_for__user").get(pk=assignment_id))
    except PostAssignment.DoesNotExist:
        raise ValidationError(_("This designation does not exist."), code="not_found") from None


def designation_end(*, actor, assignment_id: int, on: dt.date, reason: str) -> PostAssignment:
    """End a designation early: its last day becomes `on` (its delegations end with it), in the register."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("Give the reason the designation ends.")]})
    with transaction.atomic():
        a = _lock_assignment(assignment_id)
        if not managed_organisations(actor).filter(pk=a.organisation_id).exists():
            raise PermissionDenied(_("Only the head of this branch or the head office may end designations at "
                                     "%(org)s.") % {"org": a.organisation.name})
        if on < a.valid_from:
            raise ValidationError({"on": [_("The last day cannot be before the designation starts (%(start)s).")
                                          % {"start": a.valid_from}]})
        if a.valid_to is not None and on >= a.valid_to:
            raise ValidationError({"on": [_("The designation already ends on %(end)s.") % {"end": a.valid_to}]})
        before = {"valid_to": a.valid_to.isoformat() if a.valid_to else None}
        a.valid_to = on
        a.save(update_fields=["valid_to"])
        # Its delegations end with it (one starting later stays inert: its principal no longer holds).
        delegations = PostAssignment.objects.filter(delegate_for=a, valid_from__lte=on).filter(
            Q(valid_to__isnull=True) | Q(valid_to__gt=on))
        ended = list(delegations.values_list("pk", flat=True))
        PostAssignment.objects.filter(pk__in=ended).update(valid_to=on)
        audit(actor=actor, action="approval_post.end", target=a, before=before,
              after={"valid_to": on.isoformat(), "delegations_ended": ended, "reason": reason})
        register_append(event=RegisterEvent.POST_DESIGNATION_ENDED, actor=actor,
                        branch=_register_branch(a.organisation), subject_user=a.user, what=_what(a), reason=reason,
                        detail={"assignment": a.pk, "delegations_ended": ended})
    return a


def reassign_targets(step: CaseStep) -> list[int]:
    """The users who hold the step's post at its organisation today (its candidates for reassignment)."""
    return sorted(holders_of([(step.post, step.organisation_id)]).get((step.post, step.organisation_id), set()))


def may_reassign(user, step: CaseStep) -> bool:
    """The head the step escalates to: the branch head of its branch, HQ's office for a head-office step."""
    target = step.organisation_id if step.organisation.kind == OrgKind.HQ else step.organisation.branch_id
    return target in escalation_heads(user)


def step_reassign(*, actor, step_id: int, to_user, reason: str) -> CaseStep:
    """Hand a waiting step to another current holder of its post, with a reason on the case's timeline."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("Give the reason the step is handed to another holder.")]})
    with transaction.atomic():
        step = (current_steps().select_for_update(of=("self",)).select_related("organisation", "case")
                .filter(pk=step_id).first())
        if step is None or step.state != StepState.PENDING:
            raise ValidationError(_("This step no longer waits: it has been decided or the case has moved on."),
                                  code="moved_on")
        if not may_reassign(actor, step):
            raise PermissionDenied(_("Only the branch head (for head-office steps, the head office) may hand a "
                                     "waiting step to another holder."))
        if to_user.pk not in reassign_targets(step):
            raise ValidationError({"to_user": [_("%(user)s does not hold the post %(post)s at %(org)s today.") % {
                "user": to_user.get_username(), "post": Post(step.post).label, "org": step.organisation.name}]})
        previous = StepAssignee.objects.filter(step=step).values_list("user__username", flat=True).first()
        StepAssignee.objects.update_or_create(step=step, defaults={"user": to_user, "reason": reason,
                                                                   "assigned_by": actor})
        CaseAction.objects.create(case=step.case, step_order=step.order, post=step.post, actor=actor,
                                  decision="reassign", reason=reason, before={"assignee": previous},
                                  after={"assignee": to_user.get_username()})
        register_append(event=RegisterEvent.STEP_REASSIGNED, actor=actor,
                        branch=_register_branch(step.organisation), subject_user=to_user,
                        what=wording.Message(gettext_noop("Case #%(case)s, step %(order)s: %(post)s"), {
                            "case": step.case_id, "order": step.order, "post": label_message(Post(step.post).label)}),
                        reason=reason, detail={"step": step.pk, "from": previous})
        with translation.override(settings.LANGUAGE_CODE):
            deliver([Message(to_user.pk, wording.Message(gettext_noop("Approval case #%(id)s is handed to you"),
                                                         {"id": step.case_id}),
                             wording.Message(gettext_noop("A step of approval case #%(id)s was handed to you: "
                                                          "%(reason)s"), {"id": step.case_id, "reason": reason}),
                             reverse("approvals:case", args=[step.case_id]))])  # the reason as typed
    return step

