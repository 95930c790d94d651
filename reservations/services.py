"""Reservation writes: registration, withdrawal, correction (§5, R-MATCH-4 at registration).

Views, the bulk feed and tests call these; each is one transaction with its audit row.
"""
from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from approvals.explanations import Code as ExplanationCode
from approvals.models import CLAIM_REASONS, ApprovalCase, CaseReason
from approvals.services import case_open
from common.actors import actor_user
from relationships.audit import audit
from relationships.identity import clean_customer_name, normalise_id_number, normalise_name, normalise_phone
from relationships.models import AccountEvent, MatchState, PreAssignment, PreAssignmentStatus, RelationshipType, Staff
from relationships.pii import encrypt, mask_id, mask_phone, pii_hashes
from relationships.pii_store import identity_hash
from relationships.services import (
    Share,
    active_holder_outlet,
    attach_refusal,
    customer_get_or_create,
    parse_ratio,
    validate_shares,
)
from relationships.workdays import WorkdayCount, calendar_unknown_note, late_window
from reservations.claims import claim_of, join_case, open_claim_case, open_or_join
from reservations.models import Reservation, ReservationParticipant, ReservationStatus


def validity_end(registered_at: dt.datetime) -> dt.date:
    """R-RES-2: one calendar month; 2026-01-31 → 2026-02-28 (end of that day)."""
    day = timezone.localtime(registered_at).date()
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass
class ReservationInput:
    staff: Staff
    type_code: str
    customer_name: str
    id_number: str
    phone: str
    participants: Sequence[tuple[Staff, object]] | None = None  # (staff, ratio); None = the staff alone, 1
    registered_at: dt.datetime | None = None
    source: str = "form"


@dataclass
class CleanReservation:
    staff: Staff
    rel_type: RelationshipType
    customer_name: str
    id_number: str
    phone: str
    shares: list[Share] = field(default_factory=list)
    registered_at: dt.datetime = field(default_factory=timezone.now)


def reservation_validate(data: ReservationInput) -> CleanReservation:
    """R-RES-3, R-RES-4, R-ATT-1: every field checked; all errors reported at once, by field."""
    errors: dict[str, list] = {}

    def collect(name, fn, *args):
        try:
            return fn(*args)
        except ValidationError as exc:
            errors.setdefault(name, []).extend(exc.messages)
            return None

    rel_type = RelationshipType.objects.filter(code=data.type_code, reservable=True).first()
    if rel_type is None:
        errors["relationship_type"] = [_("“%(code)s” is not a relationship type that can be reserved.")
                                       % {"code": data.type_code}]
    name = collect("customer_name", clean_customer_name, data.customer_name)
    id_number = collect("id_number", normalise_id_number, data.id_number)
    phone = collect("phone", normalise_phone, data.phone)
    registered_at = data.registered_at or timezone.now()

    shares: list[Share] = []
    raw = data.participants if data.participants else [(data.staff, Decimal("1"))]
    for staff, ratio in raw:
        value = collect("participants", parse_ratio, ratio)
        if value is not None:
            shares.append(Share(staff, value))
    if rel_type is not None and "participants" not in errors:
        collect("participants", validate_shares, rel_type, shares)
        if "participants" not in errors:
            refusals = [r for r in (attach_refusal(s.staff, rel_type, timezone.localtime(registered_at).date())
                                    for s in shares) if r]
            if refusals:
                errors["participants"] = refusals
    if errors or rel_type is None:
        raise ValidationError(errors)
    return CleanReservation(staff=data.staff, rel_type=rel_type, customer_name=name, id_number=id_number,
                            phone=phone, shares=shares, registered_at=registered_at)


def _opening_for(clean: CleanReservation, id_hashes: list[str]) -> AccountEvent | None:
    """The already matched opening this reservation would have been for (R-MATCH-4 at registration)."""
    rt = clean.rel_type
    if not rt.match_event_kind:
        return None
    qs = AccountEvent.objects.filter(
        customer__id_hash__in=id_hashes, kind=rt.match_event_kind, account_type=rt.match_account_type,
        match_state=MatchState.DONE, event_time__lt=clean.registered_at)
    if rt.match_customer == "new":
        qs = qs.filter(existing_customer=False)
    elif rt.match_customer == "existing":
        qs = qs.filter(existing_customer=True)
    if rt.match_first_only:
        qs = qs.filter(first_of_kind=True)
    return qs.select_related("outlet").order_by("-event_time").first()


