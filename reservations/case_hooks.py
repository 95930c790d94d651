"""When an approval case ends, its reservations follow (registered from ReservationsConfig.ready()).

Runs inside the case's transaction: the reservations commit or roll back with the decision.
"""
from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _

from approvals.models import CaseStatus
from relationships.audit import audit_many
from reservations.models import Reservation, ReservationStatus


def reservations_follow_case(case, *, relationship, actor) -> None:
    rows = list(Reservation.objects.select_for_update().filter(
        approval_case=case, status=ReservationStatus.PENDING_APPROVAL).order_by("id"))
    if not rows:
        return
    holders = {int(s["staff_id"]) for s in case.proposed_shares} if relationship is not None else set()
    changes = []
    now = timezone.now()
    for r in rows:
        before = r.status
        r.updated_at = now
        if relationship is not None and r.staff_id in holders:
            r.status, r.relationship, r.status_note = ReservationStatus.MATCHED, relationship, ""
        elif relationship is not None:
            r.status = ReservationStatus.REFUSED
            r.status_note = _("The final approver did not include this reservation's staff among the holders.")
        elif case.status == CaseStatus.WITHDRAWN:
            r.status, r.status_note = ReservationStatus.REFUSED, _("The applicant withdrew the approval case.")
        else:
            r.status, r.status_note = ReservationStatus.REFUSED, _("The approval case was rejected.")
        changes.append((r.pk, {"status": before}, {"status": r.status, "note": r.status_note, "case": case.pk,
                                                  "relationship": relationship.pk if relationship else None}))
    Reservation.objects.bulk_update(rows, ["status", "status_note", "relationship", "updated_at"])
    audit_many(actor=actor, action="reservation.case_decided", model_label="reservations.reservation", rows=changes)
