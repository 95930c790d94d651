"""R-SEC-4: the branch pre-assigns its lost / dormant / silent customers; the assignee reserves them."""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from common.actors import actor_user, is_system
from permissions.authority import acting_branch_ids
from relationships.audit import audit, audit_many
from relationships.models import CustomerClass, PreAssignment, PreAssignmentStatus, Staff
from relationships.pii import decrypt
from relationships.selectors import customer_branch_ids
from relationships.services import attach_refusal
from relationships.types import secondary_type
from reservations.models import OPEN_STATUSES, Reservation
from reservations.services import ReservationInput, reservation_register


@dataclass
class AssignResult:
    assigned: list[int] = field(default_factory=list)          # pre-assignment ids
    refused: dict[int, str] = field(default_factory=dict)      # customer id → reason


def preassignment_create(*, actor, customer_ids: Sequence[int], staff: Staff, assigned_at: dt.datetime | None = None,
              source: str = "form", replace: bool = False) -> AssignResult:
    """Pre-assign each customer to `staff`; every customer is judged on its own (the good ones are kept).

    Refused as a whole: a staff member who may not hold `SECONDARY_DEV` (front staff, attach permission
    and securities qualification, R-ATT-1), or an actor without a branch role at the staff's branch.
    Refused per customer: not currently lost / dormant / silent; not a customer of the staff's branch;
    already pre-assigned (to the same staff, or — unless `replace` by the same branch — to anyone).
    """
    rel_type = secondary_type()
    staff = Staff.objects.select_related("outlet").get(pk=staff.pk)
    branch_id = staff.outlet.branch_id
    if not is_system(actor):
        allowed = acting_branch_ids(actor)
        if allowed is not None and branch_id not in allowed:
            raise PermissionDenied(_("You may pre-assign customers only to staff of your own branch."))
    assigned_at = assigned_at or timezone.now()
    refusal = attach_refusal(staff, rel_type, timezone.localtime(assigned_at).date())
    if refusal:
        raise ValidationError({"staff": [refusal]})
    ids = list(dict.fromkeys(int(i) for i in customer_ids))
    result = AssignResult()
    if not ids:
        return result
    with transaction.atomic():
        classes = {c.customer_id: c for c in CustomerClass.objects.filter(customer_id__in=ids, ended_on__isnull=True)}
        branches = customer_branch_ids(ids)
        current = {a.customer_id: a for a in PreAssignment.objects.select_for_update().select_related(
            "staff__outlet").filter(customer_id__in=ids, status=PreAssignmentStatus.ACTIVE)}
        to_end: list[PreAssignment] = []
        wanted: list[int] = []
        for cid in ids:
            if cid not in classes:
                result.refused[cid] = _("The customer is not currently lost, dormant or silent.")
            elif branch_id not in branches.get(cid, set()):
                result.refused[cid] = _("The customer is not a customer of %(branch)s.") % {
                    "branch": staff.outlet.branch.name if staff.outlet.branch else staff.outlet.name}
            elif cid in current:
                existing = current[cid]
                if existing.staff_id == staff.pk:
                    result.refused[cid] = _("The customer is already pre-assigned to this staff member.")
                elif replace and existing.branch_id == branch_id:
                    to_end.append(existing)
                    wanted.append(cid)
                else:  # name the outlet, never the assignee (as R-RES-5)
                    result.refused[cid] = _("The customer is already pre-assigned, with %(outlet)s; a customer has "
                                            "at most one active pre-assignment.") % {
                        "outlet": existing.staff.outlet.name}
            else:
                wanted.append(cid)
        now = timezone.now()
        for old in to_end:
            old.status, old.ended_at = PreAssignmentStatus.ENDED, now
            old.end_note = _("Reassigned by the branch to %(staff)s.") % {"staff": staff.staff_no}
        if to_end:
            PreAssignment.objects.bulk_update(to_end, ["status", "ended_at", "end_note"])
            audit_many(actor=actor, action="preassignment.end", model_label="relationships.preassignment",
                       rows=[(a.pk, {"status": "active"}, {"status": a.status, "note": a.end_note}) for a in to_end])
        if wanted:
            user = actor_user(actor)
            user_id = user.pk if user is not None else None
            with connection.cursor() as cur:
                # The partial unique index decides races between branches: the loser's row is not inserted.
                cur.execute("""
                    INSERT INTO relationships_preassignment (customer_id, classification_id, staff_id, branch_id,
                        assigned_at, assigned_by_id, source, status, end_note)
                    SELECT v.cid, v.class_id, %s, %s, %s, %s, %s, 'active', ''
                    FROM unnest(%s::bigint[], %s::bigint[]) AS v(cid, class_id)
                    ON CONFLICT (customer_id) WHERE status = 'active' DO NOTHING
                    RETURNING id, customer_id""",
                            [staff.pk, branch_id, assigned_at, user_id, source, wanted,
                             [classes[c].pk for c in wanted]])
                rows = cur.fetchall()
            inserted = {cid: pk for pk, cid in rows}
            for cid in wanted:
                if cid in inserted:
                    result.assigned.append(inserted[cid])
                else:
                    result.refused[cid] = _("The customer was pre-assigned by someone else a moment ago; a customer "
                                            "has at most one active pre-assignment.")
            audit_many(actor=actor, action="preassignment.create", model_label="relationships.preassignment", rows=[
                (pk, None, {"customer": cid, "staff_no": staff.staff_no, "class": classes[cid].kind,
                            "assigned_at": assigned_at.isoformat(), "source": source})
                for cid, pk in inserted.items()])
    return result


