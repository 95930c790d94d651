"""The nightly matching (§6): openings → relationships, approval cases, flags.

Work is done in units of `MATCH_CHUNK_SIZE` pending opening events. Each unit is
one transaction: a handful of set-based statements read every candidate of the
unit, the outcomes are decided in memory, and bulk statements write them and
mark the unit's events done. A crash loses at most the unit in flight, and a
re-run picks up exactly the events still pending (R-MATCH-6).
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter, defaultdict
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from approvals.explanations import Code as ExplanationCode
from approvals.models import CLAIM_REASONS, OPEN_CASE_STATUSES, ApprovalCase, CaseReason
from approvals.services import cases_open_bulk
from common.actors import BATCH
from performance.adjusted import relationships_create_bulk_adjusted
from relationships.audit import audit_many
from relationships.identity import normalise_name
from relationships.models import RelationshipType
from relationships.services import NewRelationship
from relationships.workdays import WorkdayCount, calendar_unknown_note, late_window
from reservations.batch import ReservationOutcome, attach_problem, participants_of, reservation_outcomes_apply
from reservations.claims import UnitClaims
from reservations.models import ReservationStatus

log = logging.getLogger(__name__)

_CANDIDATES_SQL = """
SELECT e.id, e.event_time, e.business_date, e.customer_name, e.outlet_id, ob.branch_id,
       e.customer_id, rt.code,
       r.id, r.staff_id, r.registered_at, r.valid_until, r.name_normalised, r.status,
       EXISTS (SELECT 1 FROM relationships_relationship x
               WHERE x.customer_id = e.customer_id AND x.type_id = rt.code AND x.effective_to IS NULL),
       (SELECT a.id FROM approvals_approvalcase a  -- R-MATCH-3: the open conflict case a claim joins
        WHERE a.customer_id = e.customer_id AND a.type_id = rt.code AND a.status = ANY(%s) AND a.reason = ANY(%s))
FROM relationships_accountevent e
JOIN relationships_organisation ob ON ob.id = e.outlet_id
JOIN relationships_customer c ON c.id = e.customer_id
JOIN relationships_relationshiptype rt
  ON rt.match_event_kind = e.kind AND rt.match_account_type = e.account_type
 AND (rt.match_customer = 'any'
      OR (rt.match_customer = 'new' AND NOT e.existing_customer)
      OR (rt.match_customer = 'existing' AND e.existing_customer))
 AND (NOT rt.match_first_only OR e.first_of_kind)
LEFT JOIN reservations_reservation r
  ON r.id_hash = c.id_hash AND r.type_id = rt.code
 AND (r.status = 'active' OR (r.status = 'expired' AND r.valid_until >= e.business_date))
