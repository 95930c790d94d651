"""The unit's writes (§6), set-based: relationships with their shares and audit rows (one statement,
`relationships_create_bulk`), approval cases with claimants and steps (`cases_open_bulk`), claims joining open
cases, every reservation's outcome with its audit row (one statement) and the events marked done (one statement)."""
from __future__ import annotations

import datetime as dt
import json

from django.db import connection

from approvals.explanations import Code as ExplanationCode
from approvals.models import ApprovalCase
from approvals.services import cases_open_bulk
from common.actors import BATCH
from performance.adjusted import relationships_create_bulk_adjusted
from relationships.models import RelationshipType
from relationships.services import NewRelationship
from reservations.batch import ReservationOutcome, reservation_outcomes_apply
from reservations.matching.outcomes import UnitPlan
from reservations.models import ReservationStatus

_EVENTS_DONE_SQL = """
UPDATE relationships_accountevent e SET match_state = 'done', match_outcome = v.outcome, matched_on = %s
FROM jsonb_each_text(%s::jsonb) AS v(id, outcome) WHERE e.id = v.id::bigint
"""


def unit_write(plan: UnitPlan, event_ids: list[int], business_date: dt.date,
               types: dict[str, RelationshipType]) -> None:
    """Write what `unit_outcomes` decided, in the caller's transaction."""
    _relationships_write(plan)
    _cases_write(plan, types)
    if joined := plan.joins.write(actor=BATCH):
        plan.res_updates += joined
        plan.counts["joined_case"] += len(joined)
    reservation_outcomes_apply(actor=BATCH, outcomes=plan.res_updates, calendar_unknown=plan.calendar_unknown,
                               business_date=business_date)
    if plan.calendar_unknown:
        plan.counts["calendar_unknown"] += len(plan.calendar_unknown)
    _events_done(plan.outcome_of_event, event_ids, business_date)


def _relationships_write(plan: UnitPlan) -> None:
    """On-time matches (R-MATCH-1): the relationships, their shares as the reservations' participants, audited."""
    if not plan.new_rels:
        return
    participants = plan.participants
    rel_ids = relationships_create_bulk_adjusted(actor=BATCH, rows=[NewRelationship(
        customer_id=op.customer_id, type_code=op.type_code, effective_from=op.business_date, source="reservation",
        outlet_id=op.outlet_id, origin_event_id=op.event_id,
        shares=[(p.staff_id, p.ratio) for p in participants[c.reservation_id]],
        because={"reservation": c.reservation_id}) for op, c in plan.new_rels])
    plan.res_updates.extend(
        ReservationOutcome(c.reservation_id, ReservationStatus.MATCHED, "", op.event_id, rel_id, None)
        for rel_id, (op, c) in zip(rel_ids, plan.new_rels, strict=True))
    plan.counts["matched"] += len(rel_ids)


def _cases_write(plan: UnitPlan, types: dict[str, RelationshipType]) -> None:
    """Duplicates, late registrations, cross-region and always-approved types (R-MATCH-3/4/5, R-APR-5)."""
    new_cases, participants, joins = plan.new_cases, plan.participants, plan.joins
    res_updates, counts = plan.res_updates, plan.counts
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


def _events_done(outcome_of_event: dict[int, str], event_ids: list[int], business_date: dt.date) -> None:
    """Every event of the unit is done (R-MATCH-6): with its outcome, or `no_type` when no type matches its kind."""
    outcomes = dict(outcome_of_event)
    outcomes.update((event_id, "no_type") for event_id in event_ids if event_id not in outcome_of_event)
    with connection.cursor() as cur:
        cur.execute(_EVENTS_DONE_SQL, [business_date, json.dumps({str(k): v for k, v in outcomes.items()})])