def preassignment_end(*, actor, assignment_id: int, note: str = "") -> PreAssignment:
    """The branch withdraws a pre-assignment (the customer can then be assigned to someone else)."""
    with transaction.atomic():
        a = PreAssignment.objects.select_for_update().get(pk=assignment_id)
        allowed = acting_branch_ids(actor)
        if allowed is not None and a.branch_id not in allowed:
            raise PermissionDenied(_("Only the branch that made a pre-assignment may end it."))
        if a.status != PreAssignmentStatus.ACTIVE:
            raise ValidationError(_("This pre-assignment is no longer active."))
        a.status, a.ended_at, a.end_note = PreAssignmentStatus.ENDED, timezone.now(), note[:300]
        a.save(update_fields=["status", "ended_at", "end_note"])
        audit(actor=actor, action="preassignment.end", target=a, before={"status": "active"},
              after={"status": a.status, "note": a.end_note})
    return a


def secondary_reserve(*, actor, assignment_id: int, staff: Staff, phone: str,
                      participants: Sequence[tuple[Staff, object]] | None = None,
                      registered_at: dt.datetime | None = None, source: str = "form") -> Reservation:
    """R-SEC-4: the assignee reserves his pre-assigned customer (R-RES-1…5 through `reservation_register`)."""
    a = PreAssignment.objects.select_related("customer").filter(pk=assignment_id).first()
    if a is None or a.staff_id != staff.pk:
        raise PermissionDenied(_("This customer is not pre-assigned to you."))
    if a.status != PreAssignmentStatus.ACTIVE:
        raise ValidationError(_("This pre-assignment is no longer active."))
    return reservation_register(actor=actor, data=ReservationInput(
        staff=staff, type_code=secondary_type().code, customer_name=a.customer.name,
        id_number=decrypt(a.customer.id_encrypted), phone=phone, participants=participants,
        registered_at=registered_at, source=source))


def unreserved_assignments(staff: Staff):
    """R-REM-1: the staff member's active pre-assignments without an open secondary reservation of his."""
    open_res = Reservation.objects.filter(staff_id=OuterRef("staff_id"), type_id=secondary_type().code,
                                          id_hash=OuterRef("customer__id_hash"), status__in=OPEN_STATUSES)
    return (PreAssignment.objects.filter(staff=staff, status=PreAssignmentStatus.ACTIVE)
            .exclude(Exists(open_res))
            .select_related("customer", "classification", "classification__outlet")
            .order_by("assigned_at", "id"))
