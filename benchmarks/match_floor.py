"""The floor of the nightly matching (§6) for benchmarks/match.py: hand-written set-based SQL writing the same rows
as `reservations.matching.match_pending_events` — relationships, shares, audit rows, approval cases with their
claimants and steps, reservation and event statuses — in one transaction, with no per-row work in Python.

It is a reference point, not product code. Its limits, checked (`FloorUnsupported`) rather than assumed: one
pending opening per customer and type (no reservation competes for two openings), no open conflict case to join,
and no chain ending at HQ that gains confirmations (special new). The fingerprint (`fingerprint`) compares what a
run wrote, ids of new rows replaced by their business keys, so two copies of one database can be compared.
"""
from __future__ import annotations

import datetime as dt
import time

from django.db import connection, transaction
from django.utils.translation import gettext as _

from common.actors import BATCH, actor_label
from relationships.workdays import LATE_WINDOW_WORKDAYS, _is_workday, _overrides, calendar_unknown_note, late_window


class FloorUnsupported(RuntimeError):
    """The data has a case the floor does not write (it would not produce the product's rows)."""


NORM = "lower(regexp_replace(normalize({0}, NFKC), '\\s', '', 'g'))"

PAIRS = f"""
CREATE TEMP TABLE f_pair ON COMMIT DROP AS
SELECT e.id AS event_id, e.event_time, e.business_date, e.outlet_id, ob.branch_id, e.customer_id, c.id_hash,
       rt.code AS type_code, {NORM.format('e.customer_name')} AS ename,
       EXISTS (SELECT 1 FROM relationships_relationship x
               WHERE x.customer_id = e.customer_id AND x.type_id = rt.code AND x.effective_to IS NULL) AS held,
       EXISTS (SELECT 1 FROM approvals_approvalcase a WHERE a.customer_id = e.customer_id AND a.type_id = rt.code
               AND a.status IN ('pending', 'returned')
               AND a.reason IN ('late', 'duplicate', 'cross_region', 'broker', 'special_new')) AS open_case,
       rt.chain_always, rt.chain_late, rt.cross_region_check, rt.qualification, rt.holder_kinds
FROM relationships_accountevent e
JOIN relationships_organisation ob ON ob.id = e.outlet_id
JOIN relationships_customer c ON c.id = e.customer_id
JOIN relationships_relationshiptype rt
  ON rt.match_event_kind = e.kind AND rt.match_account_type = e.account_type
 AND (rt.match_customer = 'any' OR (rt.match_customer = 'new' AND NOT e.existing_customer)
      OR (rt.match_customer = 'existing' AND e.existing_customer))
 AND (NOT rt.match_first_only OR e.first_of_kind)
WHERE e.match_state = 'pending' AND e.business_date <= %(d)s;
"""

