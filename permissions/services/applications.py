"""R-PERM-2: applications for a branch user's role — filed (with the applicant's electronic sign-off),
approved or rejected by the branch head, withdrawn, applied by the branch permission admin."""
from __future__ import annotations

import datetime as dt
import hashlib
import json

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from common.wording import Message
from permissions.authority import administered_branch_ids, may_administer, may_apply, may_decide, user_branch_ids
from permissions.models import (
    ApplicationAction,
    ApplicationStatus,
    PermissionApplication,
    RegisterEvent,
    Role,
    RoleKind,
)
from permissions.services.register import register_append, role_snapshot, role_text
from relationships.audit import audit
from relationships.models import Organisation, OrgKind

# Roles that can be asked for through an application, and the organisation kind each is held at.
APPLICABLE_KINDS = {
    RoleKind.OUTLET_HEAD: OrgKind.OUTLET,
    RoleKind.OUTLET_STAFF: OrgKind.OUTLET,
    RoleKind.BRANCH: OrgKind.BRANCH,
    RoleKind.BRANCH_HEAD: OrgKind.BRANCH,
}

# The statement the applicant signs, in his language (the form shows it; the register keeps it as signed).
SIGNOFF_STATEMENT = gettext_lazy("I, %(user)s, apply for this change of permissions, confirm that it is needed for "
                                 "my duties and acknowledge that it is recorded in the permission register.")


def _what(app: PermissionApplication) -> Message:
    """What the application asks, as a message (the register renders it in its reader's language)."""
    new = role_text(app.role_kind, app.organisation)
    if app.action == ApplicationAction.GRANT:
        return Message(gettext_noop("grant %(role)s"), {"role": new})
    before = app.role_before or {}
    old = role_text(before.get("kind", app.role_kind), name=before.get("organisation_name", "?"),
                    code=before.get("organisation_code", "?"))
    if app.action == ApplicationAction.REVOKE:
        return Message(gettext_noop("revoke %(role)s"), {"role": old})
    return Message(gettext_noop("adjust %(old)s to %(new)s"), {"old": old, "new": new})


def _signoff(applicant, payload: dict, at: dt.datetime) -> str:
    """The applicant's electronic acknowledgement: his statement and a digest of what he signed."""
    statement = SIGNOFF_STATEMENT % {"user": applicant.get_username()}
    digest = hashlib.sha256(json.dumps({**payload, "applicant": applicant.pk, "at": at.isoformat()},
                                       sort_keys=True, default=str).encode()).hexdigest()
    return f"{statement} [{at:%Y-%m-%d %H:%M:%S%z} sha256:{digest[:32]}]"[:400]


