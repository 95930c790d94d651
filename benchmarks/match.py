#!/usr/bin/env python
"""Benchmark of the nightly matching (§6) at scale, against its floor and a naive loop, in one run.

    CRM_BENCH_DB=crm_bench_x .venv/bin/python benchmarks/match.py --openings 100000 --reservations 1000000 [--keep]

Creates the database `crm_bench_match` (or CRM_BENCH_DB; dropped first) on the server of DATABASE_URL, or on the
embedded server when DATABASE_URL is unset; migrates it; generates an organisation tree, a few thousand staff with
qualifications, what earlier nights left (2 × N customers with a relationship, its share and callback, 0.2 × N
decided approval cases with their steps, 10 × N audit rows), M reservations (one participant each) and N pending
opening events over the working days of the month up to --date (the 15th), all with set-based SQL.
The generated database becomes a template: every run below works on a fresh copy of it.

The mix of openings (by i mod 100): 30 % on time with exactly one reservation, 3 % duplicates
(two staff), 2 % late registrations, 2 % name mismatches, 1 % cross-branch, the rest without any
reservation; 85 % are securities openings of new customers, 5 % futures, 5 % credit accounts of
existing customers, 5 % first agreed-repurchase business. All other reservations (the great
majority) find no opening; a tenth of them are already expired.

Three ways to do the same night:
- the product: `match_pending_events(business_date=D)`;
- the floor (benchmarks/match_floor.py): hand-written set-based SQL writing the same rows in one transaction.
  After each run the script fingerprints every table the matching writes (row counts and an md5 of the business
  columns, new ids replaced by business keys) and stops with FAILED when the floor's rows differ from the
  product's. Floor and product runs are interleaved (--runs each, median);
- naive: a per-row ORM loop doing the same writes one row at a time (relationship, shares, case, claimants,
  steps, reservation statuses, every audit row, the event) over every --naive-every-th opening, rolled back,
  extrapolated to N.

The last line printed is:
    match openings=N reservations=M seconds=S rows_per_s=R peak_mb=P floor_seconds=F naive_seconds_est=E
          floor_ratio=S/F naive_ratio=E/S
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import statistics
import sys
import time

from _common import N_OUTLETS, OUTLETS_PER_BRANCH, ROOT, generate_org_tree, log, migrated_bench_database

BENCH_DB = os.environ.get("CRM_BENCH_DB", "crm_bench_match")


# --- data generation (set-based SQL only) ----------------------------------------------------------------

def generate(cur, *, openings: int, reservations: int, staff: int, day: dt.date) -> dict:
    """Returns the planned outcome counts. All statements are INSERT … SELECT over generate_series."""
    staff = max(2 * N_OUTLETS, staff - staff % N_OUTLETS)   # a multiple of the outlets: duplicates share an outlet
    days = [day - dt.timedelta(days=k) for k in range(31) if (day - dt.timedelta(days=k)).weekday() < 5]
    params = {"n": openings, "m": reservations, "s": staff, "d": day, "days": days}
    cur.execute("SET session_replication_role = replica")   # bulk load: the rows are consistent by construction
    cur.execute("SET work_mem = '256MB'")
    generate_org_tree(cur)
    cur.execute("CREATE TEMP TABLE b_outlet AS SELECT substr(code, 3)::int AS idx, id, branch_id "
                "FROM relationships_organisation WHERE kind = 'outlet'")
    cur.execute("CREATE UNIQUE INDEX ON b_outlet (idx)")
    # Staff: front staff (securities + futures, advisors also consulting) and 60 brokers.
    cur.execute("""
        INSERT INTO relationships_staff (staff_no, name, kind, attach_open, outlet_id)
        SELECT 'S' || lpad(g::text, 6, '0'), '员工' || g,
               (ARRAY['advisor', 'account_manager', 'account_manager', 'other_front'])[1 + g %% 4], true, o.id
        FROM generate_series(0, %(s)s - 1) g JOIN b_outlet o ON o.idx = g %% 300""", params)
    cur.execute("""
        INSERT INTO relationships_staff (staff_no, name, kind, attach_open, outlet_id)
        SELECT 'J' || lpad(g::text, 6, '0'), '经纪人' || g, 'broker', true, o.id
        FROM generate_series(0, 59) g JOIN b_outlet o ON o.idx = (g * 7) % 300""")
    cur.execute("""
        INSERT INTO relationships_qualification (kind, number, valid_from, staff_id)
        SELECT q.kind, 'Q' || s.id || q.kind, DATE '2000-01-01', s.id
        FROM relationships_staff s
        JOIN (VALUES ('securities', NULL), ('futures', 'front'), ('consulting', 'advisor'), ('broker', 'broker'))
             AS q(kind, who)
          ON q.who IS NULL OR (q.who = 'front' AND s.kind <> 'broker') OR q.who = s.kind""")
    cur.execute("""
        CREATE TEMP TABLE b_staff AS
        SELECT substr(s.staff_no, 2)::int AS idx, s.id, s.outlet_id, o.idx AS outlet_idx
        FROM relationships_staff s JOIN b_outlet o ON o.id = s.outlet_id WHERE s.staff_no LIKE 'S%'""")
    cur.execute("CREATE UNIQUE INDEX ON b_staff (idx)")
    # The openings: category by i mod 100, kind by (i / 100) mod 20, opening times spread over the day.
    cur.execute("""
        CREATE TEMP TABLE b_open AS
        SELECT i, i %% 100 AS cat, k,
               CASE WHEN k = 19 THEN 'repurchase_start' ELSE 'open' END AS ev_kind,
               CASE k WHEN 17 THEN 'futures' WHEN 18 THEN 'credit' WHEN 19 THEN 'repurchase'
                      ELSE 'securities' END AS acct_type,
               CASE k WHEN 17 THEN 'IB_SERVICE' WHEN 18 THEN 'CREDIT_DEV' WHEN 19 THEN 'REPURCHASE_DEV'
                      ELSE 'NEW_DEV' END AS rtype,
               k IN (18, 19) AS existing,
               (i::bigint * 7919) %% %(s)s AS sidx,
               (((%(days)s::date[])[1 + (i::bigint * 13) %% cardinality(%(days)s::date[])] + time '09:00')
                + (i %% 23400) * interval '1 second') AT TIME ZONE 'Asia/Shanghai' AS t,
               encode(sha256(convert_to('bench-id-' || i, 'UTF8')), 'hex') AS id_hash,
               NULL::bigint AS customer_id, NULL::bigint AS outlet_id
        FROM generate_series(0, %(n)s - 1) i, LATERAL (SELECT (i / 100) %% 20 AS k) kk""", params)
    # The opening outlet is the reserving staff's; cross-branch openings (cat 37) are 10 outlets on = next branch.
    cur.execute("""
        UPDATE b_open b SET outlet_id = o.id
        FROM b_staff s, b_outlet o
        WHERE s.idx = b.sidx AND o.idx = (s.outlet_idx + CASE WHEN b.cat = 37 THEN %(per)s ELSE 0 END) %% %(o)s""",
                {"per": OUTLETS_PER_BRANCH, "o": N_OUTLETS})
    cur.execute("""
        INSERT INTO relationships_customer (id_hash, id_encrypted, id_masked, name, phone_encrypted, created_at)
        SELECT id_hash, 'bench', '110105********0000', '客户' || i, '', t - interval '400 days' FROM b_open""")
    cur.execute("UPDATE b_open b SET customer_id = c.id FROM relationships_customer c WHERE c.id_hash = b.id_hash")
    cur.execute("CREATE UNIQUE INDEX ON b_open (i)")
    cur.execute("ANALYZE b_open")
    # Accounts: an earlier securities account for existing customers, and the opened accounts themselves.
    cur.execute("""
        INSERT INTO relationships_account (account_no, account_type, opened_at, customer_id, outlet_id)
        SELECT 'P' || lpad(i::text, 10, '0'), 'securities', t - interval '400 days', customer_id, outlet_id
        FROM b_open WHERE existing""")
    cur.execute("""
        INSERT INTO relationships_account (account_no, account_type, opened_at, customer_id, outlet_id)
        SELECT 'A' || lpad(i::text, 10, '0'), acct_type, t, customer_id, outlet_id FROM b_open""")
    # Pending opening events, flags as the feed sets them (R-MATCH-1 kinds; name mismatch for cat 35–36).
    cur.execute("""
        INSERT INTO relationships_accountevent (event_id, event_time, business_date, kind, account_type, account_no,
            customer_name, existing_customer, first_of_kind, match_state, match_outcome, loaded_at, customer_id,
            outlet_id)
        SELECT 'BE' || lpad(i::text, 10, '0'), t, (t AT TIME ZONE 'Asia/Shanghai')::date, ev_kind, acct_type, 'A' || lpad(i::text, 10, '0'),
               CASE WHEN cat IN (35, 36) THEN '客户' || i || '甲' ELSE '客户' || i END, existing, true, 'pending', '',
               now(), customer_id, outlet_id
        FROM b_open ORDER BY t, i""", params)
    # Reservations that meet an opening: on time (0–29, 35–37), duplicates (30–32: two staff of one outlet),
    # late (33–34: registered 1–4 days after the opening, inside the 7-working-day window).
    cur.execute("""
        CREATE TEMP TABLE b_res AS
        SELECT b.i, b.sidx,
               b.t - (1 + (b.i * 31) %% 27) * interval '1 day' - (b.i %% 3600) * interval '1 second' AS reg
        FROM b_open b WHERE b.cat < 33 OR b.cat BETWEEN 35 AND 37
        UNION ALL
        SELECT b.i, (b.sidx + 300 * (1 + b.i %% (%(s)s / 300 - 1))) %% %(s)s,
               b.t - (2 + (b.i * 17) %% 25) * interval '1 day'
        FROM b_open b WHERE b.cat BETWEEN 30 AND 32
        UNION ALL
        SELECT b.i, b.sidx, b.t + (1 + b.i %% 4) * interval '1 day' + (b.i %% 3600) * interval '1 second'
        FROM b_open b WHERE b.cat IN (33, 34)""", params)
    cur.execute("SELECT count(*) FROM b_res")
    with_opening = cur.fetchone()[0]
    if with_opening > reservations:
        raise SystemExit(f"--reservations must be at least {with_opening} for {openings} openings "
                         f"(the reservations that meet an opening).")
    cur.execute("""
        INSERT INTO reservations_reservation (customer_name, name_normalised, id_hash, id_encrypted, id_masked,
            phone_encrypted, phone_masked, registered_at, valid_until, status, status_note, source, updated_at,
            outlet_id, staff_id, type_id)
        SELECT '客户' || b.i, '客户' || b.i, b.id_hash, 'bench', '110105********0000', 'bench', '138****0000',
               r.reg, ((r.reg AT TIME ZONE 'Asia/Shanghai')::date + interval '1 month')::date, 'active', '', 'bench',
               now(), s.outlet_id, s.id, b.rtype
        FROM b_res r JOIN b_open b ON b.i = r.i JOIN b_staff s ON s.idx = r.sidx
        ORDER BY r.reg""")
    # The rest find no opening: registered within the last 29 days (active), a tenth 35–64 days ago (expired).
    cur.execute("""
        INSERT INTO reservations_reservation (customer_name, name_normalised, id_hash, id_encrypted, id_masked,
            phone_encrypted, phone_masked, registered_at, valid_until, status, status_note, source, updated_at,
            outlet_id, staff_id, type_id)
        SELECT '预约客户' || j, '预约客户' || j, encode(sha256(convert_to('bench-res-' || j, 'UTF8')), 'hex'), 'bench',
               '110105********0000', 'bench', '138****0000', x.reg,
               ((x.reg AT TIME ZONE 'Asia/Shanghai')::date + interval '1 month')::date,
               CASE WHEN j %% 10 = 0 THEN 'expired' ELSE 'active' END, '', 'bench', now(), s.outlet_id, s.id,
               CASE j %% 20 WHEN 0 THEN 'IB_SERVICE' WHEN 1 THEN 'CREDIT_DEV' ELSE 'NEW_DEV' END
        FROM generate_series(0, %(rest)s - 1) j
        JOIN b_staff s ON s.idx = (j::bigint * 104729) %% %(s)s
        CROSS JOIN LATERAL (SELECT ((%(d)s::date + time '08:00') AT TIME ZONE 'Asia/Shanghai')
                                   - CASE WHEN j %% 10 = 0 THEN interval '35 days' ELSE interval '0 days' END
                                   - (j %% 2505600) * interval '1 second' AS reg) x
        ORDER BY x.reg""", {**params, "rest": reservations - with_opening})
    cur.execute("""
        INSERT INTO reservations_reservationparticipant (ratio, reservation_id, staff_id)
        SELECT 1, id, staff_id FROM reservations_reservation""")
    history(cur, openings=openings, day=day)
    cur.execute("SET session_replication_role = origin")
    cur.execute("""
        SELECT count(*) FILTER (WHERE cat < 30 OR (cat = 37 AND rtype <> 'NEW_DEV')),
               count(*) FILTER (WHERE cat BETWEEN 30 AND 34 OR (cat = 37 AND rtype = 'NEW_DEV')),
               count(*) FILTER (WHERE cat IN (35, 36))
        FROM b_open""")
    matched, cases, flagged = cur.fetchone()
    for table in ("b_open", "b_res", "b_staff", "b_outlet"):
        cur.execute(f"DROP TABLE {table}")
    return {"matched": matched, "sent_to_approval": cases, "flagged": flagged}


def history(cur, *, openings: int, day: dt.date) -> None:
    """What earlier nights left: 2 × N customers holding a relationship (share, callback) opened over the past two
    years, 0.2 × N decided approval cases with their steps and claimants, and 10 × N audit rows."""
    params = {"n": openings, "d": day}
    cur.execute("""
        INSERT INTO relationships_customer (id_hash, id_encrypted, id_masked, name, phone_encrypted, created_at)
        SELECT encode(sha256(convert_to('bench-old-' || g, 'UTF8')), 'hex'), 'bench', '110105********0000',
               '老客户' || g, '', %(d)s::date - 800 + g %% 700
        FROM generate_series(0, 2 * %(n)s - 1) g""", params)
    cur.execute("""
        INSERT INTO relationships_relationship (effective_from, source, created_at, customer_id, outlet_id, type_id)
        SELECT c.created_at::date + 30, 'reservation', c.created_at + interval '30 days', c.id,
               o.id, CASE WHEN c.id %% 10 = 0 THEN 'IB_SERVICE' ELSE 'NEW_DEV' END
        FROM relationships_customer c
        JOIN relationships_organisation o ON o.kind = 'outlet' AND o.code = 'BO' || lpad((c.id %% 300)::text, 3, '0')
        WHERE c.name LIKE '老客户%%'""", params)
    cur.execute("""
        INSERT INTO relationships_relationshipshare (ratio, effective_from, relationship_id, staff_id)
        SELECT 1, r.effective_from, r.id, s.id
        FROM relationships_relationship r
        JOIN relationships_staff s ON s.staff_no = 'S' || lpad(((r.id * 7919) %% (SELECT count(*) FROM
             relationships_staff WHERE staff_no LIKE 'S%%'))::text, 6, '0')""", params)
    cur.execute("""
        INSERT INTO relationships_callback (relationship_id, outlet_id, created_on, due_on, status, reason,
                                            resolution, resolution_note)
        SELECT id, outlet_id, effective_from + 1, effective_from + 8, 'confirmed', '', '', ''
        FROM relationships_relationship""")
    cur.execute("""
        INSERT INTO approvals_approvalcase (reason, status, current_step, proposed_shares, opening_date, explanation,
            dedupe_key, created_at, updated_at, applicant_id, branch_id, customer_id, opening_outlet_id, type_id,
            chain_id, outcome, explanation_code, explanation_params)
        SELECT 'late', 'approved', 3, jsonb_build_array(jsonb_build_object('staff_id', s.staff_id, 'ratio', '1.0000')),
               r.effective_from, '', 'late:old:' || r.id, r.created_at, r.created_at, s.staff_id, o.branch_id,
               r.customer_id, r.outlet_id, r.type_id, (SELECT id FROM approvals_chain WHERE code = 'three_level'),
               'create', 'late', jsonb_build_object('staff_ids', jsonb_build_array(s.staff_id))
        FROM relationships_relationship r
        JOIN relationships_relationshipshare s ON s.relationship_id = r.id
        JOIN relationships_organisation o ON o.id = r.outlet_id
        WHERE r.id %% 10 = 3""", params)
    cur.execute("""
        INSERT INTO approvals_casestep (case_id, "order", post, organisation_id, state, kind)
        SELECT a.id, cs."order", cs.post, a.branch_id, 'approved', 'chain'
        FROM approvals_approvalcase a JOIN approvals_chainstep cs ON cs.chain_id = a.chain_id""")
    cur.execute("""
        INSERT INTO relationships_auditentry (at, actor_label, action, target_model, target_id, before, after)
        SELECT %(d)s::date - g %% 700, 'nightly-batch',
               (ARRAY['relationship.create', 'reservation.match_outcome', 'approval_case.open',
                      'callback.create', 'reservation.expire'])[1 + g %% 5], 'relationships.relationship', g::text,
               NULL, jsonb_build_object('type', 'NEW_DEV', 'effective_from', '2025-01-01', 'source', 'reservation',
                                        'shares', jsonb_build_array(jsonb_build_object('staff_id', g %% 3000,
                                                                                       'ratio', '1.0000')))
        FROM generate_series(1, 10 * %(n)s) g""", params)


def vacuum(cur) -> None:
    for table in ("relationships_customer", "relationships_account", "relationships_accountevent",
                  "relationships_staff", "relationships_qualification", "relationships_organisation",
                  "reservations_reservation", "reservations_reservationparticipant", "relationships_relationship",
                  "relationships_relationshipshare", "relationships_callback", "relationships_auditentry",
                  "approvals_approvalcase", "approvals_casestep"):
        cur.execute(f"VACUUM (ANALYZE) {table}")


# --- reference points ------------------------------------------------------------------------------------

def naive_loop(day: dt.date, every: int) -> tuple[float, int]:
    """A per-row ORM loop doing the product's writes one row at a time over every `every`-th pending opening:
    per event its reservations are read, then the relationship and its shares, or the approval case with its
    claimants and steps, the reservations' statuses, every audit row, and the event itself. Seconds, events."""
    from django.db import transaction

    from approvals.chains import active_chains, chain_code_for
    from approvals.models import ApprovalCase, CaseClaimant, CaseStep, ChainStep
    from common.actors import BATCH
    from relationships.audit import audit
    from relationships.identity import normalise_name
    from relationships.models import AccountEvent, Relationship, RelationshipShare, RelationshipType
    from relationships.workdays import late_window, workdays_between
    from reservations.models import Reservation

    ids = list(AccountEvent.objects.filter(match_state="pending", business_date__lte=day)
               .order_by("business_date", "id").values_list("id", flat=True))[::every]
    types = list(RelationshipType.objects.exclude(match_event_kind="").order_by("code"))
    started = time.perf_counter()
    with transaction.atomic():
        chains = active_chains()
        for event_id in ids:
            event = AccountEvent.objects.select_related("customer", "outlet").get(pk=event_id)
            outcome = "no_reservation"
            for rt in types:
                if (rt.match_event_kind != event.kind or rt.match_account_type != event.account_type
                        or (rt.match_customer == "new" and event.existing_customer)
                        or (rt.match_customer == "existing" and not event.existing_customer)
                        or (rt.match_first_only and not event.first_of_kind)):
                    continue
                found = list(Reservation.objects.filter(id_hash=event.customer.id_hash, type=rt, status="active")
                             .order_by("registered_at", "id").prefetch_related("participants__staff__outlet"))
                deadline = late_window(event.business_date).day
                valid, late = [], []
                for r in found:
                    if r.registered_at >= event.event_time:
                        late.append(r)
                    elif event.business_date > r.valid_until:
                        continue
                    if r.name_normalised != normalise_name(event.customer_name):
                        before = r.status
                        r.status, r.matched_event = "flagged", event
                        r.save(update_fields=["status", "matched_event", "updated_at"])
                        audit(actor=BATCH, action="reservation.match_outcome", target=r,
                              before={"status": before}, after={"status": "flagged", "event": event.pk})
                        outcome = "flagged"
                        continue
                    valid.append(r)
                if not valid:
                    continue
                cross = any(p.staff.outlet.branch_id != event.outlet.branch_id for p in valid[0].participants.all())
                if len(valid) == 1 and not late and not rt.chain_always and not (rt.cross_region_check and cross):
                    r = valid[0]
                    rel = Relationship.objects.create(customer=event.customer, type=rt,
                                                      effective_from=event.business_date, source="reservation",
                                                      origin_event=event, outlet_id=event.outlet_id)
                    for p in r.participants.all():
                        RelationshipShare.objects.create(relationship=rel, staff_id=p.staff_id, ratio=p.ratio,
                                                         effective_from=event.business_date)
                    audit(actor=BATCH, action="relationship.create", target=rel,
                          after={"type": rt.code, "reservation": r.pk})
                    r.status, r.relationship, r.matched_event = "matched", rel, event
                    r.save(update_fields=["status", "relationship", "matched_event", "updated_at"])
                    audit(actor=BATCH, action="reservation.match_outcome", target=r,
                          before={"status": "active"}, after={"status": "matched", "relationship": rel.pk})
                    outcome = "matched"
                    continue
                reason = "duplicate" if len(valid) > 1 else "late" if late else \
                    "broker" if rt.chain_always else "cross_region"
                shares = [{"staff_id": p.staff_id, "ratio": str(p.ratio)} for p in valid[0].participants.all()]
                case = ApprovalCase.objects.create(
                    reason=reason, type=rt, customer=event.customer, chain=chains[chain_code_for(reason, rt)],
                    proposed_shares=shares, opening_event=event, opening_date=event.business_date,
                    opening_outlet_id=event.outlet_id, branch_id=event.outlet.branch_id,
                    applicant_id=valid[0].staff_id, explanation=reason, explanation_code=reason,
                    dedupe_key=f"{reason}:event:{event.pk}:{rt.code}")
                for r in valid:
                    CaseClaimant.objects.create(
                        case=case, reservation=r, staff_id=r.staff_id, registered_at=r.registered_at, shares=shares,
                        late_workdays=workdays_between(event.business_date, r.registered_at.date())
                        if r in late else None)
                for cs in ChainStep.objects.filter(chain=case.chain).order_by("order"):
                    orgs = {p.staff.outlet.branch_id for p in valid[0].participants.all()} - {
                        event.outlet.branch_id} if cs.scope == "participant_branches" else {
                        {"hq": event.outlet.parent_id, "outlet": event.outlet_id}.get(cs.scope,
                                                                                     event.outlet.branch_id)}
                    for org in sorted(o for o in orgs if o):
                        CaseStep.objects.create(case=case, order=cs.order, post=cs.post, organisation_id=org)
                audit(actor=BATCH, action="approval_case.open", target=case,
                      after={"reason": reason, "type": rt.code, "shares": shares, "deadline": str(deadline)})
                for r in valid:
                    r.status, r.approval_case, r.matched_event = "pending_approval", case, event
                    r.save(update_fields=["status", "approval_case", "matched_event", "updated_at"])
                    audit(actor=BATCH, action="reservation.match_outcome", target=r,
                          before={"status": "active"}, after={"status": "pending_approval", "case": case.pk})
                outcome = f"case_{reason}"
            event.match_state, event.match_outcome, event.matched_on = "done", outcome, day
            event.save(update_fields=["match_state", "match_outcome", "matched_on"])
        transaction.set_rollback(True)
    return time.perf_counter() - started, len(ids)