CANDS = """
CREATE TEMP TABLE f_cand ON COMMIT DROP AS
SELECT p.event_id, p.type_code, p.held, r.id AS rid, r.staff_id, r.registered_at,
       (r.registered_at AT TIME ZONE 'Asia/Shanghai')::date AS reg_day,
       r.registered_at < p.event_time AND p.business_date <= r.valid_until AS on_time,
       r.registered_at >= p.event_time AS late,
       CASE WHEN p.held THEN 'held'
            WHEN r.registered_at >= p.event_time AND (r.registered_at AT TIME ZONE 'Asia/Shanghai')::date > w.deadline
                 THEN 'deadline'
            WHEN r.name_normalised <> p.ename THEN 'name'
            ELSE (SELECT CASE WHEN NOT s.attach_open THEN 'attach' WHEN NOT s.kind = ANY(p.holder_kinds) THEN 'kind'
                              ELSE 'qual' END
                  FROM reservations_reservationparticipant rp JOIN relationships_staff s ON s.id = rp.staff_id
                  WHERE rp.reservation_id = r.id AND (NOT s.attach_open OR NOT s.kind = ANY(p.holder_kinds)
                        OR NOT EXISTS (SELECT 1 FROM relationships_qualification q WHERE q.staff_id = s.id
                                       AND q.kind = p.qualification AND q.valid_from <= %(d)s
                                       AND (q.valid_to IS NULL OR q.valid_to >= %(d)s)))
                  ORDER BY rp.id LIMIT 1)
       END AS verdict,
       w.deadline, w.unknown
FROM f_pair p
JOIN f_win w ON w.bdate = p.business_date
JOIN reservations_reservation r
  ON r.id_hash = p.id_hash AND r.type_id = p.type_code
 AND (r.status = 'active' OR (r.status = 'expired' AND r.valid_until >= p.business_date));
DELETE FROM f_cand WHERE NOT held AND NOT on_time AND NOT late;
CREATE INDEX ON f_cand (event_id, type_code);
CREATE INDEX ON f_cand (rid);
-- R-MATCH-3: one claim per staff, the earliest reservation (registered_at, id)
ALTER TABLE f_cand ADD COLUMN rn int;
UPDATE f_cand c SET rn = x.rn FROM (
    SELECT rid, event_id, type_code, row_number() OVER (PARTITION BY event_id, type_code, staff_id
                                                       ORDER BY registered_at, rid) AS rn
    FROM f_cand WHERE verdict IS NULL) x
WHERE x.rid = c.rid AND x.event_id = c.event_id AND x.type_code = c.type_code;
"""

DECISIONS = """
CREATE TEMP TABLE f_valid ON COMMIT DROP AS
SELECT c.event_id, c.type_code, count(*) AS n_staff, bool_or(c.late) AS any_late,
       (array_agg(c.rid ORDER BY c.registered_at, c.rid))[1] AS first_rid,
       (array_agg(c.staff_id ORDER BY c.registered_at, c.rid))[1] AS first_staff,
       (array_agg(c.registered_at ORDER BY c.registered_at, c.rid))[1] AS first_reg,
       jsonb_agg(c.staff_id ORDER BY c.registered_at, c.rid) AS staff_ids
FROM f_cand c WHERE c.verdict IS NULL AND c.rn = 1 GROUP BY c.event_id, c.type_code;
CREATE TEMP TABLE f_dec ON COMMIT DROP AS
SELECT p.*, v.n_staff, v.any_late, v.first_rid, v.first_staff, v.first_reg, v.staff_ids,
       CASE WHEN v.n_staff > 1 THEN 'duplicate' WHEN v.any_late THEN 'late'
            WHEN p.chain_always <> '' THEN 'broker'
            WHEN p.cross_region_check AND EXISTS (
                 SELECT 1 FROM reservations_reservationparticipant rp JOIN relationships_staff s ON s.id = rp.staff_id
                 JOIN relationships_organisation o ON o.id = s.outlet_id
                 WHERE rp.reservation_id = v.first_rid AND o.branch_id IS DISTINCT FROM p.branch_id) THEN 'cross_region'
            ELSE 'matched' END AS reason,
       NULL::bigint AS rel_id, NULL::bigint AS case_id
FROM f_valid v JOIN f_pair p ON p.event_id = v.event_id AND p.type_code = v.type_code
WHERE NOT p.held;
CREATE INDEX ON f_dec (event_id, type_code);
CREATE INDEX ON f_dec (case_id);
ANALYZE f_dec;
CREATE TEMP TABLE f_parts ON COMMIT DROP AS
SELECT rp.reservation_id AS rid, jsonb_agg(jsonb_build_object('staff_id', rp.staff_id, 'ratio', rp.ratio::text)
                                           ORDER BY rp.id) AS shares
FROM reservations_reservationparticipant rp
WHERE rp.reservation_id IN (SELECT rid FROM f_cand WHERE verdict IS NULL AND rn = 1)
GROUP BY rp.reservation_id;
"""

