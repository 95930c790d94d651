"""Permission administration (§3) and attach permission (§2): every write goes through these functions.

- R-PERM-1: HQ's office assigns the branch permission admin of a branch (`branch_admin_assign`); the
  branch is then his in the admin site (a django-guardian object permission on the branch row).
- R-PERM-2: a grant, adjustment or revocation of a branch user's role is an application: filed by the
  branch permission admin or the user (with his electronic sign-off), approved by the branch head,
  applied by the branch permission admin. Until applied nothing changes.
- R-PERM-3: every step writes one row of the append-only permission register (and the audit trail).
- R-ATT-1 / R-ATT-2 / R-ORG-4: attach permission is opened and closed, qualifications recorded and their
  validity changed, here only, with who, when and why in the same register.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from guardian.shortcuts import assign_perm, remove_perm

from common.actors import actor_label, actor_user
from permissions.authority import (
    administered_branch_ids,
    is_hq_office,
    may_administer,
    may_apply,
    may_decide,
    user_branch_ids,
)
from permissions.models import (
    ApplicationAction,
    ApplicationStatus,
    PermissionApplication,
    PermissionRegisterEntry,
    RegisterEvent,
    Role,
    RoleKind,
)
from relationships.audit import audit, audit_many
from relationships.models import Organisation, OrgKind, Qualification, QualificationKind, Staff

# The guardian object permission that makes a branch "his" for a branch permission admin.
BRANCH_ADMIN_PERMS = ("relationships.view_organisation", "relationships.change_organisation")

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


def _labels(*users) -> list[str]:
    """How the register names each user: "name (staff number)" for staff, else full name or user name; the staff
    records of all of them in one query."""
    ids = {u.pk for u in users if u is not None}
    staff = {s.user_id: s for s in Staff.objects.filter(user_id__in=ids).only("staff_no", "name", "user_id")}
    labels = []
    for user in users:
        if user is None:
            labels.append("")
        elif user.pk in staff:
            labels.append(f"{staff[user.pk].name} ({staff[user.pk].staff_no})")
        else:
            full = user.get_full_name() if hasattr(user, "get_full_name") else ""
            labels.append(f"{full} ({user.get_username()})" if full else user.get_username())
    return labels


def _label(user) -> str:
    return _labels(user)[0]


def register_append(*, event: str, actor, branch=None, application: PermissionApplication | None = None,
                    subject_user=None, subject_staff: Staff | None = None, what: str, reason: str = "",
                    signoff: str = "", detail: dict | None = None) -> PermissionRegisterEntry:
    app = application
    user = actor_user(actor)
    actor_text, applicant, approver, applier, subject = _labels(
        user, app.applicant if app else None,
        app.decided_by if app and app.decided_by_id and app.status != ApplicationStatus.REJECTED else None,
        app.applied_by if app and app.applied_by_id else None,
        subject_user if subject_staff is None else None)
    if subject_staff is not None:
        subject = f"{subject_staff.name} ({subject_staff.staff_no})"
    branch_id = branch if branch is None or isinstance(branch, int) else branch.pk
    return PermissionRegisterEntry.objects.create(
        event=event, branch_id=branch_id, application=app, actor=user,
        actor_label=actor_text if user is not None else actor_label(actor),
        applicant_label=applicant, approver_label=approver, applier_label=applier,
        subject_user=subject_user, subject_staff=subject_staff, subject_label=subject or "—",
        what=what[:300], reason=reason, signoff=signoff or (app.signoff if app else ""), detail=detail)


def role_text(kind: str, organisation: Organisation) -> str:
    return f"{RoleKind(kind).label} @ {organisation.name} ({organisation.code})"


def _what(app: PermissionApplication) -> str:
    new = role_text(app.role_kind, app.organisation)
    if app.action == ApplicationAction.GRANT:
        return _("grant %(role)s") % {"role": new}
    before = app.role_before or {}
    old = f"{RoleKind(before.get('kind', app.role_kind)).label} @ {before.get('organisation_name', '?')} " \
          f"({before.get('organisation_code', '?')})"
    if app.action == ApplicationAction.REVOKE:
        return _("revoke %(role)s") % {"role": old}
    return _("adjust %(old)s to %(new)s") % {"old": old, "new": new}


def _snapshot(role: Role) -> dict:
    return {"role_id": role.pk, "kind": role.kind, "organisation_id": role.organisation_id,
            "organisation_code": role.organisation.code, "organisation_name": role.organisation.name}


def _signoff(applicant, payload: dict, at: dt.datetime) -> str:
    """The applicant's electronic acknowledgement: his statement and a digest of what he signed."""
    statement = SIGNOFF_STATEMENT % {"user": applicant.get_username()}
    digest = hashlib.sha256(json.dumps({**payload, "applicant": applicant.pk, "at": at.isoformat()},
                                       sort_keys=True, default=str).encode()).hexdigest()
    return f"{statement} [{at:%Y-%m-%d %H:%M:%S%z} sha256:{digest[:32]}]"[:400]


