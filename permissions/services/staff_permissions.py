"""R-ATT-1 / R-ATT-2 / R-ORG-4: attach permission opened and closed, qualifications recorded and their validity
changed, one by one from the admin or in bulk from the staff feed, each with its register row (R-PERM-3)."""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from common.actors import actor_label, actor_user
from common.wording import Message
from permissions.authority import may_administer
from permissions.models import PermissionRegisterEntry, RegisterEvent
from permissions.services.register import label_message, register_append, register_label, what_message
from relationships.audit import audit, audit_many
from relationships.models import Qualification, QualificationKind, Staff


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
            subject_staff=staff, what=label_message(RegisterEvent(event).label), reason=reason,
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


def _recorded(kind: str, number: str, valid_from: dt.date, valid_to: dt.date | None) -> Message:
    """A qualification recorded, as the register says it (the kind's label a message too)."""
    return Message(gettext_noop("%(qualification)s %(number)s, valid %(from)s – %(to)s"), {
        "qualification": label_message(QualificationKind(kind).label), "number": number or "—",
        "from": valid_from.isoformat(), "to": valid_to.isoformat() if valid_to else "—"})


def _validity(kind: str, number: str, valid_to: dt.date | None) -> Message:
    return Message(gettext_noop("%(qualification)s %(number)s valid until %(to)s"), {
        "qualification": label_message(QualificationKind(kind).label), "number": number or "—",
        "to": valid_to.isoformat() if valid_to else "—"})


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
    actor_text = register_label(user) if user is not None else actor_label(actor)
    entries: list[PermissionRegisterEntry] = []
    audits: list[tuple[str, str, int, dict | None, dict]] = []
    for staff in attach_changed:
        event = RegisterEvent.ATTACH_OPENED if staff.attach_open else RegisterEvent.ATTACH_CLOSED
        entries.append(_register_row(
            event=event, actor=actor, actor_text=actor_text, staff=staff,
            what=label_message(RegisterEvent(event).label), reason=reason,
            detail={"before": {"attach_open": not staff.attach_open}, "after": {"attach_open": staff.attach_open}}))
        audits.append(("staff.attach_open" if staff.attach_open else "staff.attach_close", "relationships.staff",
                       staff.pk, {"attach_open": not staff.attach_open},
                       {"attach_open": staff.attach_open, "reason": reason}))
    for q in added:
        entries.append(_register_row(
            event=RegisterEvent.QUALIFICATION_RECORDED, actor=actor, actor_text=actor_text, staff=by_pk[q.staff_id],
            reason=reason,
            what=_recorded(q.kind, q.number, q.valid_from, None),
            detail={"after": _qual_dict(q)}))
        audits.append(("staff.qualification_record", "relationships.qualification", q.pk, None, _qual_dict(q)))
    for q, before in ended:
        entries.append(_register_row(
            event=RegisterEvent.QUALIFICATION_CHANGED, actor=actor, actor_text=actor_text, staff=by_pk[q.staff_id],
            reason=reason,
            what=_validity(q.kind, q.number, q.valid_to),
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
        what=what[:300], what_message=what_message(what), reason=reason, detail=detail)


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
                  what=_recorded(kind, q.number, valid_from, valid_to), reason=reason,
                  detail={"after": _qual_dict(q)})
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
                  what=_validity(q.kind, q.number, valid_to),
                  reason=reason, detail={"before": before, "after": _qual_dict(q)})
        audit(actor=actor, action="staff.qualification_validity", target=q, before=before, after=_qual_dict(q))
    return q