RELATIONSHIPS = """
WITH ins AS (
    INSERT INTO relationships_relationship (effective_from, source, created_at, customer_id, origin_event_id,
                                            outlet_id, type_id)
    SELECT business_date, 'reservation', now(), customer_id, event_id, outlet_id, type_code
    FROM f_dec WHERE reason = 'matched' ORDER BY business_date, event_id
    RETURNING id, origin_event_id, type_id)
UPDATE f_dec d SET rel_id = ins.id FROM ins WHERE ins.origin_event_id = d.event_id AND ins.type_id = d.type_code;
INSERT INTO relationships_relationshipshare (ratio, effective_from, relationship_id, staff_id)
SELECT rp.ratio, d.business_date, d.rel_id, rp.staff_id
FROM f_dec d JOIN reservations_reservationparticipant rp ON rp.reservation_id = d.first_rid
WHERE d.rel_id IS NOT NULL ORDER BY d.rel_id, rp.id;
INSERT INTO relationships_auditentry (at, actor_label, action, target_model, target_id, before, after)
SELECT now(), %(actor)s, 'relationship.create', 'relationships.relationship', d.rel_id::text, NULL,
       jsonb_build_object('type', d.type_code, 'effective_from', d.business_date::text, 'source', 'reservation',
                          'reservation', d.first_rid, 'shares', s.shares)
FROM f_dec d JOIN f_parts s ON s.rid = d.first_rid WHERE d.rel_id IS NOT NULL ORDER BY d.rel_id;
"""

