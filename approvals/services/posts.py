"""Post designations and who holds a step's post today (R-APR-1, R-APR-10)."""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from approvals.models import (
    CaseStep,
    Post,
    PostAssignment,
)
from permissions.authority import belongs_elsewhere, is_hq_office
from permissions.models import Role, RoleKind
from relationships.audit import audit
from relationships.models import Organisation, OrgKind


def post_assign(*, actor, post: str, organisation: Organisation, user, valid_from: dt.date,
                valid_to: dt.date | None = None, delegate_for: PostAssignment | None = None) -> PostAssignment:
    """R-APR-1: the branch head designates post holders at his branch (and a delegate for final approval);
    HQ names its reviewers (post "hq" at the head office)."""
    post = Post(post)
    if organisation.kind == OrgKind.HQ:
        if post != Post.HQ:
            raise ValidationError(_("At the head office only the HQ review post can be assigned."))
        if not is_hq_office(actor):
            raise PermissionDenied(_("Only the head office may name HQ reviewers."))
    else:
        if post == Post.HQ:
            raise ValidationError(_("The HQ review post can only be assigned at the head office."))
        is_branch_head = Role.objects.filter(user=actor, kind=RoleKind.BRANCH_HEAD,
                                             organisation_id=organisation.branch_id or 0).exists()
        if not (is_branch_head or is_hq_office(actor)):
            raise PermissionDenied(_("Only the head of this branch or the head office may designate post holders "
                                     "at %(org)s.") % {"org": organisation.name})
    if valid_to is not None and valid_to < valid_from:
        raise ValidationError(_("The end date cannot be before the start date."))
    if belongs_elsewhere(user, organisation):  # R-APR-10
        raise ValidationError(_("%(user)s belongs to another organisation and cannot be designated at %(org)s.")
                              % {"user": user.get_username(), "org": organisation.name}, code="other_organisation")
    if delegate_for is not None:
        if post != Post.FINAL_APPROVAL:
            raise ValidationError(_("A delegate can only be named for final approval. [R-APR-1]"))
        if (delegate_for.delegate_for_id is not None or delegate_for.post != post
                or delegate_for.organisation_id != organisation.pk):
            raise ValidationError(_("A delegate acts for a holder of the same post at the same organisation."))
        if delegate_for.user_id == user.pk:
            raise ValidationError(_("A holder cannot be his own delegate."))
        if valid_to is None:
            raise ValidationError(_("A delegation needs an end date."))
    with transaction.atomic():
        assignment = PostAssignment.objects.create(
            post=post, organisation=organisation, user=user, valid_from=valid_from, valid_to=valid_to,
            delegate_for=delegate_for, created_by=actor)
        audit(actor=actor, action="approval_post.assign", target=assignment, after={
            "post": post.value, "organisation": organisation.code, "user": user.get_username(),
            "valid_from": valid_from.isoformat(), "valid_to": valid_to.isoformat() if valid_to else None,
            "delegate_for": delegate_for.user.get_username() if delegate_for else None})
    return assignment


def current_assignments(user, today: dt.date | None = None) -> list[PostAssignment]:
    """The posts `user` holds or deputises today (a delegation counts while its principal also holds)."""
    today = today or timezone.localdate()
    live = Q(valid_from__lte=today) & (Q(valid_to__isnull=True) | Q(valid_to__gte=today))
    rows = PostAssignment.objects.filter(live, user=user).select_related("delegate_for")
    result = []
    for a in rows:
        p = a.delegate_for
        if p is not None and not (p.valid_from <= today and (p.valid_to is None or p.valid_to >= today)):
            continue
        result.append(a)
    return result


def _authority(assignments: Sequence[PostAssignment], step: CaseStep) -> tuple[bool, int | None]:
    """(may act, on behalf of user id): a direct holding wins over a delegation."""
    delegated = None
    for a in assignments:
        if a.post == step.post and a.organisation_id == step.organisation_id:
            if a.delegate_for_id is None:
                return True, None
            delegated = delegated or (a.delegate_for.user_id if a.delegate_for is not None else None)
    return (True, delegated) if delegated else (False, None)