def application_file(*, actor, subject, action: str, reason: str, signed_off: bool, role_kind: str | None = None,
                     organisation: Organisation | None = None, role: Role | None = None) -> PermissionApplication:
    """File an application. The actor is the user himself or a permission admin of the branch."""
    action = ApplicationAction(action)
    reason = (reason or "").strip()
    if not signed_off:
        raise ValidationError({"signed_off": _("The applicant must sign off the application.")})
    if not reason:
        raise ValidationError({"reason": _("Give the reason for the change.")})
    if action == ApplicationAction.GRANT:
        if role is not None:
            raise ValidationError(_("A grant does not name an existing role."))
    else:
        if role is None:
            raise ValidationError({"role": _("Choose the role to adjust or revoke.")})
        if role.user_id != subject.pk:
            raise ValidationError({"role": _("That role belongs to someone else.")})
        if role.kind not in APPLICABLE_KINDS:
            raise ValidationError({"role": _("This role is administered by the head office, not by application.")})
    if action == ApplicationAction.REVOKE and role is not None:
        role_kind, organisation = role.kind, role.organisation
    if not role_kind or organisation is None:
        raise ValidationError(_("Choose the role and the organisation."))
    role_kind = RoleKind(role_kind)
    if role_kind not in APPLICABLE_KINDS:
        raise ValidationError({"role_kind": _("The %(role)s role is assigned by the head office, not by application.")
                               % {"role": role_kind.label}})
    if organisation.kind != APPLICABLE_KINDS[role_kind]:
        raise ValidationError({"organisation": _("The %(role)s role is held at a %(kind)s.") % {
            "role": role_kind.label, "kind": OrgKind(APPLICABLE_KINDS[role_kind]).label}})
    branch_id = organisation.branch_id
    if role is not None and role.organisation.branch_id != branch_id:
        raise ValidationError({"organisation": _("A role can only be adjusted within its branch.")})
    if branch_id is None:
        raise ValidationError({"organisation": _("Choose an organisation of a branch.")})
    # The applicant: the user himself (for his own branch) or the branch's permission admin (R-PERM-1).
    if actor.pk == subject.pk:
        if branch_id not in user_branch_ids(subject) and not may_administer(actor, branch_id):
            raise PermissionDenied(_("You can only apply for permissions at your own branch."))
    elif not may_administer(actor, branch_id):
        raise PermissionDenied(_("Only the branch's permission admin or the user himself may file this application."))
    elif branch_id not in user_branch_ids(subject) and administered_branch_ids(actor) is not None:
        raise PermissionDenied(_("This user does not belong to your branch."))
    if action == ApplicationAction.GRANT and Role.objects.filter(user=subject, kind=role_kind,
                                                                 organisation=organisation).exists():
        raise ValidationError(_("The user already holds this role."))
    if action == ApplicationAction.ADJUST and role is not None and role.kind == role_kind \
            and role.organisation_id == organisation.pk:
        raise ValidationError(_("The adjustment changes nothing."))
    open_same = PermissionApplication.objects.filter(
        subject=subject, status__in=(ApplicationStatus.PENDING, ApplicationStatus.APPROVED))
    if role is not None and open_same.filter(role=role).exists():
        raise ValidationError(_("An application for this role is already open."))
    if action == ApplicationAction.GRANT and open_same.filter(action=action, role_kind=role_kind,
                                                              organisation=organisation).exists():
        raise ValidationError(_("The same application is already open."))
    now = timezone.now()
    with transaction.atomic():
        app = PermissionApplication(
            branch_id=branch_id, action=action, subject=subject, role_kind=role_kind, organisation=organisation,
            role=role, role_before=role_snapshot(role) if role is not None else None, reason=reason, applicant=actor,
            filed_at=now)
        app.signoff = _signoff(actor, {"action": action.value, "subject": subject.pk, "role_kind": role_kind.value,
                                       "organisation": organisation.pk, "role": role.pk if role else None,
                                       "reason": reason}, now)
        app.save()
        register_append(event=RegisterEvent.FILED, actor=actor, branch=app.branch, application=app,
                        subject_user=subject, what=_what(app), reason=reason,
                        detail={"application": app.pk, "action": action.value})
        audit(actor=actor, action="permission.application_file", target=app,
              after={"action": action.value, "subject": subject.get_username(), "role_kind": role_kind.value,
                     "organisation": organisation.code})
    return app


def _lock(application_id: int) -> PermissionApplication:
    return (PermissionApplication.objects.select_for_update(of=("self",))
            .select_related("branch", "organisation", "subject", "applicant").get(pk=application_id))


def application_approve(*, actor, application_id: int, note: str = "") -> PermissionApplication:
    with transaction.atomic():
        app = _lock(application_id)
        if not may_decide(actor, app):
            raise PermissionDenied(_("Only the head of this branch may approve, and never his own application."))
        if app.status != ApplicationStatus.PENDING:
            raise ValidationError(_("The application is no longer waiting for approval."))
        app.status, app.decided_by, app.decided_at, app.decision_note = (
            ApplicationStatus.APPROVED, actor, timezone.now(), note.strip())
        app.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
        register_append(event=RegisterEvent.APPROVED, actor=actor, branch=app.branch, application=app,
                  subject_user=app.subject, what=_what(app), reason=app.decision_note)
        audit(actor=actor, action="permission.application_approve", target=app, after={"status": app.status})
    return app