# --------------------------------------------------------------------------------------------------
# R-PERM-2: applications
# --------------------------------------------------------------------------------------------------

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
            role=role, role_before=_snapshot(role) if role is not None else None, reason=reason, applicant=actor,
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
            after = _snapshot(role)
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
                after = _snapshot(current)
                event = RegisterEvent.ADJUSTED
        app.status, app.applied_by, app.applied_at = ApplicationStatus.APPLIED, actor, timezone.now()
        app.save(update_fields=["status", "applied_by", "applied_at", "role"])
        register_append(event=event, actor=actor, branch=app.branch, application=app, subject_user=app.subject,
                  what=_what(app), reason=app.reason, detail={"before": before, "after": after})
        audit(actor=actor, action=f"permission.{event}", target=app, before=before, after=after)
    return app


# --------------------------------------------------------------------------------------------------
# R-PERM-1: HQ assigns the branch permission admin
# --------------------------------------------------------------------------------------------------

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
                  what=_("assign %(role)s") % {"role": role_text(role.kind, branch)}, reason=reason,
                  detail={"after": _snapshot(role)})
        audit(actor=actor, action="permission.branch_admin_assign", target=role, after=_snapshot(role))
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
        user, branch, before = role.user, role.organisation, _snapshot(role)
        role.delete()
        for perm in BRANCH_ADMIN_PERMS:
            remove_perm(perm, user, branch)
        still_admin = Role.objects.filter(user=user, kind__in=(RoleKind.BRANCH_PERMISSION_ADMIN, RoleKind.HQ)).exists()
        if user.is_staff and not still_admin and not user.is_superuser:
            user.is_staff = False
            user.save(update_fields=["is_staff"])
        register_append(event=RegisterEvent.BRANCH_ADMIN_REMOVED, actor=actor, branch=branch, subject_user=user,
                  what=_("remove %(role)s") % {"role": role_text(before["kind"], branch)}, reason=reason,
                  detail={"before": before})
        audit(actor=actor, action="permission.branch_admin_remove", target=("permissions.role", before["role_id"]),
              before=before)


# --------------------------------------------------------------------------------------------------
# R-ATT-1 / R-ATT-2 / R-ORG-4: attach permission and qualifications
# --------------------------------------------------------------------------------------------------

def _require_branch_admin_of_staff(actor, staff: Staff) -> int:
    branch_id = staff.outlet.branch_id
    if branch_id is None or not may_administer(actor, branch_id):
        raise PermissionDenied(_("Only the permission admin of %(staff)s's branch or the head office may do this.")
                               % {"staff": staff})
    return branch_id


def _set_attach(*, actor, staff: Staff, reason: str, open_: bool) -> Staff:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Give the reason for the change.")})
    with transaction.atomic():
        staff = Staff.objects.select_for_update(of=("self",)).select_related("outlet").get(pk=staff.pk)
        branch_id = _require_branch_admin_of_staff(actor, staff)
        if staff.attach_open == open_:
            raise ValidationError(_("Attach permission of %(staff)s is already open.") % {"staff": staff} if open_
                                  else _("Attach permission of %(staff)s is already closed.") % {"staff": staff})
        staff.attach_open = open_
        staff.save(update_fields=["attach_open"])
        event = RegisterEvent.ATTACH_OPENED if open_ else RegisterEvent.ATTACH_CLOSED
        register_append(event=event, actor=actor, branch=branch_id, subject_user=staff.user,
            subject_staff=staff, what=str(RegisterEvent(event).label), reason=reason,
            detail={"before": {"attach_open": not open_}, "after": {"attach_open": open_}})
        audit(actor=actor, action="staff.attach_open" if open_ else "staff.attach_close", target=staff,
              before={"attach_open": not open_}, after={"attach_open": open_, "reason": reason})
    return staff