CASES = """
WITH ins AS (
    INSERT INTO approvals_approvalcase (reason, status, current_step, proposed_shares, opening_date, explanation,
        dedupe_key, created_at, updated_at, applicant_id, branch_id, customer_id, opening_event_id, opening_outlet_id,
        type_id, chain_id, outcome, explanation_code, explanation_params)
    SELECT d.reason, 'pending', (SELECT min(cs."order") FROM approvals_chainstep cs WHERE cs.chain_id = ch.id),
           s.shares, d.business_date,
           CASE d.reason
             WHEN 'duplicate' THEN replace(%(t_dup)s, '{n}', d.n_staff::text)
             WHEN 'late' THEN replace(replace(replace(%(t_late)s, '{when}',
                    to_char(d.first_reg AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI')), '{opened}',
                    d.business_date::text), '{deadline}', w.deadline::text) || coalesce(' ' || w.note, '')
             WHEN 'broker' THEN CASE WHEN d.chain_always = 'broker' THEN %(t_broker)s
                                     ELSE replace(%(t_always)s, '{type}', rt.name) END
             ELSE %(t_cross)s END,
           d.reason || ':event:' || d.event_id || ':' || d.type_code, now(), now(), d.first_staff, d.branch_id,
           d.customer_id, d.event_id, d.outlet_id, d.type_code, ch.id, 'create', d.reason,
           CASE WHEN d.reason = 'late' THEN jsonb_build_object(
                    'staff_ids', d.staff_ids, 'deadline', w.deadline::text, 'calendar_unknown_years', w.unknown,
                    'registered', to_char(d.first_reg AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD"T"HH24:MI:SS')
                        || CASE WHEN extract(microseconds FROM d.first_reg)::int %% 1000000 <> 0
                                THEN to_char(d.first_reg AT TIME ZONE 'Asia/Shanghai', '.US') ELSE '' END
                        || '+08:00')
                ELSE jsonb_build_object('staff_ids', d.staff_ids) END
    FROM f_dec d
    JOIN relationships_relationshiptype rt ON rt.code = d.type_code
    JOIN f_win w ON w.bdate = d.business_date
    JOIN f_parts s ON s.rid = d.first_rid
    JOIN approvals_chain ch ON ch.active AND ch.code = CASE
        WHEN d.reason IN ('late', 'duplicate') THEN coalesce(nullif(d.chain_late, ''), nullif(d.chain_always, ''),
                                                            'three_level')
        WHEN d.reason = 'broker' THEN d.chain_always ELSE 'cross_region' END
    WHERE d.reason <> 'matched' ORDER BY d.business_date, d.event_id
    RETURNING id, opening_event_id, type_id, chain_id, proposed_shares)
UPDATE f_dec d SET case_id = ins.id FROM ins WHERE ins.opening_event_id = d.event_id AND ins.type_id = d.type_code;
INSERT INTO approvals_caseclaimant (registered_at, late_workdays, shares, joined_at, case_id, reservation_id,
                                    staff_id)
SELECT c.registered_at,
       CASE WHEN c.late THEN (SELECT count(*) FROM f_wd WHERE f_wd.d > d.business_date AND f_wd.d <= c.reg_day) END,
       s.shares, now(), d.case_id, c.rid, c.staff_id
FROM f_dec d JOIN f_cand c ON c.event_id = d.event_id AND c.type_code = d.type_code AND c.verdict IS NULL
                          AND c.rn = 1
JOIN f_parts s ON s.rid = c.rid
WHERE d.case_id IS NOT NULL ORDER BY d.case_id, c.registered_at, c.rid;
-- the chain's steps at their organisations (approvals.services.steps._build_steps)
CREATE TEMP TABLE f_step ON COMMIT DROP AS
SELECT d.case_id, cs."order", cs.post, o.org AS organisation_id,
       CASE WHEN cs.scope IN ('opening_branch', 'participant_branches') THEN 'confirm' ELSE 'chain' END AS kind
FROM f_dec d
JOIN approvals_approvalcase a ON a.id = d.case_id
JOIN approvals_chainstep cs ON cs.chain_id = a.chain_id
CROSS JOIN LATERAL (
    SELECT CASE cs.scope WHEN 'branch' THEN d.branch_id WHEN 'outlet' THEN d.outlet_id
                         WHEN 'opening_branch' THEN d.branch_id WHEN 'hq' THEN %(hq)s END AS org
    WHERE cs.scope <> 'participant_branches'
    UNION
    SELECT DISTINCT o.branch_id FROM jsonb_array_elements(a.proposed_shares) ps
    JOIN relationships_staff s ON s.id = (ps->>'staff_id')::bigint
    JOIN relationships_organisation o ON o.id = s.outlet_id
    WHERE cs.scope = 'participant_branches' AND o.branch_id IS NOT NULL AND o.branch_id <> d.branch_id) o
WHERE d.case_id IS NOT NULL;
-- R-MATCH-5 (approvals.routing.plan_confirmations at opening): the other branches of holders and claimants
CREATE TEMP TABLE f_other ON COMMIT DROP AS
SELECT DISTINCT d.case_id, o.branch_id
FROM f_dec d
JOIN LATERAL (
    SELECT (ps->>'staff_id')::bigint AS sid FROM approvals_approvalcase a, jsonb_array_elements(a.proposed_shares) ps
    WHERE a.id = d.case_id
    UNION SELECT cc.staff_id FROM approvals_caseclaimant cc WHERE cc.case_id = d.case_id
    UNION SELECT (cs->>'staff_id')::bigint FROM approvals_caseclaimant cc, jsonb_array_elements(cc.shares) cs
    WHERE cc.case_id = d.case_id) x ON true
JOIN relationships_staff s ON s.id = x.sid JOIN relationships_organisation o ON o.id = s.outlet_id
WHERE d.case_id IS NOT NULL AND (d.cross_region_check OR d.chain_always = 'broker' OR d.reason = 'broker')
  AND o.branch_id IS NOT NULL AND o.branch_id <> d.branch_id;
INSERT INTO f_other SELECT DISTINCT o.case_id, d.branch_id FROM f_other o JOIN f_dec d ON d.case_id = o.case_id;
CREATE TEMP TABLE f_plan ON COMMIT DROP AS
SELECT o.case_id, min(s."order") FILTER (WHERE s.kind = 'confirm') AS pending_order, max(s."order") AS max_order,
       bool_or(s.post = 'hq') FILTER (WHERE s.kind <> 'confirm') AS has_hq
FROM (SELECT DISTINCT case_id FROM f_other) o JOIN f_step s ON s.case_id = o.case_id GROUP BY o.case_id;
INSERT INTO f_step
SELECT p.case_id, coalesce(p.pending_order, p.max_order + 1), 'final_approval', o.branch_id, 'confirm'
FROM f_plan p JOIN f_other o ON o.case_id = p.case_id
WHERE NOT EXISTS (SELECT 1 FROM f_step s WHERE s.case_id = p.case_id AND s.kind = 'confirm'
                  AND s."order" = p.pending_order AND s.organisation_id = o.branch_id);
INSERT INTO f_step
SELECT p.case_id, CASE WHEN p.pending_order IS NULL THEN p.max_order + 2 ELSE p.max_order + 1 END, 'hq', %(hq)s, 'hq'
FROM f_plan p
WHERE p.pending_order IS NULL
   OR (NOT coalesce(p.has_hq, false) AND EXISTS (
       SELECT 1 FROM f_other o WHERE o.case_id = p.case_id AND NOT EXISTS (
           SELECT 1 FROM f_step s WHERE s.case_id = p.case_id AND s."order" = p.pending_order
           AND s.organisation_id = o.branch_id AND s.kind = 'confirm')));
INSERT INTO approvals_casestep (case_id, "order", post, organisation_id, state, kind)
SELECT case_id, "order", post, organisation_id, 'pending', kind FROM f_step ORDER BY case_id, "order", organisation_id;
INSERT INTO relationships_auditentry (at, actor_label, action, target_model, target_id, before, after)
SELECT now(), %(actor)s, 'approval_case.open', 'approvals.approvalcase', a.id::text, NULL,
       jsonb_build_object('reason', a.reason, 'type', a.type_id, 'shares', a.proposed_shares)
FROM approvals_approvalcase a WHERE a.id IN (SELECT case_id FROM f_dec WHERE case_id IS NOT NULL) ORDER BY a.id;
"""

