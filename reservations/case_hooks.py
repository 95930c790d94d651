"""When an approval case ends, its reservations follow; what its completion changes in a locked month is posted as
adjustments (both registered from ReservationsConfig.ready()).

Runs inside the case's transaction: the reservations and the adjustments commit or roll back with the decision.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.utils import timezone
from django.utils.translation import gettext_noop

from approvals.models import CaseOutcome, CaseStatus
from common import wording
from performance.adjustments import adjustments_posted
from performance.models import AdjustmentSource
from relationships.audit import audit_many
from relationships.models import Relationship
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
        note: str | None = None  # a message (common.wording), read in the reader's language
        if relationship is not None and r.staff_id in holders:
            r.status, r.relationship = ReservationStatus.MATCHED, relationship
        elif relationship is not None:
            r.status = ReservationStatus.REFUSED
            note = gettext_noop("The final approver did not include this reservation's staff among the holders.")
        elif case.status == CaseStatus.WITHDRAWN:
            r.status, note = ReservationStatus.REFUSED, gettext_noop("The applicant withdrew the approval case.")
        else:
            r.status, note = ReservationStatus.REFUSED, gettext_noop("The approval case was rejected.")
        r.status_note, r.status_message = "", wording.Message(note).as_json() if note else None
        changes.append((r.pk, {"status": before}, {"status": r.status, "note": r.status_message, "case": case.pk,
                                                  "relationship": relationship.pk if relationship else None}))
    Reservation.objects.bulk_update(rows, ["status", "status_note", "status_message", "relationship", "updated_at"])
    audit_many(actor=actor, action="reservation.case_decided", model_label="reservations.reservation", rows=changes)


@contextmanager
def case_completion_adjusted(case, *, actor) -> Iterator[None]:
    """R-PERF-5 around the engine's writes for an approved case (`approvals.hooks.case_completion`): a relationship
    created, ended or replaced from the case's date — a late, duplicate, broker, special-new, branch or core-list
    case approved after the month of its date was locked — never rewrites that month; the customer's credit there
    before and after is posted as adjustments into the first open month (`approval` for a new relationship,
    `correction` for an end or a replacement), in the deciding transaction, with their audit row. A reassignment's
    lines are wrapped by their own follower (`reservations.reassign.follow`)."""
    if case.outcome == CaseOutcome.REASSIGN:
        yield
        return
    created = case.outcome == CaseOutcome.CREATE
    with adjustments_posted(
            actor=actor, source=AdjustmentSource.APPROVAL if created else AdjustmentSource.CORRECTION,
            effective_from=case.opening_date or timezone.localdate(),
            customers_sql="SELECT %(customer)s::bigint AS customer_id", params={"customer": case.customer_id},
            case_id=case.pk, relationship_id=None if created else case.target_relationship_id) as posting:
        yield
        if created and posting.months:  # the relationship the case created (its customer's one active version)
            posting.relationship_id = (Relationship.objects.filter(
                customer_id=case.customer_id, type_id=case.type_id, effective_to__isnull=True)
                .values_list("id", flat=True).first())