WHERE e.id = ANY(%s)
ORDER BY e.business_date, e.id, rt.code, r.registered_at, r.id
"""

@dataclass
class Candidate:
    reservation_id: int
    staff_id: int
    registered_at: dt.datetime
    valid_until: dt.date
    name_normalised: str
    status: str


@dataclass
class Opening:
    event_id: int
    event_time: dt.datetime
    business_date: dt.date
    name_normalised: str
    outlet_id: int
    branch_id: int
    customer_id: int
    type_code: str
    already_held: bool
    open_case_id: int | None = None


def _after_unit_committed(units_done: int) -> None:
    """Seam for the crash-safety test: it raises here to kill the run between units."""


def _pending_unit(business_date: dt.date, size: int) -> list[int]:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT id FROM relationships_accountevent WHERE match_state = 'pending' AND business_date <= %s "
            "ORDER BY business_date, id LIMIT %s FOR UPDATE SKIP LOCKED", [business_date, size])
        return [row[0] for row in cur.fetchall()]


def _set_aside_events(business_date: dt.date) -> list[int]:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT id FROM relationships_accountevent WHERE match_state = 'failed' AND business_date <= %s "
            "ORDER BY business_date, id FOR UPDATE SKIP LOCKED", [business_date])
        return [row[0] for row in cur.fetchall()]


def match_pending_events(*, business_date: dt.date, chunk_size: int | None = None, on_unit=None) -> Counter:
    """Match every pending opening dated on or before `business_date`, one unit per transaction.

    A unit that fails on a row nobody foresaw is rolled back and retried event by event, so one bad event is
    set aside with its error (`match_state = failed`) and the rest of the night goes on; set-aside events are
    retried, each alone, at the start of every later run.
    `on_unit(totals)` is told the running totals after each committed unit (the ledger's progress).
    `MATCH_UNIT_PAUSE_SECONDS` throttles a daytime re-run between units.
    """
    size = chunk_size or settings.MATCH_CHUNK_SIZE
    pause = settings.MATCH_UNIT_PAUSE_SECONDS
    totals: Counter = Counter()
    types = {t.code: t for t in RelationshipType.objects.all()}
    units = 0
    with transaction.atomic():  # what earlier runs set aside comes first: it is older than anything pending
        retried = _set_aside_events(business_date)
        if retried:
            totals.update(_match_each(retried, business_date, types))
            totals["set_aside_retried"] += len(retried)
    while True:
        with transaction.atomic():
            event_ids = _pending_unit(business_date, size)
            if not event_ids:
                break
            totals.update(_match_unit_or_each(event_ids, business_date, types))
        units += 1
        if on_unit is not None:
            on_unit(dict(totals, units=units))
        _after_unit_committed(units)
        if pause:
            time.sleep(pause)
    totals["units"] = units
    return totals


def _match_unit_or_each(event_ids: list[int], business_date: dt.date, types: dict[str, RelationshipType]) -> Counter:
    try:
        with transaction.atomic():
            return _match_unit(event_ids, business_date, types)
    except Exception:
        log.exception("a matching unit of %d events failed; retrying them one by one", len(event_ids))
        return _match_each(event_ids, business_date, types)


def _match_each(event_ids: list[int], business_date: dt.date, types: dict[str, RelationshipType]) -> Counter:
    """Each event in its own savepoint: the one that still fails is set aside with its error."""
    counts: Counter = Counter()
    for event_id in event_ids:
        try:
            with transaction.atomic():
                counts.update(_match_unit([event_id], business_date, types))
        except Exception as exc:
            log.exception("account event %s set aside: it fails to match on its own", event_id)
            error = f"{exc.__class__.__name__}: {exc}"[:2000]
            with connection.cursor() as cur:
                cur.execute(
                    "UPDATE relationships_accountevent SET match_state = 'failed', match_outcome = 'set_aside', "
                    "match_error = %s, matched_on = %s WHERE id = %s",
                    [error, business_date, event_id])
            audit_many(actor=BATCH, action="account_event.set_aside", model_label="relationships.accountevent",
                       rows=[(event_id, None, {"match_state": "failed", "error": error,
                                               "business_date": business_date.isoformat()})])
            counts["events_read"] += 1
            counts["set_aside"] += 1
    return counts


def _record_weak_outcome(outcome_of_event: dict[int, str], event_id: int, outcome: str) -> None:
    """An opening tried under several types (securities: BROKER_DEV, then NEW_DEV): an empty type never hides
    what another found. "no_reservation" replaces nothing, "flagged" only "no_reservation"."""
    rank, current = {"no_reservation": 0, "flagged": 1}, outcome_of_event.get(event_id)
    if current is None or rank.get(current, 2) < rank[outcome]:
        outcome_of_event[event_id] = outcome


def _match_unit(event_ids: list[int], business_date: dt.date, types: dict[str, RelationshipType]) -> Counter:
    counts: Counter = Counter(events_read=len(event_ids))
    openings: dict[tuple[int, str], Opening] = {}
    candidates: dict[tuple[int, str], list[Candidate]] = defaultdict(list)
    with connection.cursor() as cur:
        cur.execute(_CANDIDATES_SQL, [list(OPEN_CASE_STATUSES), list(CLAIM_REASONS), event_ids])
        for (eid, etime, bdate, ename, outlet_id, branch_id, customer_id, code,
             rid, staff_id, reg_at, valid_until, rname, rstatus, held, open_case) in cur.fetchall():
            key = (eid, code)
            if key not in openings:
                openings[key] = Opening(eid, etime, bdate, normalise_name(ename), outlet_id, branch_id, customer_id,
                                        code, held, open_case)
            if rid is not None:
                candidates[key].append(Candidate(rid, staff_id, reg_at, valid_until, rname, rstatus))

    participants = participants_of([c.reservation_id for cs in candidates.values() for c in cs], business_date)

    deadlines: dict[dt.date, WorkdayCount] = {}
    calendar_unknown: set[int] = set()  # R-CAL-1: reservations decided on a late window counted Monday–Friday
    res_updates: list[ReservationOutcome] = []
    new_rels: list[tuple[Opening, Candidate]] = []
    new_cases: list[tuple[Opening, CaseReason, list[Candidate], str, dict]] = []
    joins = UnitClaims(participants)  # R-MATCH-3: claims joining an open case, or the unit's own new case
    outcome_of_event: dict[int, str] = {}

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
                                    _("The customer already holds this relationship type."), op.event_id, None, None))
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
                res_updates.append(ReservationOutcome(c.reservation_id, ReservationStatus.REFUSED, _(
                    "Registered after the late-registration deadline %(deadline)s.")
                    % {"deadline": deadline}, op.event_id, None, None))
                counts["refused"] += 1
                continue
            if c.name_normalised != op.name_normalised:
                res_updates.append(ReservationOutcome(c.reservation_id, ReservationStatus.FLAGGED, _(
                    "The customer name differs from the name on the account opened on %(date)s.")
                    % {"date": op.business_date}, op.event_id, None, None))
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
                res_updates.append(ReservationOutcome(c.reservation_id, ReservationStatus.REFUSED, _(
                    "Superseded by the same staff member's earlier reservation."), op.event_id, None, None))
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

    # --- writes: relationships and shares ---
    if new_rels:
        rels = relationships_create_bulk_adjusted(actor=BATCH, rows=[NewRelationship(
            customer_id=op.customer_id, type_code=op.type_code, effective_from=op.business_date, source="reservation",
            outlet_id=op.outlet_id, origin_event_id=op.event_id,
            shares=[(p.staff_id, p.ratio) for p in participants[c.reservation_id]],
            because={"reservation": c.reservation_id}) for op, c in new_rels])
        for rel, (op, c) in zip(rels, new_rels, strict=True):
            res_updates.append(ReservationOutcome(c.reservation_id, ReservationStatus.MATCHED, "", op.event_id,
                                                  rel.pk, None))
        counts["matched"] += len(rels)

    # --- writes: approval cases ---
    if new_cases:
        cases: list[ApprovalCase] = []
        for op, reason, valid, why, facts in new_cases:
            first = valid[0]
            cases.append(ApprovalCase(
                reason=reason, type=types[op.type_code], customer_id=op.customer_id,
                proposed_shares=[{"staff_id": p.staff_id, "ratio": str(p.ratio)}
                                 for p in participants[first.reservation_id]],
                opening_event_id=op.event_id, opening_date=op.business_date, opening_outlet_id=op.outlet_id,
                branch_id=op.branch_id, applicant_id=first.staff_id, explanation=why,
                explanation_code=ExplanationCode.BY_REASON[reason], explanation_params=facts,
                dedupe_key=f"{reason}:event:{op.event_id}:{op.type_code}"))
        created = cases_open_bulk(actor=BATCH, cases=cases,
                                  claims=[joins.claims(v) for _o, _r, v, _w, _f in new_cases])
        for case, (op, _reason, valid, _why, _facts) in zip(created, new_cases, strict=True):
            for c in valid:
                res_updates.append(ReservationOutcome(c.reservation_id, ReservationStatus.PENDING_APPROVAL, "",
                                                      op.event_id, None, case.pk))
        counts["sent_to_approval"] += len(created)
    if joined := joins.write(actor=BATCH):
        res_updates += joined
        counts["joined_case"] += len(joined)

    reservation_outcomes_apply(actor=BATCH, outcomes=res_updates, calendar_unknown=calendar_unknown,
                               business_date=business_date)
    if calendar_unknown:
        counts["calendar_unknown"] += len(calendar_unknown)
    with connection.cursor() as cur:
        ids = list(outcome_of_event)
        cur.execute(
            "UPDATE relationships_accountevent e SET match_state = 'done', match_outcome = v.outcome, "
            "matched_on = %s FROM unnest(%s::bigint[], %s::text[]) AS v(id, outcome) WHERE e.id = v.id",
            [business_date, ids, [outcome_of_event[i] for i in ids]])
        rest = sorted(set(event_ids) - set(ids))
        if rest:  # events of a kind no type matches
            cur.execute("UPDATE relationships_accountevent SET match_state = 'done', match_outcome = 'no_type', "
                        "matched_on = %s WHERE id = ANY(%s)", [business_date, rest])
    return counts


def expire_reservations(*, business_date: dt.date) -> int:
    """R-MATCH-8: reservations past validity without a match."""
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("UPDATE reservations_reservation SET status = 'expired', updated_at = now() "
                    "WHERE status = 'active' AND valid_until < %s RETURNING id", [business_date])
        ids = [row[0] for row in cur.fetchall()]
        audit_many(actor=BATCH, action="reservation.expire", model_label="reservations.reservation",
                   rows=[(i, {"status": "active"}, {"status": "expired"}) for i in ids])
    return len(ids)
