"""What a matching unit reads (§6): its openings, each under every type it can open, with their candidate
reservations, in one statement; the unit's pending and set-aside events, locked."""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from django.db import connection

from approvals.models import CLAIM_REASONS, OPEN_CASE_STATUSES
from relationships.identity import normalise_name

# The unit's events are read with their outlet's branch first (MATERIALIZED): joined inside the main statement,
# the planner, expecting a couple of rows from the events × types join, looped the organisations against every
# row (3M comparisons a 5,000-event unit, most of the statement's time).
_CANDIDATES_SQL = """
WITH e AS MATERIALIZED (
    SELECT e.id, e.event_time, e.business_date, e.customer_name, e.outlet_id, ob.branch_id, e.customer_id, e.kind,
           e.account_type, e.existing_customer, e.first_of_kind
    FROM relationships_accountevent e JOIN relationships_organisation ob ON ob.id = e.outlet_id
    WHERE e.id = ANY(%s))
SELECT e.id, e.event_time, e.business_date, e.customer_name, e.outlet_id, e.branch_id,
       e.customer_id, rt.code,
       r.id, r.staff_id, r.registered_at, r.valid_until, r.name_normalised, r.status,
       EXISTS (SELECT 1 FROM relationships_relationship x
               WHERE x.customer_id = e.customer_id AND x.type_id = rt.code AND x.effective_to IS NULL),
       (SELECT a.id FROM approvals_approvalcase a  -- R-MATCH-3: the open conflict case a claim joins
        WHERE a.customer_id = e.customer_id AND a.type_id = rt.code AND a.status = ANY(%s) AND a.reason = ANY(%s))
FROM e
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


Key = tuple[int, str]  # (event id, type code): one opening under one type


def unit_candidates(event_ids: list[int]) -> tuple[dict[Key, Opening], dict[Key, list[Candidate]]]:
    """The unit's openings in the pending order, and each one's candidate reservations (registered_at, id)."""
    openings: dict[Key, Opening] = {}
    candidates: dict[Key, list[Candidate]] = defaultdict(list)
    with connection.cursor() as cur:
        cur.execute(_CANDIDATES_SQL, [event_ids, list(OPEN_CASE_STATUSES), list(CLAIM_REASONS)])
        for (eid, etime, bdate, ename, outlet_id, branch_id, customer_id, code,
             rid, staff_id, reg_at, valid_until, rname, rstatus, held, open_case) in cur.fetchall():
            key = (eid, code)
            if key not in openings:
                openings[key] = Opening(eid, etime, bdate, normalise_name(ename), outlet_id, branch_id, customer_id,
                                        code, held, open_case)
            if rid is not None:
                candidates[key].append(Candidate(rid, staff_id, reg_at, valid_until, rname, rstatus))
    return openings, candidates


def pending_unit(business_date: dt.date, size: int) -> list[int]:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT id FROM relationships_accountevent WHERE match_state = 'pending' AND business_date <= %s "
            "ORDER BY business_date, id LIMIT %s FOR UPDATE SKIP LOCKED", [business_date, size])
        return [row[0] for row in cur.fetchall()]


def set_aside_events(business_date: dt.date) -> list[int]:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT id FROM relationships_accountevent WHERE match_state = 'failed' AND business_date <= %s "
            "ORDER BY business_date, id FOR UPDATE SKIP LOCKED", [business_date])
        return [row[0] for row in cur.fetchall()]
