"""Reservations joining the customer's conflict case (R-MATCH-3), from the nightly batch and from registration.

The case, its claimants and its routing live in `approvals.conflicts`; this module turns reservations into claims:
the batch's unit collects them (an open case found by the candidates' query, or a case the unit itself opens for
the same customer and type) and writes them with a fixed number of statements; registration joins a late claim
under the case's row lock, or opens the late case — and when another registration opened it a moment earlier
(the partial unique index answers), joins that one instead.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from approvals.conflicts import Claim, claims_join
from approvals.models import CLAIM_REASONS, OPEN_CASE_STATUSES, ApprovalCase
from relationships.workdays import calendar_unknown_note, late_window, workdays_between
from reservations.batch import ReservationOutcome
from reservations.models import ReservationStatus


class CaseMovedOn(RuntimeError):
    """A case the unit meant to join was decided meanwhile: the unit is rolled back and retried event by event."""


class UnitClaims:
    """The claims of one matching unit that join a case instead of opening one (R-MATCH-3)."""

    def __init__(self, participants: dict[int, list]):
        self.participants = participants
        self.late: dict[int, int] = {}
        self._days: dict[tuple[dt.date, dt.date], int] = {}
        self.to_open_case: dict[int, list[Any]] = defaultdict(list)
        self.unit_case: dict[tuple[int, str], list[Any]] = {}
        self.event_of: dict[int, int] = {}

    def lateness(self, op, valid: Sequence, late_ids: set[int]) -> None:
        for c in valid:
            if c.reservation_id in late_ids:
                key = (op.business_date, timezone.localtime(c.registered_at).date())
                if key not in self._days:
                    self._days[key] = workdays_between(*key)
                self.late[c.reservation_id] = self._days[key]

    def joins_open_case(self, op, valid: list, late_ids: set[int]) -> bool:
        """Note each claim's lateness; True when `valid` joins a case: the customer's open one, or the one this unit
        opens for him."""
        self.lateness(op, valid, late_ids)
        if op.open_case_id:
            self.to_open_case[op.open_case_id] += valid
            self.event_of.update({c.reservation_id: op.event_id for c in valid})
            return True
        key = (op.customer_id, op.type_code)
        if key in self.unit_case:
            self.unit_case[key] += [c for c in valid if c.staff_id not in {x.staff_id for x in self.unit_case[key]}]
            return True
        return False

    def opened(self, op, valid: list) -> None:
        self.unit_case[(op.customer_id, op.type_code)] = valid

    def claims(self, valid: Sequence) -> list[Claim]:
        return [Claim(staff_id=c.staff_id, registered_at=c.registered_at, reservation_id=c.reservation_id,
                      late_workdays=self.late.get(c.reservation_id),
                      shares=[{"staff_id": p.staff_id, "ratio": str(p.ratio)}
                              for p in self.participants.get(c.reservation_id, [])]) for c in valid]

    def write(self, *, actor) -> list[ReservationOutcome]:
        """Join the open cases (locked, in id order); their reservations go to approval with them."""
        if not self.to_open_case:
            return []
        open_ids = set(ApprovalCase.objects.select_for_update(of=("self",)).filter(
            pk__in=self.to_open_case, status__in=OPEN_CASE_STATUSES).order_by("pk").values_list("pk", flat=True))
        if open_ids != set(self.to_open_case):
            raise CaseMovedOn("a conflict case was decided while the unit was matched")
        claims_join(actor=actor, joins={pk: self.claims(valid) for pk, valid in self.to_open_case.items()})
        return [ReservationOutcome(c.reservation_id, ReservationStatus.PENDING_APPROVAL, "",
                                   self.event_of.get(c.reservation_id), None, pk)
                for pk, valid in self.to_open_case.items() for c in valid]


def claim_of(reservation, shares: Sequence[dict], opening_date: dt.date | None,
             opening_time: dt.datetime | None) -> Claim:
    late = None
    if opening_date is not None and (opening_time is None or reservation.registered_at >= opening_time):
        late = workdays_between(opening_date, timezone.localtime(reservation.registered_at).date())
    return Claim(staff_id=reservation.staff_id, registered_at=reservation.registered_at, shares=list(shares),
                 reservation_id=reservation.pk, late_workdays=late)


def open_claim_case(*, id_hashes: Sequence[str], type_code: str, registered_at: dt.datetime) -> ApprovalCase | None:
    """The customer's open conflict case, locked; a registration after its late window is refused (R-MATCH-4)."""
    case = (ApprovalCase.objects.in_progress().select_for_update(of=("self",)).select_related("opening_event")
            .filter(customer__id_hash__in=list(id_hashes), type_id=type_code, reason__in=CLAIM_REASONS)
            .order_by("pk").first())
    if case is None or case.opening_date is None:
        return case
    window = late_window(case.opening_date)
    if timezone.localtime(registered_at).date() > window.day:
        message = _("The account was opened on %(opened)s; a late reservation had to be registered by the end of "
                    "%(deadline)s (7 working days).") % {"opened": case.opening_date, "deadline": window.day}
        if window.calendar_unknown:
            message += " " + calendar_unknown_note(window)
        raise ValidationError({"id_number": [message]})
    return case


def join_case(*, actor, case: ApprovalCase, reservation, shares: Sequence[dict]) -> ApprovalCase:
    """The reservation joins the (locked, open) case and waits for its decision."""
    claims_join(actor=actor, joins={case.pk: [claim_of(reservation, shares, case.opening_date, case.opening_event
                                                       .event_time if case.opening_event else None)]})
    reservation.status = ReservationStatus.PENDING_APPROVAL
    reservation.approval_case = case
    reservation.matched_event_id = case.opening_event_id
    reservation.save(update_fields=["status", "approval_case", "matched_event", "updated_at"])
    return case


def open_or_join(*, actor, open_case, reservation, shares: Sequence[dict], id_hashes: Sequence[str]) -> ApprovalCase:
    """Open the late case (`open_case()`); if another registration opened the customer's case a moment earlier,
    the partial unique index refuses the second and this claim joins the first (R-MATCH-3)."""
    try:
        with transaction.atomic():
            return open_case()
    except IntegrityError as exc:
        if "approval_case_one_open_claim" not in str(exc):
            raise
    case = open_claim_case(id_hashes=id_hashes, type_code=reservation.type_id, registered_at=reservation.registered_at)
    if case is None:  # decided in the meantime: let the caller's retry see the new state
        raise ValidationError({"id_number": [_("The approval case for this customer changed while you registered; "
                                               "please submit again.")]})
    return join_case(actor=actor, case=case, reservation=reservation, shares=shares)