def reservation_register(*, actor, data: ReservationInput) -> Reservation:
    clean = reservation_validate(data)
    id_hashes = pii_hashes(clean.id_number)  # R-PII-1: lookups try every live key version
    rt = clean.rel_type

    holder_outlet = active_holder_outlet(id_hashes=id_hashes, rel_type=rt)
    if holder_outlet is not None:  # R-RES-5: name the outlet, never the holder
        raise ValidationError({"id_number": [_(
            "This customer already holds a %(type)s relationship, with %(outlet)s.") % {
            "type": rt.label, "outlet": holder_outlet.name}]})
    # R-MATCH-3: a claim joins the customer's open conflict case (below, under its lock); another kind of case in
    # progress (a branch's request) still refuses it.
    if ApprovalCase.objects.in_progress().filter(customer__id_hash__in=id_hashes, type=rt).exclude(
            reason__in=CLAIM_REASONS).exists():
        raise ValidationError({"id_number": [_(
            "An approval case for this customer's %(type)s relationship is already in progress.")
            % {"type": rt.label}]})

    if rt.creation == "secondary" and not PreAssignment.objects.filter(
            customer__id_hash__in=id_hashes, staff=clean.staff, status=PreAssignmentStatus.ACTIVE).exists():
        raise ValidationError({"relationship_type": [_(
            "%(type)s needs the branch's pre-assignment of this customer to you; without one, file a special-new "
            "application instead.") % {"type": rt.label}]})

    opening = _opening_for(clean, id_hashes)
    window = None
    if opening is not None:
        window = late_window(opening.business_date)
        if timezone.localtime(clean.registered_at).date() > window.day:
            message = _("The account was opened on %(opened)s; a late reservation had to be registered by the end "
                        "of %(deadline)s (7 working days).") % {"opened": opening.business_date, "deadline": window.day}
            if window.calendar_unknown:  # R-CAL-1: say the count is provisional
                message += " " + calendar_unknown_note(window)
            raise ValidationError({"id_number": [message]})

    with transaction.atomic():
        case = open_claim_case(id_hashes=id_hashes, type_code=rt.code, registered_at=clean.registered_at)
        holder_outlet = active_holder_outlet(id_hashes=id_hashes, rel_type=rt)  # again, under the case's lock
        if holder_outlet is not None:
            raise ValidationError({"id_number": [_(
                "This customer already holds a %(type)s relationship, with %(outlet)s.") % {
                "type": rt.label, "outlet": holder_outlet.name}]})
        reservation = Reservation(
            staff=clean.staff, outlet=clean.staff.outlet, type=rt, customer_name=clean.customer_name,
            # The version this ID number's rows carry, under its lock: matching joins on it (R-PII-1).
            name_normalised=normalise_name(clean.customer_name), id_hash=identity_hash(clean.id_number),
            id_encrypted=encrypt(clean.id_number), id_masked=mask_id(clean.id_number),
            phone_encrypted=encrypt(clean.phone), phone_masked=mask_phone(clean.phone),
            registered_at=clean.registered_at, valid_until=validity_end(clean.registered_at),
            source=data.source, created_by=actor_user(actor),
            calendar_unknown_on=(timezone.localtime(clean.registered_at).date()
                                 if window is not None and window.calendar_unknown else None))
        try:
            with transaction.atomic():
                reservation.save()
        except IntegrityError:
            raise ValidationError({"id_number": [_(
                "You already have an open reservation of this type for this customer.")]}) from None
        ReservationParticipant.objects.bulk_create(
            ReservationParticipant(reservation=reservation, staff=s.staff, ratio=s.ratio) for s in clean.shares)
        audit(actor=actor, action="reservation.register", target=reservation, after={
            "staff_no": clean.staff.staff_no, "type": rt.code, "id": reservation.id_masked,
            "registered_at": clean.registered_at.isoformat(), "valid_until": reservation.valid_until.isoformat(),
            "participants": [{"staff_no": s.staff.staff_no, "ratio": str(s.ratio)} for s in clean.shares]})
        shares = [{"staff_id": s.staff.pk, "ratio": str(s.ratio)} for s in clean.shares]
        if case is not None:  # R-MATCH-3: inside the late window, the claim joins the open case
            join_case(actor=actor, case=case, reservation=reservation, shares=shares)
        elif opening is not None and window is not None:
            open_or_join(actor=actor, reservation=reservation, shares=shares, id_hashes=id_hashes,
                         open_case=lambda: _open_late_case(actor=actor, reservation=reservation, clean=clean,
                                                           opening=opening, window=window))
    return reservation


