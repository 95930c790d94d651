"""The unit's outcomes decided in memory (R-MATCH-1..5): which reservation is matched, flagged, refused or sent
to approval, and why — on the rows `select` read, before anything is written."""
from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from approvals.models import CaseReason
from common import wording
from relationships.models import RelationshipType
from relationships.workdays import WorkdayCount, calendar_unknown_note, late_window
from reservations.batch import Participant, ReservationOutcome, attach_problem, participants_of
from reservations.claims import UnitClaims
from reservations.matching.select import Candidate, Key, Opening
from reservations.models import ReservationStatus


@dataclass
class UnitPlan:
    """Everything one unit will write: reservation outcomes decided so far, the relationships and cases to create
    (their reservations' outcomes follow once their ids are known), claims joining cases, each event's outcome."""

    participants: dict[int, list[Participant]]
    joins: UnitClaims
    counts: Counter = field(default_factory=Counter)
    res_updates: list[ReservationOutcome] = field(default_factory=list)
    new_rels: list[tuple[Opening, Candidate]] = field(default_factory=list)
    new_cases: list[tuple[Opening, CaseReason, list[Candidate], str, dict]] = field(default_factory=list)
    outcome_of_event: dict[int, str] = field(default_factory=dict)
    calendar_unknown: set[int] = field(default_factory=set)  # R-CAL-1: late windows counted Monday–Friday


def _record_weak_outcome(outcome_of_event: dict[int, str], event_id: int, outcome: str) -> None:
    """An opening tried under several types (securities: BROKER_DEV, then NEW_DEV): an empty type never hides
    what another found. "no_reservation" replaces nothing, "flagged" only "no_reservation"."""
    rank, current = {"no_reservation": 0, "flagged": 1}, outcome_of_event.get(event_id)
    if current is None or rank.get(current, 2) < rank[outcome]:
        outcome_of_event[event_id] = outcome