OUTCOMES = """
CREATE TEMP TABLE f_out ON COMMIT DROP AS
SELECT c.rid AS id, c.event_id,
       CASE WHEN c.verdict IN ('held', 'deadline') OR c.rn > 1 THEN 'refused'
            WHEN c.verdict IS NOT NULL THEN 'flagged'
            WHEN d.rel_id IS NOT NULL THEN 'matched' ELSE 'pending_approval' END AS status,
       -- the note as its message (common.wording: msgid and parameters), built here as the product stores it
       CASE c.verdict WHEN 'held' THEN jsonb_build_object('msg', %(n_held)s, 'params', '{}'::jsonb)
            WHEN 'deadline' THEN jsonb_build_object('msg', %(n_deadline)s,
                                                    'params', jsonb_build_object('deadline', c.deadline::text))
            WHEN 'name' THEN jsonb_build_object('msg', %(n_name)s,
                                                'params', jsonb_build_object('date', e.business_date::text))
            WHEN 'attach' THEN jsonb_build_object('msg', %(n_attach)s, 'params', '{}'::jsonb)
            WHEN 'kind' THEN jsonb_build_object('msg', %(n_kind)s, 'params', '{}'::jsonb)
            WHEN 'qual' THEN jsonb_build_object('msg', %(n_qual)s, 'params', '{}'::jsonb)
            ELSE CASE WHEN c.rn > 1 THEN jsonb_build_object('msg', %(n_superseded)s, 'params', '{}'::jsonb) END
       END AS note,
       CASE WHEN c.verdict IS NULL AND c.rn = 1 THEN d.rel_id END AS rel_id,
       CASE WHEN c.verdict IS NULL AND c.rn = 1 THEN d.case_id END AS case_id,
       c.late AND c.unknown <> '[]'::jsonb AND c.verdict IS DISTINCT FROM 'held' AS cal
FROM f_cand c
JOIN relationships_accountevent e ON e.id = c.event_id
LEFT JOIN f_dec d ON d.event_id = c.event_id AND d.type_code = c.type_code;
WITH old AS (SELECT r.id, r.status FROM reservations_reservation r JOIN f_out v ON v.id = r.id),
upd AS (UPDATE reservations_reservation r SET status = v.status, status_note = '', status_message = v.note,
               matched_event_id = v.event_id,
               relationship_id = v.rel_id, approval_case_id = v.case_id,
               calendar_unknown_on = CASE WHEN v.cal THEN %(d)s::date ELSE r.calendar_unknown_on END,
               updated_at = now()
        FROM f_out v WHERE r.id = v.id RETURNING r.id)
INSERT INTO relationships_auditentry (at, actor_label, action, target_model, target_id, before, after)
SELECT now(), %(actor)s, 'reservation.match_outcome', 'reservations.reservation', v.id::text,
       jsonb_build_object('status', old.status),
       jsonb_build_object('status', v.status, 'note', v.note, 'event', v.event_id, 'relationship', v.rel_id,
                          'case', v.case_id)
       || CASE WHEN v.cal THEN jsonb_build_object('calendar_unknown', true) ELSE '{}'::jsonb END
FROM f_out v JOIN old ON old.id = v.id JOIN upd ON upd.id = v.id;
-- the events: the last type's strong outcome, else the strongest weak one (matching._record_weak_outcome)
WITH per_pair AS (
    SELECT p.event_id, p.type_code,
           CASE WHEN p.held AND EXISTS (SELECT 1 FROM f_cand c WHERE c.event_id = p.event_id
                                        AND c.type_code = p.type_code) THEN 'already_held'
                WHEN p.held THEN 'already_held'
                WHEN d.reason = 'matched' THEN 'matched' WHEN d.reason IS NOT NULL THEN 'case_' || d.reason
                WHEN EXISTS (SELECT 1 FROM f_cand c WHERE c.event_id = p.event_id AND c.type_code <= p.type_code)
                     THEN 'flagged'
                ELSE 'no_reservation' END AS outcome
    FROM f_pair p LEFT JOIN f_dec d ON d.event_id = p.event_id AND d.type_code = p.type_code),
per_event AS (
    SELECT event_id, coalesce(
        (array_agg(outcome ORDER BY type_code DESC) FILTER (WHERE outcome NOT IN ('flagged', 'no_reservation')))[1],
        CASE WHEN bool_or(outcome = 'flagged') THEN 'flagged' ELSE 'no_reservation' END) AS outcome
    FROM per_pair GROUP BY event_id)
UPDATE relationships_accountevent e SET match_state = 'done', match_outcome = v.outcome, matched_on = %(d)s
FROM per_event v WHERE e.id = v.event_id;
UPDATE relationships_accountevent SET match_state = 'done', match_outcome = 'no_type', matched_on = %(d)s
WHERE match_state = 'pending' AND business_date <= %(d)s;
"""