def _open_late_case(*, actor, reservation: Reservation, clean: CleanReservation, opening: AccountEvent,
                    window: WorkdayCount) -> ApprovalCase:
    customer = customer_get_or_create(id_number=clean.id_number, name=clean.customer_name, phone=clean.phone)
    explanation = _("Registered %(when)s, after the account was opened on %(opened)s (deadline %(deadline)s).") % {
        "when": timezone.localtime(clean.registered_at).strftime("%Y-%m-%d %H:%M"),
        "opened": opening.business_date, "deadline": window.day}
    if window.calendar_unknown:
        explanation += " " + calendar_unknown_note(window)
    shares = [{"staff_id": s.staff.pk, "ratio": str(s.ratio)} for s in clean.shares]
    case = case_open(
        actor=actor, reason=CaseReason.LATE, rel_type=clean.rel_type,
        customer=customer, proposed_shares=shares,
        dedupe_key=f"late:reservation:{reservation.pk}", branch=opening.outlet.branch, applicant=clean.staff,
        opening_event=opening, explanation=explanation, explanation_code=ExplanationCode.LATE,
        explanation_params={"staff_ids": [clean.staff.pk], "registered": clean.registered_at.isoformat(),
                            "deadline": window.day.isoformat(), "calendar_unknown_years": list(window.unknown_years)},
        claims=[claim_of(reservation, shares, opening.business_date, opening.event_time)])
    reservation.status = ReservationStatus.PENDING_APPROVAL
    reservation.approval_case = case
    reservation.matched_event = opening
    reservation.save(update_fields=["status", "approval_case", "matched_event", "updated_at"])
    return case


WITHDRAW_REASON_MAX = 500


def reservation_withdraw_refusal(reservation: Reservation, staff: Staff | None) -> str | None:
    """R-RES-6: why `staff` may not withdraw the reservation now, or None (the page asks only when he may)."""
    if staff is None or reservation.staff_id != staff.pk:
        return _("Only the staff member who registered a reservation may withdraw it.")
    if reservation.status not in (ReservationStatus.ACTIVE, ReservationStatus.FLAGGED):
        return _("This reservation is %(status)s and can no longer be withdrawn.") % {
            "status": reservation.get_status_display()}
    return None


def reservation_withdraw(*, actor, reservation_id: int, staff: Staff, reason: str = "") -> Reservation:
    """R-RES-6: only the reserving staff, only before a match; the optional reason goes into the trail."""
    reason = (reason or "").strip()
    if len(reason) > WITHDRAW_REASON_MAX:
        raise ValidationError({"reason": [_("Keep the reason within %(n)d characters.") % {
            "n": WITHDRAW_REASON_MAX}]})
    with transaction.atomic():
        reservation = Reservation.objects.select_for_update().get(pk=reservation_id)
        refusal = reservation_withdraw_refusal(reservation, staff)
        if refusal:
            raise ValidationError(refusal)
        before = reservation.status
        reservation.status = ReservationStatus.WITHDRAWN
        reservation.save(update_fields=["status", "updated_at"])
        audit(actor=actor, action="reservation.withdraw", target=reservation,
              before={"status": before}, after={"status": reservation.status, "reason": reason})
    return reservation


def reservation_correct_name(*, actor, reservation_id: int, staff: Staff, customer_name: str) -> Reservation:
    """R-MATCH-2: the reserving staff corrects a flagged name; the opening is matched again next night."""
    name = clean_customer_name(customer_name)
    with transaction.atomic():
        reservation = Reservation.objects.select_for_update().get(pk=reservation_id)
        if reservation.staff_id != staff.pk:
            raise ValidationError(_("Only the staff member who registered a reservation may correct it."))
        if reservation.status != ReservationStatus.FLAGGED:
            raise ValidationError(_("Only a flagged reservation can be corrected."))
        before = {"status": reservation.status, "customer_name": reservation.customer_name}
        reservation.customer_name = name
        reservation.name_normalised = normalise_name(name)
        reservation.status = ReservationStatus.ACTIVE
        reservation.status_note, reservation.status_message = "", None
        reservation.save(update_fields=["customer_name", "name_normalised", "status", "status_note", "status_message",
                                        "updated_at"])
        audit(actor=actor, action="reservation.correct", target=reservation, before=before,
              after={"status": reservation.status, "customer_name": name})
        if reservation.matched_event_id:  # the opening is matched again by the next night (R-MATCH-2)
            event = AccountEvent.objects.select_for_update().get(pk=reservation.matched_event_id)
            previous = {"match_state": event.match_state, "match_outcome": event.match_outcome}
            event.match_state = MatchState.PENDING
            event.save(update_fields=["match_state"])
            audit(actor=actor, action="account_event.rematch", target=event, before=previous,
                  after={"match_state": event.match_state, "reservation": reservation.pk})
    return reservation