def attach_open(*, actor, staff: Staff, reason: str) -> Staff:
    """R-ATT-1: open attach permission (who, when and why go to the register and the audit trail)."""
    return _set_attach(actor=actor, staff=staff, reason=reason, open_=True)


def attach_close(*, actor, staff: Staff, reason: str) -> Staff:
    """R-ATT-2: closing stops new attachments (`relationships.services.attach_refusal`); existing ones stay."""
    return _set_attach(actor=actor, staff=staff, reason=reason, open_=False)


def _qual_dict(q: Qualification) -> dict:
    return {"kind": q.kind, "number": q.number, "valid_from": q.valid_from.isoformat(),
            "valid_to": q.valid_to.isoformat() if q.valid_to else None}


@dataclass
class StaffPermissions:
    """What a staff feed line says of one staff member's attach permission and qualifications (R-ATT-1, R-ORG-4)."""

    staff: Staff
    attach_open: bool
    qualifications: Sequence[str]


def staff_permissions_sync(*, actor, lines: Sequence[StaffPermissions], reason: str,
                           today: dt.date | None = None) -> int:
    """The staff feed's attach permissions and qualifications, brought in line with its lines in bulk: attach
    permission opened or closed, a listed qualification recorded, one no longer listed ended today. Every change
    is a register row and an audit row, as when the permission admin makes it (R-PERM-3); the feed's operator
    is the actor. Returns the number of changes."""
    today = today or timezone.localdate()
    staff_ids = [line.staff.pk for line in lines]
    held: dict[int, dict[str, Qualification]] = defaultdict(dict)
    for q in Qualification.objects.filter(staff_id__in=staff_ids, valid_to__isnull=True):
        held[q.staff_id][q.kind] = q
    attach_changed: list[Staff] = []
    added: list[Qualification] = []
    ended: list[tuple[Qualification, dict]] = []
    for line in lines:
        staff = line.staff
        if staff.attach_open != line.attach_open:
            staff.attach_open = line.attach_open
            attach_changed.append(staff)
        mine = held.get(staff.pk, {})
        added += [Qualification(staff=staff, kind=k, valid_from=dt.date(2000, 1, 1))
                  for k in dict.fromkeys(line.qualifications) if k not in mine]
        for kind, q in mine.items():
            if kind not in line.qualifications:
                before = _qual_dict(q)
                q.valid_to = today
                ended.append((q, before))
    Staff.objects.bulk_update(attach_changed, ["attach_open"], batch_size=2000)
    added = Qualification.objects.bulk_create(added, batch_size=2000)
    Qualification.objects.bulk_update([q for q, _before in ended], ["valid_to"], batch_size=2000)
    by_pk = {line.staff.pk: line.staff for line in lines}
    user = actor_user(actor)
    actor_text = _label(user) if user is not None else actor_label(actor)
    entries: list[PermissionRegisterEntry] = []
    audits: list[tuple[str, str, int, dict | None, dict]] = []
    for staff in attach_changed:
        event = RegisterEvent.ATTACH_OPENED if staff.attach_open else RegisterEvent.ATTACH_CLOSED
        entries.append(_register_row(
            event=event, actor=actor, actor_text=actor_text, staff=staff, what=str(RegisterEvent(event).label),
            reason=reason, detail={"before": {"attach_open": not staff.attach_open},
                                   "after": {"attach_open": staff.attach_open}}))
        audits.append(("staff.attach_open" if staff.attach_open else "staff.attach_close", "relationships.staff",
                       staff.pk, {"attach_open": not staff.attach_open},
                       {"attach_open": staff.attach_open, "reason": reason}))
    for q in added:
        entries.append(_register_row(
            event=RegisterEvent.QUALIFICATION_RECORDED, actor=actor, actor_text=actor_text, staff=by_pk[q.staff_id],
            reason=reason,
            what=_("%(qualification)s %(number)s, valid %(from)s – %(to)s") % {
                "qualification": q.get_kind_display(), "number": q.number or "—", "from": q.valid_from, "to": "—"},
            detail={"after": _qual_dict(q)}))
        audits.append(("staff.qualification_record", "relationships.qualification", q.pk, None, _qual_dict(q)))
    for q, before in ended:
        entries.append(_register_row(
            event=RegisterEvent.QUALIFICATION_CHANGED, actor=actor, actor_text=actor_text, staff=by_pk[q.staff_id],
            reason=reason,
            what=_("%(qualification)s %(number)s valid until %(to)s") % {
                "qualification": q.get_kind_display(), "number": q.number or "—", "to": q.valid_to},
            detail={"before": before, "after": _qual_dict(q)}))
        audits.append(("staff.qualification_validity", "relationships.qualification", q.pk, before, _qual_dict(q)))
    PermissionRegisterEntry.objects.bulk_create(entries, batch_size=2000)
    for action in {a[0] for a in audits}:
        audit_many(actor=actor, action=action, model_label=next(a[1] for a in audits if a[0] == action),
                   rows=[(pk, before, after) for act, _label, pk, before, after in audits if act == action])
    return len(entries)