def _params(business_date: dt.date) -> dict:
    return {
        "d": business_date, "actor": actor_label(BATCH), "hq": None,
        "t_dup": _("%(n)d staff reserved the same customer for the same type. [R-MATCH-3]").replace("%(n)d", "{n}"),
        "t_late": _("Registered %(when)s, after the account was opened on %(opened)s (deadline %(deadline)s). "
                    "[R-MATCH-4]") % {"when": "{when}", "opened": "{opened}", "deadline": "{deadline}"},
        "t_broker": _("Broker development always needs the 3-level approval and the signed documents. [R-APR-5]"),
        "t_always": _("%(type)s always goes through approval.") % {"type": "{type}"},
        "t_cross": _("A developer's branch differs from the branch of the opening outlet. [R-MATCH-5]"),
        # The notes' msgids (the product stores each note as its message, read in the reader's language).
        "n_held": "The customer already holds this relationship type.",
        "n_deadline": "Registered after the late-registration deadline %(deadline)s.",
        "n_name": "The customer name differs from the name on the account opened on %(date)s.",
        "n_superseded": "Superseded by the same staff member's earlier reservation.",
        "n_attach": "A participant's attach permission is closed.",
        "n_kind": "A participant may not hold this relationship type.",
        "n_qual": "A participant lacks the qualification this type needs.",
    }