def unit_outcomes(openings: dict[Key, Opening], candidates: dict[Key, list[Candidate]], business_date: dt.date,
                  types: dict[str, RelationshipType]) -> UnitPlan:
    """Decide the unit exactly as one-by-one processing would (R-MATCH-6, whatever MATCH_CHUNK_SIZE is)."""
    participants = participants_of([c.reservation_id for cs in candidates.values() for c in cs], business_date)
    plan = UnitPlan(participants=participants, joins=UnitClaims(participants))
    counts, res_updates, new_rels, new_cases = plan.counts, plan.res_updates, plan.new_rels, plan.new_cases
    joins, outcome_of_event, calendar_unknown = plan.joins, plan.outcome_of_event, plan.calendar_unknown

    deadlines: dict[dt.date, WorkdayCount] = {}

    # The unit must decide exactly as one-by-one processing would (R-MATCH-6, whatever MATCH_CHUNK_SIZE is):
    # openings are taken in the pending order, a reservation decided by an earlier opening of the unit is no
    # longer a candidate, and a relationship created earlier in the unit makes the customer hold the type.
    held = {(op.customer_id, op.type_code) for op in openings.values() if op.already_held}
    decided: set[int] = set()

    for key, op in openings.items():
        rt = types[op.type_code]
        cands = [c for c in candidates.get(key, []) if c.reservation_id not in decided]
        if (op.customer_id, op.type_code) in held:
            decided.update(c.reservation_id for c in cands)
            for c in cands:
                res_updates.append(ReservationOutcome(c.reservation_id, ReservationStatus.REFUSED,
                                    wording.Message(gettext_noop("The customer already holds this relationship type.")),
                                    op.event_id, None, None))
            counts["refused"] += len(cands)
            outcome_of_event[op.event_id] = "already_held"
            continue
        if not cands:
            _record_weak_outcome(outcome_of_event, op.event_id, "no_reservation")
            continue
        if op.business_date not in deadlines:
            deadlines[op.business_date] = late_window(op.business_date)
        window = deadlines[op.business_date]
        deadline = window.day
        valid: list[Candidate] = []
        late_ids: set[int] = set()
        for c in cands:
            on_time = c.registered_at < op.event_time and op.business_date <= c.valid_until
            late = c.registered_at >= op.event_time
            if not on_time and not late:
                continue  # not this opening's: it stays a candidate for a later one
            decided.add(c.reservation_id)  # refused, flagged, matched or sent to approval below
            if late and window.calendar_unknown:
                calendar_unknown.add(c.reservation_id)
            if late and timezone.localtime(c.registered_at).date() > deadline:
                res_updates.append(ReservationOutcome(c.reservation_id, ReservationStatus.REFUSED, wording.Message(
                    gettext_noop("Registered after the late-registration deadline %(deadline)s."),
                    {"deadline": deadline.isoformat()}), op.event_id, None, None))
                counts["refused"] += 1
                continue
            if c.name_normalised != op.name_normalised:
                res_updates.append(ReservationOutcome(c.reservation_id, ReservationStatus.FLAGGED, wording.Message(
                    gettext_noop("The customer name differs from the name on the account opened on %(date)s."),
                    {"date": op.business_date.isoformat()}), op.event_id, None, None))
                counts["flagged"] += 1
                continue
            refusal = attach_problem(participants[c.reservation_id], rt)
            if refusal:
                res_updates.append(ReservationOutcome(c.reservation_id, ReservationStatus.FLAGGED, refusal,
                                                      op.event_id))
                counts["flagged"] += 1
                continue
            valid.append(c)
            if late:
                late_ids.add(c.reservation_id)
        if not valid:
            any_decided = any(u.event_id == op.event_id for u in res_updates)
            _record_weak_outcome(outcome_of_event, op.event_id, "flagged" if any_decided else "no_reservation")
            continue
        # R-MATCH-3 counts staff, not rows: an expired and a newer reservation of one staff are one claim.
        by_staff: dict[int, Candidate] = {}
        for c in valid:
            if c.staff_id in by_staff:
                res_updates.append(ReservationOutcome(c.reservation_id, ReservationStatus.REFUSED, wording.Message(
                    gettext_noop("Superseded by the same staff member's earlier reservation.")), op.event_id, None,
                    None))
                counts["refused"] += 1
            else:
                by_staff[c.staff_id] = c
        valid = list(by_staff.values())
        late_ids &= {c.reservation_id for c in valid}
        if joins.joins_open_case(op, valid, late_ids):
            outcome_of_event[op.event_id] = "case_joined"
            continue
        # The case's explanation as a code and its facts, put in words when read (approvals.explanations).
        facts: dict = {"staff_ids": [c.staff_id for c in valid]}
        if len(valid) > 1:
            reason, why = CaseReason.DUPLICATE, _(
                "%(n)d staff reserved the same customer for the same type. [R-MATCH-3]") % {"n": len(valid)}
        elif late_ids:
            reason, why = CaseReason.LATE, _(
                "Registered %(when)s, after the account was opened on %(opened)s (deadline %(deadline)s). "
                "[R-MATCH-4]") % {"when": timezone.localtime(valid[0].registered_at).strftime("%Y-%m-%d %H:%M"),
                                  "opened": op.business_date, "deadline": deadline}
            facts.update(registered=timezone.localtime(valid[0].registered_at).isoformat(),
                         deadline=deadline.isoformat(), calendar_unknown_years=list(window.unknown_years))
            if window.calendar_unknown:
                why += " " + calendar_unknown_note(window)
        elif rt.chain_always == "broker":
            reason, why = CaseReason.BROKER, _(
                "Broker development always needs the 3-level approval and the signed documents. [R-APR-5]")
        elif rt.chain_always:  # R-TYPE-2: a type HQ set to be always approved, on the chain its row names
            reason, why = CaseReason.BROKER, _("%(type)s always goes through approval.") % {"type": rt.name}
        elif rt.cross_region_check and any(p.branch_id != op.branch_id for p in participants[valid[0].reservation_id]):
            reason, why = CaseReason.CROSS_REGION, _(
                "A developer's branch differs from the branch of the opening outlet. [R-MATCH-5]")
        else:
            new_rels.append((op, valid[0]))
            held.add((op.customer_id, op.type_code))
            outcome_of_event[op.event_id] = "matched"
            continue
        joins.opened(op, valid)
        new_cases.append((op, reason, valid, why, facts))
        outcome_of_event[op.event_id] = f"case_{reason}"
    return plan
