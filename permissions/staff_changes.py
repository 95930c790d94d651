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

from permissions.authority import may_administer
from permissions.models import RegisterEvent
from permissions.services import register_append
from relationships.audit import audit
from relationships.membership import Leave, Move, memberships_change
from relationships.models import Organisation, OrgKind, Staff


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
                            what=_("Attach permission closed from %(date)s (leaving)") % {"date": on.isoformat()},
                            reason=reason, detail={"before": {"attach_open": True},
                                                   "after": {"attach_open": False, "from": on.isoformat()}})
            audit(actor=actor, action="staff.attach_close", target=staff, before={"attach_open": True},
                  after={"attach_open": False, "reason": reason})
    return staff
