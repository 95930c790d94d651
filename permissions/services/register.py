"""R-PERM-3: the append-only permission register, one row per step, and how it names users and roles."""
from __future__ import annotations

from django.utils import translation
from django.utils.translation import gettext_noop

from common.actors import actor_label, actor_user
from common.wording import Joined, Message, to_json
from permissions.models import ApplicationStatus, PermissionApplication, PermissionRegisterEntry, Role, RoleKind
from relationships.models import Organisation, Staff


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


def register_label(user) -> str:
    return _labels(user)[0]


def register_append(*, event: str, actor, branch=None, application: PermissionApplication | None = None,
                    subject_user=None, subject_staff: Staff | None = None, what: str, reason: str = "",
                    signoff: str = "", detail: dict | None = None) -> PermissionRegisterEntry:
    """One register row. `what` is best a `common.wording` message: the row keeps its text (the frozen record,
    in the writer's language) and the message, which pages and exports render in the reader's language."""
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
        what=what[:300], what_message=what_message(what), reason=reason,
        signoff=signoff or (app.signoff if app else ""), detail=detail)


def what_message(what: str):
    """What is stored of an entry's `what` as a message (None for a literal text: the text column says it)."""
    return to_json(what) if isinstance(what, (Message, Joined)) else None


def label_message(label) -> Message:
    """A choice's label (a lazy `gettext` text) as a message: its msgid, translated when read (issue 19)."""
    with translation.override(None):
        return Message(str(label))


def role_text(kind: str, organisation: Organisation | None = None, *, name: str = "", code: str = "") -> Message:
    """A role as the register names it: its kind (a message) at the organisation's name and code."""
    if organisation is not None:
        name, code = organisation.name, organisation.code
    return Message(gettext_noop("%(role)s @ %(organisation)s (%(code)s)"),
                   {"role": label_message(RoleKind(kind).label), "organisation": name, "code": code})


def role_snapshot(role: Role) -> dict:
    return {"role_id": role.pk, "kind": role.kind, "organisation_id": role.organisation_id,
            "organisation_code": role.organisation.code, "organisation_name": role.organisation.name}
