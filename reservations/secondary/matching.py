"""The nightly secondary matching (R-SEC-1/2/3/4): pre-assigned customers who reactivated by the rule of
their class become `SECONDARY_DEV` for the assignee.

As `reservations.matching`: units of active pre-assignments, one transaction per unit, one statement
reading every candidate of the unit, outcomes decided in memory, bulk writes. A re-run finds the
developed assignments gone and matched reservations no longer open (idempotent).
"""
from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from common import wording
from common.actors import BATCH
from performance.adjusted import relationships_create_bulk_adjusted
from performance.classification import SILENT_THRESHOLD
from performance.models import DailyMetric
from relationships.audit import audit_many
from relationships.identity import normalise_name
from relationships.models import RelationshipType, Staff
from relationships.services import NewRelationship
from relationships.types import secondary_type
from reservations.batch import ReservationOutcome, attach_problem, participants_of, reservation_outcomes_apply
from reservations.models import ReservationStatus

_UNIT_SQL = """
SELECT pa.id FROM relationships_preassignment pa
WHERE pa.status = 'active' AND pa.id > %s
  AND EXISTS (SELECT 1 FROM reservations_reservation r JOIN relationships_customer c ON c.id_hash = r.id_hash
              WHERE c.id = pa.customer_id AND r.type_id = %s AND r.staff_id = pa.staff_id
                AND r.status IN ('active', 'expired'))
ORDER BY pa.id LIMIT %s
"""

_EVENT_REACTIVATION = """
LEFT JOIN LATERAL (
    SELECT e.id, e.event_time, e.business_date, e.outlet_id, e.customer_name
    FROM relationships_accountevent e
    WHERE cc.kind IN ('lost', 'dormant') AND e.customer_id = pa.customer_id
      AND e.event_time > r.registered_at AND e.event_time > COALESCE(cc.since_at, '-infinity'::timestamptz)
      AND e.business_date <= LEAST(r.valid_until, %(d)s)
      AND ((cc.kind = 'lost'
            AND (e.kind = 'transfer_in_branch'
                 OR ((e.kind = 'designate' OR (e.kind = 'open' AND e.account_type = 'securities'))
                     AND e.business_date > (cc.since + interval '3 months')::date)))
        OR (cc.kind = 'dormant' AND e.kind IN ('activate', 'open')))
    ORDER BY e.event_time, e.id
    LIMIT 1
) ev ON true
"""

_METRIC_REACTIVATION = """
LEFT JOIN LATERAL (
    SELECT s.date FROM (
        SELECT m.date, sum(m.transfer_in) OVER w AS tin, sum(m.trade_count) OVER w AS trades
        FROM {metrics} m
        WHERE cc.kind = 'silent' AND m.customer_id = pa.customer_id
          AND m.date >= (r.registered_at AT TIME ZONE %(tz)s)::date AND m.date > cc.since
          AND m.date <= LEAST(r.valid_until, %(d)s)
        WINDOW w AS (ORDER BY m.date ROWS UNBOUNDED PRECEDING)
    ) s
    WHERE s.tin >= %(threshold)s AND s.trades >= 1
    ORDER BY s.date
    LIMIT 1
) sil ON true
"""

_CANDIDATES_SQL = """
SELECT pa.id, pa.customer_id, pa.staff_id, cc.kind, cc.outlet_id, c.name,
       r.id, r.name_normalised,
       ev.id, ev.event_time, ev.business_date, ev.outlet_id, ev.customer_name,
       {silent_date},
       EXISTS (SELECT 1 FROM relationships_relationship x
               WHERE x.customer_id = pa.customer_id AND x.type_id = %(sec)s AND x.effective_to IS NULL)
FROM relationships_preassignment pa
JOIN relationships_customerclass cc ON cc.id = pa.classification_id
JOIN relationships_customer c ON c.id = pa.customer_id
JOIN reservations_reservation r
  ON r.id_hash = c.id_hash AND r.type_id = %(sec)s AND r.staff_id = pa.staff_id
 AND r.status IN ('active', 'expired') AND r.valid_until >= cc.since
{event_join}
{metric_join}
WHERE pa.id = ANY(%(ids)s) AND pa.status = 'active'
ORDER BY pa.id, r.registered_at, r.id
"""


@dataclass
class Reactivation:
    assignment_id: int
    customer_id: int
    staff_id: int
    reservation_id: int
    on: dt.date
    event_id: int | None
    outlet_id: int | None
    name_ok: bool
    already_held: bool


def _after_unit_committed(units_done: int) -> None:
    """Seam for crash tests, as in `reservations.matching`."""


def secondary_match_pending(*, business_date: dt.date, chunk_size: int | None = None) -> Counter:
    """The nightly stage: reactivated pre-assigned customers become `SECONDARY_DEV` (R-SEC-1/2/3/4)."""
    size = chunk_size or settings.MATCH_CHUNK_SIZE
    totals: Counter = Counter()
    rel_type = secondary_type()
    last_id, units = 0, 0
    while True:
        with transaction.atomic():
            with connection.cursor() as cur:
                cur.execute(_UNIT_SQL, [last_id, rel_type.code, size])
                ids = [row[0] for row in cur.fetchall()]
            if not ids:
                break
            totals.update(_match_unit(ids, business_date, rel_type))
        last_id = ids[-1]
        units += 1
        _after_unit_committed(units)
    totals["lapsed"] = lapse_assignments(business_date=business_date)
    totals["units"] = units
    return totals