def application_reject(*, actor, application_id: int, reason: str) -> PermissionApplication:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("A rejection needs a reason.")})
    with transaction.atomic():
        app = _lock(application_id)
        if not may_decide(actor, app):
            raise PermissionDenied(_("Only the head of this branch may reject, and never his own application."))
        if app.status != ApplicationStatus.PENDING:
            raise ValidationError(_("The application is no longer waiting for approval."))
        app.status, app.decided_by, app.decided_at, app.decision_note = (
            ApplicationStatus.REJECTED, actor, timezone.now(), reason)
        app.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
        register_append(event=RegisterEvent.REJECTED, actor=actor, branch=app.branch, application=app,
                  subject_user=app.subject, what=_what(app), reason=reason)
        audit(actor=actor, action="permission.application_reject", target=app, after={"status": app.status})
    return app


def application_withdraw(*, actor, application_id: int) -> PermissionApplication:
    with transaction.atomic():
        app = _lock(application_id)
        if actor.pk != app.applicant_id:
            raise PermissionDenied(_("Only the applicant may withdraw the application."))
        if app.status != ApplicationStatus.PENDING:
            raise ValidationError(_("Only a pending application can be withdrawn."))
        app.status = ApplicationStatus.WITHDRAWN
        app.save(update_fields=["status"])
        register_append(event=RegisterEvent.WITHDRAWN, actor=actor, branch=app.branch, application=app,
                  subject_user=app.subject, what=_what(app))
        audit(actor=actor, action="permission.application_withdraw", target=app, after={"status": app.status})
    return app


def application_apply(*, actor, application_id: int) -> PermissionApplication:
    """The branch permission admin applies an approved application: only now does the role change."""
    with transaction.atomic():
        app = _lock(application_id)
        if not may_apply(actor, app):
            raise PermissionDenied(_("Only the branch's permission admin may apply this change, and not to himself."))
        if app.status != ApplicationStatus.APPROVED:
            raise ValidationError(_("Only an approved application can be applied."))
        before = app.role_before
        after = None
        if app.action == ApplicationAction.GRANT:
            try:
                with transaction.atomic():
                    role = Role.objects.create(user=app.subject, kind=app.role_kind, organisation=app.organisation)
            except IntegrityError:
                raise ValidationError(_("The user already holds this role.")) from None
            app.role = role
            after = role_snapshot(role)
            event = RegisterEvent.GRANTED
        else:
            current = (Role.objects.select_for_update().filter(pk=app.role_id or 0).select_related("organisation")
                       .first())
            if current is None:
                raise ValidationError(_("The role no longer exists; file a new application."))
            if app.action == ApplicationAction.REVOKE:
                current.delete()
                app.role = None  # the snapshot in role_before keeps what was revoked
                event = RegisterEvent.REVOKED
            else:
                current.kind, current.organisation = app.role_kind, app.organisation
                try:
                    with transaction.atomic():
                        current.save(update_fields=["kind", "organisation"])
                except IntegrityError:
                    raise ValidationError(_("The user already holds the role asked for.")) from None
                after = role_snapshot(current)
                event = RegisterEvent.ADJUSTED
        app.status, app.applied_by, app.applied_at = ApplicationStatus.APPLIED, actor, timezone.now()
        app.save(update_fields=["status", "applied_by", "applied_at", "role"])
        register_append(event=event, actor=actor, branch=app.branch, application=app, subject_user=app.subject,
                  what=_what(app), reason=app.reason, detail={"before": before, "after": after})
        # each key in full, as relationships.audit.ACTION_LABELS names it
        audit(actor=actor, action={RegisterEvent.GRANTED: "permission.granted",
                                   RegisterEvent.ADJUSTED: "permission.adjusted",
                                   RegisterEvent.REVOKED: "permission.revoked"}[event],
              target=app, before=before, after=after)
    return app