def _register_row(*, event: str, actor, actor_text: str, staff: Staff, what: str, reason: str,
                  detail: dict) -> PermissionRegisterEntry:
    """One register row about a staff member, unsaved (the bulk writers save many at once)."""
    return PermissionRegisterEntry(
        event=event, branch_id=staff.outlet.branch_id, actor=actor_user(actor), actor_label=actor_text,
        subject_user_id=staff.user_id, subject_staff=staff, subject_label=f"{staff.name} ({staff.staff_no})",
        what=what[:300], reason=reason, detail=detail)


def qualification_record(*, actor, staff: Staff, kind: str, number: str, valid_from: dt.date,
                         valid_to: dt.date | None = None, reason: str = "") -> Qualification:
    """R-ORG-4: record a qualification with certificate number and validity."""
    kind = QualificationKind(kind)
    if valid_to is not None and valid_to < valid_from:
        raise ValidationError({"valid_to": _("The end date cannot be before the start date.")})
    if not (number or "").strip():
        raise ValidationError({"number": _("The certificate number is required.")})
    staff = Staff.objects.select_related("outlet").get(pk=staff.pk)
    branch_id = _require_branch_admin_of_staff(actor, staff)
    with transaction.atomic():
        try:
            with transaction.atomic():
                q = Qualification.objects.create(staff=staff, kind=kind, number=number.strip(),
                                                 valid_from=valid_from, valid_to=valid_to)
        except IntegrityError:
            raise ValidationError(_("This qualification is already recorded from that date.")) from None
        register_append(event=RegisterEvent.QUALIFICATION_RECORDED, actor=actor, branch=branch_id,
                  subject_user=staff.user, subject_staff=staff,
                  what=_("%(qualification)s %(number)s, valid %(from)s – %(to)s") % {
                      "qualification": kind.label, "number": q.number, "from": valid_from,
                      "to": valid_to or "—"}, reason=reason, detail={"after": _qual_dict(q)})
        audit(actor=actor, action="staff.qualification_record", target=q, after=_qual_dict(q))
    return q


def qualification_set_validity(*, actor, qualification: Qualification, valid_to: dt.date | None,
                               reason: str) -> Qualification:
    """Change the end of a qualification's validity (a lapsed qualification counts as absent, R-ORG-4)."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Give the reason for the change.")})
    with transaction.atomic():
        q = Qualification.objects.select_for_update(of=("self",)).select_related("staff__outlet").get(
            pk=qualification.pk)
        branch_id = _require_branch_admin_of_staff(actor, q.staff)
        if valid_to is not None and valid_to < q.valid_from:
            raise ValidationError({"valid_to": _("The end date cannot be before the start date.")})
        before = _qual_dict(q)
        q.valid_to = valid_to
        q.save(update_fields=["valid_to"])
        register_append(event=RegisterEvent.QUALIFICATION_CHANGED, actor=actor, branch=branch_id,
                  subject_user=q.staff.user, subject_staff=q.staff,
                  what=_("%(qualification)s %(number)s valid until %(to)s") % {
                      "qualification": q.get_kind_display(), "number": q.number, "to": valid_to or "—"},
                  reason=reason, detail={"before": before, "after": _qual_dict(q)})
        audit(actor=actor, action="staff.qualification_validity", target=q, before=before, after=_qual_dict(q))
    return q