def _candidates(ids: list[int], business_date: dt.date) -> list[Reactivation]:
    params: dict[str, Any] = {"ids": ids, "d": business_date, "tz": settings.TIME_ZONE, "threshold": SILENT_THRESHOLD,
                              "sec": secondary_type().code}
    sql = _CANDIDATES_SQL.format(
        silent_date="sil.date", event_join=_EVENT_REACTIVATION,
        metric_join=_METRIC_REACTIVATION.format(metrics=DailyMetric._meta.db_table))
    found: dict[int, Reactivation] = {}
    with connection.cursor() as cur:
        cur.execute(sql, params)
        for (aid, cid, staff_id, _kind, class_outlet, cname, rid, rname, eid, _etime, edate, eoutlet, ename,
             sdate, held) in cur.fetchall():
            if aid in found:
                continue  # the earliest reservation that meets a reactivation wins
            if eid is not None:
                found[aid] = Reactivation(aid, cid, staff_id, rid, edate, eid, eoutlet,
                                          rname == normalise_name(ename), held)
            elif sdate is not None:
                found[aid] = Reactivation(aid, cid, staff_id, rid, sdate, None, class_outlet,
                                          rname == normalise_name(cname), held)
    return list(found.values())


def _match_unit(ids: list[int], business_date: dt.date, rel_type: RelationshipType) -> Counter:
    counts: Counter = Counter(assignments_read=len(ids))
    hits = _candidates(ids, business_date)
    if not hits:
        return counts
    participants = participants_of([h.reservation_id for h in hits], business_date)
    staff_outlets = dict(Staff.objects.filter(pk__in={h.staff_id for h in hits}).values_list("id", "outlet_id"))

    res_updates: list[ReservationOutcome] = []
    developed: list[tuple[Reactivation, int]] = []
    lapsed: list[int] = []
    new_rels: list[Reactivation] = []
    for h in hits:
        if h.already_held:
            res_updates.append(ReservationOutcome(h.reservation_id, ReservationStatus.REFUSED,
                                wording.Message(gettext_noop("The customer already holds this relationship type.")),
                                h.event_id, None, None))
            lapsed.append(h.assignment_id)
            counts["refused"] += 1
        elif not h.name_ok:
            res_updates.append(ReservationOutcome(h.reservation_id, ReservationStatus.FLAGGED, wording.Message(
                gettext_noop("The customer name differs from the customer's name at the reactivation on %(date)s."),
                {"date": h.on.isoformat()}), h.event_id, None, None))
            counts["flagged"] += 1
        else:
            refusal = attach_problem(participants[h.reservation_id], rel_type)
            if refusal:
                res_updates.append(ReservationOutcome(h.reservation_id, ReservationStatus.FLAGGED, refusal, h.event_id))
                counts["flagged"] += 1
            else:
                new_rels.append(h)

    if new_rels:
        rel_ids = relationships_create_bulk_adjusted(actor=BATCH, rows=[NewRelationship(
            customer_id=h.customer_id, type_code=rel_type.code, effective_from=h.on, source="secondary",
            outlet_id=h.outlet_id or staff_outlets.get(h.staff_id), origin_event_id=h.event_id,
            shares=[(p.staff_id, p.ratio) for p in participants[h.reservation_id]],
            because={"reservation": h.reservation_id, "preassignment": h.assignment_id}) for h in new_rels])
        for rel_id, h in zip(rel_ids, new_rels, strict=True):
            res_updates.append(ReservationOutcome(h.reservation_id, ReservationStatus.MATCHED, "", h.event_id, rel_id))
            developed.append((h, rel_id))
        counts["matched"] += len(rel_ids)

    reservation_outcomes_apply(actor=BATCH, outcomes=res_updates)
    now = timezone.now()
    with connection.cursor() as cur:
        if developed:
            cur.execute("""
                UPDATE relationships_preassignment pa SET status = 'developed', relationship_id = v.rel_id,
                       ended_at = %s
                FROM unnest(%s::bigint[], %s::bigint[]) AS v(id, rel_id) WHERE pa.id = v.id""",
                        [now, [h.assignment_id for h, _r in developed], [r for _h, r in developed]])
        if lapsed:
            cur.execute("UPDATE relationships_preassignment SET status = 'lapsed', ended_at = %s, end_note = %s "
                        "WHERE id = ANY(%s)", [now, _("The customer already holds a secondary development "
                                                      "relationship."), lapsed])
    audit_many(actor=BATCH, action="preassignment.outcome", model_label="relationships.preassignment", rows=[
        (h.assignment_id, {"status": "active"}, {"status": "developed", "relationship": r}) for h, r in developed
    ] + [(i, {"status": "active"}, {"status": "lapsed"}) for i in lapsed])
    return counts


def lapse_assignments(*, business_date: dt.date) -> int:
    """Active pre-assignments whose customer is no longer lost / dormant / silent and whose assignee has no
    open secondary reservation for him lapse (the customer came back on his own)."""
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("""
            UPDATE relationships_preassignment pa SET status = 'lapsed', ended_at = now(), end_note = %s
            WHERE pa.status = 'active'
              AND NOT EXISTS (SELECT 1 FROM relationships_customerclass c
                              WHERE c.customer_id = pa.customer_id AND c.ended_on IS NULL)
              AND NOT EXISTS (SELECT 1 FROM reservations_reservation r
                              JOIN relationships_customer cu ON cu.id_hash = r.id_hash
                              WHERE cu.id = pa.customer_id AND r.type_id = %s
                                AND r.staff_id = pa.staff_id AND r.status IN ('active', 'flagged'))
            RETURNING pa.id""", [_("The customer is no longer lost, dormant or silent."), secondary_type().code])
        ids = [row[0] for row in cur.fetchall()]
        audit_many(actor=BATCH, action="preassignment.lapse", model_label="relationships.preassignment",
                   rows=[(i, {"status": "active"}, {"status": "lapsed", "on": business_date.isoformat()})
                         for i in ids])
    return len(ids)