# --- main ------------------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--openings", type=int, required=True, help="pending opening events (N)")
    parser.add_argument("--reservations", type=int, required=True, help="reservations (M)")
    parser.add_argument("--staff", type=int, default=3000, help="front staff (rounded to a multiple of 300)")
    parser.add_argument("--date", default="2026-12-15", help="business date of the run (openings over the month before)")
    parser.add_argument("--chunk-size", type=int, default=None, help="MATCH_CHUNK_SIZE override")
    parser.add_argument("--keep", action="store_true", help="keep the generated bench database afterwards")
    parser.add_argument("--runs", type=int, default=3, help="runs of the floor and of the product (interleaved)")
    parser.add_argument("--naive-every", type=int, default=100, help="the naive loop samples every n-th opening")
    args = parser.parse_args()
    day = dt.date.fromisoformat(args.date)

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_platform.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")  # development settings (the embedded keys), as before
    _bench_url, admin = migrated_bench_database(BENCH_DB)

    import psycopg
    from django.db import connection, connections

    started = time.perf_counter()
    with connection.cursor() as cur:
        planned = generate(cur, openings=args.openings, reservations=args.reservations, staff=args.staff, day=day)
        generated = time.perf_counter() - started
        vacuum(cur)
    log(f"generated {args.openings} openings and {args.reservations} reservations in {generated:.1f} s "
        f"(+ vacuum/analyze {time.perf_counter() - started - generated:.1f} s); expected {planned}")

    connections.close_all()
    template = BENCH_DB + "_tpl"
    with psycopg.connect(**admin) as conn:  # the generated database becomes the template of every run's copy
        conn.execute(f"DROP DATABASE IF EXISTS {template} WITH (FORCE)")
        conn.execute(f"ALTER DATABASE {BENCH_DB} RENAME TO {template}")

    from benchmarks.match_floor import audit_watermark, fingerprint, floor_match
    from reservations.matching import match_pending_events

    def fresh_copy() -> None:
        connections.close_all()
        with psycopg.connect(**admin) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {BENCH_DB} TEMPLATE {template}")
        with connection.cursor() as cur:
            cur.execute("CHECKPOINT")

    def one_run(kind: str) -> tuple[float, dict, dict]:
        fresh_copy()
        with connection.cursor() as cur:
            mark = audit_watermark(cur)
        started = time.perf_counter()
        counts: dict = {}
        if kind == "product":
            counts = dict(match_pending_events(business_date=day, chunk_size=args.chunk_size))
        else:
            steps: dict = {}
            floor_match(business_date=day, timings=steps)
            log("  floor steps: " + ", ".join(f"{k}={v:.2f}" for k, v in steps.items()))
        seconds = time.perf_counter() - started
        with connection.cursor() as cur:
            prints = fingerprint(cur, audit_from=mark)
        log(f"{kind}: {seconds:.2f} s")
        return seconds, prints, counts

    times: dict[str, list[float]] = {"product": [], "floor": []}
    prints: dict[str, dict] = {}
    counts: dict = {}
    for _run in range(args.runs):  # interleaved: floor, product, floor, product, …
        for kind in ("floor", "product"):
            seconds, fp, got = one_run(kind)
            times[kind].append(seconds)
            if kind == "product":
                counts = got
            if kind in prints and prints[kind] != fp:
                raise SystemExit(f"{kind}: two runs on identical copies wrote different rows")
            prints[kind] = fp
    differ = {t: (prints["product"][t], prints["floor"][t]) for t in prints["product"]
              if prints["product"][t] != prints["floor"][t]}
    for table in sorted(prints["product"]):
        prod, flo = prints["product"][table], prints["floor"][table]
        log(f"  {table}: rows={prod[0]} md5={prod[1][:12]}" + ("" if table not in differ else
                                                              f"  FLOOR rows={flo[0]} md5={flo[1][:12]} DIFFERS"))
    if differ:
        raise SystemExit(f"FAILED: the floor does not write the product's rows: {sorted(differ)}")
    log("floor and product wrote the same rows (counts and fingerprints of every table)")
    log("outcomes: " + " ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    mismatched = {k: (counts.get(k, 0), v) for k, v in planned.items() if counts.get(k, 0) != v}
    if mismatched:
        log(f"WARNING: outcome counts differ from the plan (got, expected): {mismatched}")

    fresh_copy()
    naive_s, sampled = naive_loop(day, args.naive_every)
    naive = naive_s * args.openings / max(sampled, 1)
    log(f"naive: per-row ORM loop over {sampled} openings in {naive_s:.1f} s, extrapolated {naive:.1f} s")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    connections.close_all()
    with psycopg.connect(**admin) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        if args.keep:
            conn.execute(f"ALTER DATABASE {template} RENAME TO {BENCH_DB}")
        else:
            conn.execute(f"DROP DATABASE IF EXISTS {template} WITH (FORCE)")
    seconds, floor = statistics.median(times["product"]), statistics.median(times["floor"])
    log("product runs: " + " ".join(f"{t:.2f}" for t in times["product"])
        + "; floor runs: " + " ".join(f"{t:.2f}" for t in times["floor"]))
    log(f"match openings={args.openings} reservations={args.reservations} seconds={seconds:.2f} "
        f"rows_per_s={args.openings / seconds:.0f} peak_mb={peak_mb:.0f} floor_seconds={floor:.2f} "
        f"naive_seconds_est={naive:.1f} floor_ratio={seconds / floor:.2f} naive_ratio={naive / seconds:.1f}")


if __name__ == "__main__":
    main()
