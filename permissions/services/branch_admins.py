"""R-PERM-1: HQ's office assigns and removes the branch permission admin of a branch."""
from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from guardian.shortcuts import assign_perm, remove_perm

from common.wording import Message
from permissions.authority import is_hq_office
from permissions.models import RegisterEvent, Role, RoleKind
from permissions.services.register import register_append, role_snapshot, role_text
from relationships.audit import audit
from relationships.models import Organisation, OrgKind

# The guardian object permission that makes a branch "his" for a branch permission admin.
BRANCH_ADMIN_PERMS = ("relationships.view_organisation", "relationships.change_organisation")


def _require_hq(actor) -> None:
    if not is_hq_office(actor):
        raise PermissionDenied(_("Only the head office assigns branch permission admins."))


def branch_admin_assign(*, actor, user, branch: Organisation, reason: str) -> Role:
    _require_hq(actor)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Give the reason for the change.")})
    if branch.kind != OrgKind.BRANCH:
        raise ValidationError({"branch": _("Choose a branch company.")})
    with transaction.atomic():
        role, created = Role.objects.get_or_create(user=user, kind=RoleKind.BRANCH_PERMISSION_ADMIN,
                                                   organisation=branch)
        if not created:
            raise ValidationError(_("The user is already the permission admin of this branch."))
        for perm in BRANCH_ADMIN_PERMS:
            assign_perm(perm, user, branch)
        if not user.is_staff:
            user.is_staff = True  # the admin site is where he works
            user.save(update_fields=["is_staff"])
        register_append(event=RegisterEvent.BRANCH_ADMIN_ASSIGNED, actor=actor, branch=branch, subject_user=user,
                  what=Message(gettext_noop("assign %(role)s"), {"role": role_text(role.kind, branch)}),
                  reason=reason,
                  detail={"after": role_snapshot(role)})
        audit(actor=actor, action="permission.branch_admin_assign", target=role, after=role_snapshot(role))
    return role


def branch_admin_remove(*, actor, role: Role, reason: str) -> None:
    _require_hq(actor)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Give the reason for the change.")})
    if role.kind != RoleKind.BRANCH_PERMISSION_ADMIN:
        raise ValidationError(_("This is not a branch permission admin role."))
    with transaction.atomic():
        role = Role.objects.select_for_update().select_related("organisation", "user").get(pk=role.pk)
        user, branch, before = role.user, role.organisation, role_snapshot(role)
        role.delete()
        for perm in BRANCH_ADMIN_PERMS:
            remove_perm(perm, user, branch)
        still_admin = Role.objects.filter(user=user, kind__in=(RoleKind.BRANCH_PERMISSION_ADMIN, RoleKind.HQ)).exists()
        if user.is_staff and not still_admin and not user.is_superuser:
            user.is_staff = False
            user.save(update_fields=["is_staff"])
        register_append(event=RegisterEvent.BRANCH_ADMIN_REMOVED, actor=actor, branch=branch, subject_user=user,
                  what=Message(gettext_noop("remove %(role)s"), {"role": role_text(before["kind"], branch)}),
                  reason=reason,
                  detail={"before": before})
        audit(actor=actor, action="permission.branch_admin_remove", target=("permissions.role", before["role_id"]),
              before=before)