def _run(cur, label: str, sql: str, params: dict, timings: dict | None) -> None:
    started = time.perf_counter()
    cur.execute(sql, params)
    if timings is not None:
        timings[label] = time.perf_counter() - started


def floor_match(*, business_date: dt.date, timings: dict | None = None) -> None:
    """The floor: every pending opening dated on or before `business_date`, in one transaction."""
    params = _params(business_date)
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SELECT id FROM relationships_organisation WHERE kind = 'hq' ORDER BY id LIMIT 1")
        params["hq"] = cur.fetchone()[0]
        cur.execute("SELECT DISTINCT business_date FROM relationships_accountevent "
                    "WHERE match_state = 'pending' AND business_date <= %s", [business_date])
        dates = sorted(row[0] for row in cur.fetchall())
        if not dates:
            return
        # The working-day calendar (data, read once) and each opening date's late window (R-MATCH-4, R-CAL-1).
        first, last = dates[0] - dt.timedelta(days=1), dates[-1] + dt.timedelta(days=LATE_WINDOW_WORKDAYS * 3 + 30)
        overrides = _overrides(first, last)
        days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
        cur.execute("CREATE TEMP TABLE f_wd ON COMMIT DROP AS SELECT unnest(%s::date[]) AS d",
                    [[d for d in days if _is_workday(d, overrides)]])
        windows = [(d, late_window(d)) for d in dates]
        cur.execute("CREATE TEMP TABLE f_win ON COMMIT DROP AS SELECT * FROM unnest(%s::date[], %s::date[], "
                    "%s::jsonb[], %s::text[]) AS w(bdate, deadline, unknown, note)",
                    [[d for d, _w in windows], [w.day for _d, w in windows],
                     [f"[{', '.join(map(str, w.unknown_years))}]" for _d, w in windows],
                     [calendar_unknown_note(w) if w.calendar_unknown else None for _d, w in windows]])
        _run(cur, "pairs", PAIRS, params, timings)
        cur.execute("CREATE INDEX ON f_pair (event_id, type_code)")
        cur.execute("ANALYZE f_pair")
        cur.execute("SELECT count(*) FILTER (WHERE open_case), count(*) - count(DISTINCT (customer_id, type_code)) "
                    "FROM f_pair")
        open_cases, repeated = cur.fetchone()
        if open_cases or repeated:
            raise FloorUnsupported(f"{open_cases} openings join an open case, {repeated} repeat a customer and type")
        _run(cur, "cands", CANDS, params, timings)
        cur.execute("ANALYZE f_cand")
        _run(cur, "decisions", DECISIONS, params, timings)
        _run(cur, "relationships", RELATIONSHIPS, params, timings)
        _run(cur, "cases", CASES, params, timings)
        _run(cur, "outcomes", OUTCOMES, params, timings)


# --- the fingerprint of what a run wrote ---------------------------------------------------------------------

