"""R-SEC-5 special new: a lost / dormant / silent customer developed by someone without a pre-assignment —
a reservation with a special-new application through the 3-level chain (branch designated person → branch
head or delegate → HQ), ending in `NEW_DEV` for front staff or `BROKER_DEV` for brokers."""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from approvals.explanations import Code as ExplanationCode
from approvals.models import ApprovalCase, CaseReason
from approvals.services import case_open
from common.actors import actor_user
from relationships.audit import audit
from relationships.identity import normalise_name
from relationships.models import (
    AccountEvent,
    Customer,
    CustomerClass,
    PreAssignment,
    PreAssignmentStatus,
    Staff,
)
from relationships.pii import encrypt, mask_id, mask_phone, pii_hashes
from relationships.pii_store import identity_hash
from relationships.services import active_holder_outlet
from relationships.types import special_new_type_code
from reservations.claims import claim_of
from reservations.models import Reservation, ReservationParticipant, ReservationStatus
from reservations.services import ReservationInput, reservation_validate, validity_end

SPECIAL_NEW_CLASS_GRACE_DAYS = 31
COMEBACK_KINDS = ("open", "designate", "activate", "transfer_in_branch")


def special_new_type(staff: Staff) -> str:
    """R-SEC-5: the type its row names for the staff member's kind (`special_new_for`)."""
    return special_new_type_code(staff.kind)


@dataclass
class SpecialNewInput:
    staff: Staff
    customer_name: str
    id_number: str
    phone: str
    explanation: str = ""
    participants: Sequence[tuple[Staff, object]] | None = None
    registered_at: dt.datetime | None = None


def special_new_apply(*, actor, data: SpecialNewInput) -> Reservation:
    """R-SEC-5: reservation + special-new application → 3-level chain → `NEW_DEV` / `BROKER_DEV`.

    The customer must be lost, dormant or silent (or have stopped being so in the last month, when he
    came back); he may not be pre-assigned to anyone (the assignee reserves as secondary development).
    """
    type_code = special_new_type(data.staff)
    clean = reservation_validate(ReservationInput(
        staff=data.staff, type_code=type_code, customer_name=data.customer_name, id_number=data.id_number,
        phone=data.phone, participants=data.participants, registered_at=data.registered_at, source="special"))
    id_hashes = pii_hashes(clean.id_number)  # R-PII-1: every live key version
    rt = clean.rel_type
    customer = Customer.objects.filter(id_hash__in=id_hashes).first()
    today = timezone.localtime(clean.registered_at).date()
    cls = None
    if customer is not None:
        cls = (CustomerClass.objects.filter(customer=customer)
               .filter(_open_or_recent(today)).order_by("-detected_on", "-id").first())
    if cls is None:
        raise ValidationError({"id_number": [_(
            "This customer is not a lost, dormant or silent customer, so a special-new application does not "
            "apply.")]})
    assignment = (PreAssignment.objects.select_related("staff__outlet")
                  .filter(customer=customer, status=PreAssignmentStatus.ACTIVE).first())
    if assignment is not None:
        if assignment.staff_id == data.staff.pk:
            msg = _("This customer is pre-assigned to you: register a secondary development reservation "
                    "instead.")
        else:
            msg = _("This customer is pre-assigned, with %(outlet)s.") % {
                "outlet": assignment.staff.outlet.name}
        raise ValidationError({"id_number": [msg]})
    holder_outlet = active_holder_outlet(id_hashes=id_hashes, rel_type=rt)
    if holder_outlet is not None:  # R-RES-5
        raise ValidationError({"id_number": [_(
            "This customer already holds a %(type)s relationship, with %(outlet)s.") % {
            "type": rt.label, "outlet": holder_outlet.name}]})
    if ApprovalCase.objects.in_progress().filter(customer=customer, type=rt).exists():
        raise ValidationError({"id_number": [_(
            "An approval case for this customer's %(type)s relationship is already in progress.")
            % {"type": rt.label}]})
    # The comeback (reopening, designation, activation, transfer) dates the relationship, if there is one.
    comebacks = AccountEvent.objects.filter(customer=customer, kind__in=COMEBACK_KINDS,
                                            event_time__lte=clean.registered_at)
    if cls.since_at is not None:
        comebacks = comebacks.filter(event_time__gt=cls.since_at)
    else:  # silent: a comeback after the month-end that made him silent
        comebacks = comebacks.filter(business_date__gt=cls.since)
    comeback = comebacks.select_related("outlet").order_by("-event_time", "-id").first()

    with transaction.atomic():
        reservation = Reservation.objects.create(
            staff=data.staff, outlet=data.staff.outlet, type=rt, customer_name=clean.customer_name,
            name_normalised=normalise_name(clean.customer_name), id_hash=identity_hash(clean.id_number),
            id_encrypted=encrypt(clean.id_number),
            id_masked=mask_id(clean.id_number), phone_encrypted=encrypt(clean.phone),
            phone_masked=mask_phone(clean.phone), registered_at=clean.registered_at,
            valid_until=validity_end(clean.registered_at), status=ReservationStatus.PENDING_APPROVAL,
            source="special", created_by=actor_user(actor))
        ReservationParticipant.objects.bulk_create(
            ReservationParticipant(reservation=reservation, staff=s.staff, ratio=s.ratio) for s in clean.shares)
        case = case_open(
            actor=actor, reason=CaseReason.SPECIAL_NEW, rel_type=rt, customer=customer,
            proposed_shares=[{"staff_id": s.staff.pk, "ratio": str(s.ratio)} for s in clean.shares],
            dedupe_key=f"special_new:reservation:{reservation.pk}", branch=data.staff.outlet.branch,
            claims=[claim_of(reservation, [{"staff_id": s.staff.pk, "ratio": str(s.ratio)} for s in clean.shares],
                             None, None)],
            applicant=data.staff, opening_event=comeback, explanation_code=ExplanationCode.SPECIAL_NEW,
            explanation_params={"kind": cls.kind, "since": cls.since.isoformat(), "note": data.explanation.strip()},
            explanation=(_("Special new: a %(kind)s customer (since %(since)s) developed without a pre-assignment. "
                           "[R-SEC-5]") % {"kind": cls.get_kind_display(), "since": cls.since})
                        + (f"\n{data.explanation.strip()}" if data.explanation.strip() else ""))
        reservation.approval_case = case
        reservation.matched_event = comeback
        reservation.save(update_fields=["approval_case", "matched_event", "updated_at"])
        audit(actor=actor, action="reservation.special_new", target=reservation, after={
            "staff_no": data.staff.staff_no, "type": rt.code, "id": reservation.id_masked, "case": case.pk,
            "class": cls.kind, "participants": [{"staff_no": s.staff.staff_no, "ratio": str(s.ratio)}
                                                for s in clean.shares]})
    return reservation


def _open_or_recent(today: dt.date) -> Q:
    return Q(ended_on__isnull=True) | Q(ended_on__gte=today - dt.timedelta(days=SPECIAL_NEW_CLASS_GRACE_DAYS))
