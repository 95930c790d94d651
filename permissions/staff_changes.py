"""A staff member moves or leaves, recorded by his branch's permission admin or HQ (R-STAFF-1, R-ATT-2).

The membership rows are `relationships.membership`'s; a leaving closes attach permission from its day through
the permission register (a register row and an audit row, as `attach_close`). One transaction each.
"""
from __future__ import annotations

import datetime as dt

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from common.actors import BATCH
from common.wording import Message
from permissions.authority import may_administer
from permissions.models import RegisterEvent
from permissions.services import StaffPermissions, register_append, staff_permissions_sync
from relationships.audit import audit
from relationships.membership import Leave, Move, memberships_change
from relationships.models import Organisation, OrgKind, Qualification, Staff


def _locked(actor, staff: Staff) -> Staff:
    staff = Staff.objects.select_for_update(of=("self",)).select_related("outlet").get(pk=staff.pk)
    if not may_administer(actor, staff.outlet.branch_id):
        raise PermissionDenied(_("Only the permission admin of %(staff)s's branch or the head office may do this.")
                               % {"staff": staff})
    return staff


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Give the reason for the change.")})
    return reason


def staff_move(*, actor, staff: Staff, outlet: Organisation, on: dt.date, reason: str) -> Staff:
    """R-STAFF-1: `staff` is at `outlet` from `on`; the days before stay with his old outlet."""
    reason = _reason(reason)
    if outlet.kind != OrgKind.OUTLET:
        raise ValidationError({"outlet": _("Choose a business department.")})
    with transaction.atomic():
        staff = _locked(actor, staff)
        if not may_administer(actor, outlet.branch_id):
            raise PermissionDenied(_("A move to another branch is recorded by the head office."))
        refused = memberships_change(actor=actor, moves=[Move(key=0, staff=staff, outlet_id=outlet.pk, on=on)],
                                     today=timezone.localdate())
        if refused:
            raise ValidationError({"on": refused[0]})
        before = staff.outlet_id
        staff.outlet = outlet
        staff.save(update_fields=["outlet"])
        audit(actor=actor, action="staff.outlet", target=staff, before={"outlet": before},
              after={"outlet": outlet.pk, "from": on.isoformat(), "reason": reason})
    return staff


def staff_leave(*, actor, staff: Staff, on: dt.date, reason: str) -> Staff:
    """R-STAFF-1 / R-ATT-2: `staff` leaves on `on`; from that day he holds no outlet and may not be attached. His
    attach permission is closed in the register now if the day has come (the eligibility check refuses him from
    that day in any case); his relationships stay until the branch reassigns them."""
    reason = _reason(reason)
    today = timezone.localdate()
    with transaction.atomic():
        staff = _locked(actor, staff)
        refused = memberships_change(actor=actor, leaves=[Leave(key=0, staff=staff, on=on)], today=today)
        if refused:
            raise ValidationError({"on": refused[0]})
        if on <= today and staff.attach_open:
            staff.attach_open = False
            staff.save(update_fields=["attach_open"])
            register_append(event=RegisterEvent.ATTACH_CLOSED, actor=actor, branch=staff.outlet.branch_id,
                            subject_user=staff.user, subject_staff=staff,
                            what=Message(gettext_noop("Attach permission closed from %(date)s (leaving)"),
                                         {"date": on.isoformat()}),
                            reason=reason, detail={"before": {"attach_open": True},
                                                   "after": {"attach_open": False, "from": on.isoformat()}})
            audit(actor=actor, action="staff.attach_close", target=staff, before={"attach_open": True},
                  after={"attach_open": False, "reason": reason})
    return staff


def leavers_attach_close_due(*, today: dt.date | None = None) -> int:
    """R-ATT-2: the attach permission of every leaver whose leaving day has come closes through the register (a
    leaving recorded ahead of its day, by the feed or the admin). Set-based: one read of the leavers and their
    qualifications, then the register's bulk writer (which keeps their qualifications as they are). Beat runs it
    every night; idempotent. The eligibility check refused them from that day in any case."""
    today = today or timezone.localdate()
    with transaction.atomic():
        leavers = list(Staff.objects.select_for_update(of=("self",)).select_related("outlet")
                       .filter(left_on__lte=today, attach_open=True).order_by("pk"))
        if not leavers:
            return 0
        held: dict[int, list[str]] = {s.pk: [] for s in leavers}
        for staff_id, kind in Qualification.objects.filter(staff__in=leavers, valid_to__isnull=True).values_list(
                "staff_id", "kind"):
            held[staff_id].append(kind)
        return staff_permissions_sync(actor=BATCH, today=today, reason=_("leaving date reached"), lines=[
            StaffPermissions(staff=s, attach_open=False, qualifications=held[s.pk]) for s in leavers])