FINGERPRINT = {
    "relationships_relationship": (
        "SELECT concat_ws('|', customer_id, type_id, effective_from, effective_to, source, origin_event_id, outlet_id) "
        "FROM relationships_relationship"),
    "relationships_relationshipshare": (
        "SELECT concat_ws('|', r.customer_id, r.type_id, r.effective_from, s.staff_id, s.ratio, s.effective_from, "
        "s.effective_to) FROM relationships_relationshipshare s JOIN relationships_relationship r "
        "ON r.id = s.relationship_id"),
    "approvals_approvalcase": (
        "SELECT concat_ws('|', dedupe_key, reason, status, current_step, type_id, customer_id, chain_id, "
        "proposed_shares, opening_event_id, opening_date, opening_outlet_id, branch_id, applicant_id, explanation, "
        "explanation_code, explanation_params, outcome) FROM approvals_approvalcase"),
    "approvals_casestep": (
        "SELECT concat_ws('|', a.dedupe_key, s.\"order\", s.post, s.organisation_id, s.state, s.kind) "
        "FROM approvals_casestep s JOIN approvals_approvalcase a ON a.id = s.case_id"),
    "approvals_caseclaimant": (
        "SELECT concat_ws('|', a.dedupe_key, c.reservation_id, c.staff_id, c.registered_at, c.late_workdays, "
        "c.shares) FROM approvals_caseclaimant c JOIN approvals_approvalcase a ON a.id = c.case_id"),
    "reservations_reservation": (
        "SELECT concat_ws('|', r.id, r.status, r.status_note, r.status_message, r.matched_event_id, rel.customer_id, "
        "rel.type_id, "
        "a.dedupe_key, r.calendar_unknown_on) FROM reservations_reservation r "
        "LEFT JOIN relationships_relationship rel ON rel.id = r.relationship_id "
        "LEFT JOIN approvals_approvalcase a ON a.id = r.approval_case_id"),
    "relationships_accountevent": (
        "SELECT concat_ws('|', id, match_state, match_outcome, matched_on, match_error) "
        "FROM relationships_accountevent"),
    "relationships_auditentry": (
        "SELECT concat_ws('|', e.actor_label, e.action, e.target_model, "
        "coalesce(rel.customer_id || ':' || rel.type_id, a.dedupe_key, e.target_id), e.before, "
        "e.after - 'relationship' - 'case', rr.customer_id || ':' || rr.type_id, ra.dedupe_key) "
        "FROM relationships_auditentry e "
        "LEFT JOIN relationships_relationship rel ON e.target_model = 'relationships.relationship' "
        "AND rel.id::text = e.target_id "
        "LEFT JOIN approvals_approvalcase a ON e.target_model = 'approvals.approvalcase' AND a.id::text = e.target_id "
        "LEFT JOIN relationships_relationship rr ON rr.id = (e.after->>'relationship')::bigint "
        "LEFT JOIN approvals_approvalcase ra ON ra.id = (e.after->>'case')::bigint "
        "WHERE e.id > %(audit_from)s"),
    "relationships_callback": (
        "SELECT concat_ws('|', r.customer_id, r.type_id, c.outlet_id, c.created_on, c.due_on, c.status) "
        "FROM relationships_callback c JOIN relationships_relationship r ON r.id = c.relationship_id"),
    "approvals_notification": "SELECT concat_ws('|', user_id, subject, body, link, key) FROM approvals_notification",
}


def audit_watermark(cur) -> int:
    cur.execute("SELECT coalesce(max(id), 0) FROM relationships_auditentry")
    return cur.fetchone()[0]


def fingerprint(cur, *, audit_from: int) -> dict[str, tuple[int, str]]:
    """Per table: (rows, md5 of its business columns in order); audit rows only those after `audit_from`."""
    out: dict[str, tuple[int, str]] = {}
    for table, select in FINGERPRINT.items():
        cur.execute(f"SELECT count(*), md5(coalesce(string_agg(x, E'\\n' ORDER BY x), '')) "
                    f"FROM ({select}) AS t(x)", {"audit_from": audit_from})
        out[table] = cur.fetchone()
    return out
