#!/usr/bin/env python
"""Benchmark of the nightly matching (§6) at scale, on a fresh PostgreSQL database.

    .venv/bin/python benchmarks/match.py --openings 100000 --reservations 1000000 [--keep]

Creates the database `crm_bench_match` (dropped first) on the server of DATABASE_URL, or on the
embedded server when DATABASE_URL is unset; migrates it; generates an organisation tree, a few
thousand staff with qualifications, M reservations (one participant each) and N pending opening
events with their customers and accounts, all with set-based SQL; then times
`match_pending_events(business_date=D)`.

The mix of openings (by i mod 100): 30 % on time with exactly one reservation, 3 % duplicates
(two staff), 2 % late registrations, 2 % name mismatches, 1 % cross-branch, the rest without any
reservation; 85 % are securities openings of new customers, 5 % futures, 5 % credit accounts of
existing customers, 5 % first agreed-repurchase business. All other reservations (the great
majority) find no opening; a tenth of them are already expired.

Besides the real run it measures two reference points (for comparison, not product code):
- floor_seconds: one hand-written SQL statement doing the core on-time match join into a temp table;
- naive_seconds_est: a per-row ORM loop (per event: query its reservations, create the relationship
  and shares, update reservation and event) over a 1 % sample, in a rolled-back transaction, ×100.

The last line printed is:
    match openings=N reservations=M seconds=S rows_per_s=R peak_mb=P floor_seconds=F naive_seconds_est=E
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import sys
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = os.environ.get("CRM_BENCH_DB", "crm_bench_match")
N_OUTLETS = 300          # 30 branches × 10 outlets, in 5 regions
OUTLETS_PER_BRANCH = 10


def log(msg: str) -> None:
    print(msg, flush=True)


# --- the bench database ----------------------------------------------------------------------------------

def bench_database() -> tuple[str, dict]:
    """(DATABASE_URL of the bench db, connection kwargs for the server's maintenance db)."""
    url = os.environ.get("DATABASE_URL")
    if url:
        import dj_database_url

        cfg = dj_database_url.parse(url)
        bench_url = urllib.parse.urlsplit(url)._replace(path="/" + BENCH_DB).geturl()
    else:
        from crm_platform.embedded_pg import ensure_embedded_database

        cfg = ensure_embedded_database(ROOT)
        host = urllib.parse.quote(str(cfg["HOST"]), safe="")
        port = f":{cfg['PORT']}" if cfg.get("PORT") else ""
        bench_url = f"postgres://{cfg['USER']}@{host}{port}/{BENCH_DB}"
    admin = {"host": cfg.get("HOST") or None, "port": cfg.get("PORT") or None, "user": cfg.get("USER") or None,
             "password": cfg.get("PASSWORD") or None, "dbname": "postgres", "autocommit": True}
    return bench_url, {k: v for k, v in admin.items() if v is not None}


def recreate(admin: dict, create: bool = True) -> None:
    import psycopg

    with psycopg.connect(**admin) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        if create:
            conn.execute(f"CREATE DATABASE {BENCH_DB}")


# --- data generation (set-based SQL only) ----------------------------------------------------------------

def generate_org_tree(cur) -> None:
    """HQ, 5 regions, 30 branches, 300 outlets (codes BBnn / BOnnn); shared by every benchmark."""
    cur.execute("INSERT INTO relationships_region (code, name) SELECT 'R' || g, '区域' || g FROM generate_series(1, 5) g")
    cur.execute("INSERT INTO relationships_organisation (code, name, kind) VALUES ('HQ', '总部', 'hq')")
    cur.execute("""
        INSERT INTO relationships_organisation (code, name, kind, parent_id, region_id)
        SELECT 'BB' || lpad(g::text, 2, '0'), '分公司' || g, 'branch',
               (SELECT id FROM relationships_organisation WHERE code = 'HQ'),
               (SELECT id FROM relationships_region WHERE code = 'R' || (1 + (g - 1) %% 5))
        FROM generate_series(1, %(b)s) g""", {"b": N_OUTLETS // OUTLETS_PER_BRANCH})
    cur.execute("UPDATE relationships_organisation SET branch_id = id WHERE kind = 'branch'")
    cur.execute("""
        INSERT INTO relationships_organisation (code, name, kind, parent_id, branch_id, region_id)
        SELECT 'BO' || lpad(g::text, 3, '0'), '营业部' || g, 'outlet', b.id, b.id, b.region_id
        FROM generate_series(0, %(o)s - 1) g
        JOIN relationships_organisation b ON b.code = 'BB' || lpad((g / %(per)s + 1)::text, 2, '0')""",
                {"o": N_OUTLETS, "per": OUTLETS_PER_BRANCH})


def generate(cur, *, openings: int, reservations: int, staff: int, day: dt.date) -> dict:
    """Returns the planned outcome counts. All statements are INSERT … SELECT over generate_series."""
    staff = max(2 * N_OUTLETS, staff - staff % N_OUTLETS)   # a multiple of the outlets: duplicates share an outlet
    params = {"n": openings, "m": reservations, "s": staff, "d": day}
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
               ((%(d)s::date + time '09:00') + (i %% 23400) * interval '1 second') AT TIME ZONE 'Asia/Shanghai' AS t,
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
        SELECT 'BE' || lpad(i::text, 10, '0'), t, %(d)s, ev_kind, acct_type, 'A' || lpad(i::text, 10, '0'),
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


def vacuum(cur) -> None:
    for table in ("relationships_customer", "relationships_account", "relationships_accountevent",
                  "relationships_staff", "relationships_qualification", "relationships_organisation",
                  "reservations_reservation", "reservations_reservationparticipant"):
        cur.execute(f"VACUUM (ANALYZE) {table}")


# --- reference points ------------------------------------------------------------------------------------

FLOOR_SQL = """
CREATE TEMP TABLE bench_floor AS
SELECT e.id AS event_id, r.id AS reservation_id, rt.code AS type_code, r.staff_id
FROM relationships_accountevent e
JOIN relationships_customer c ON c.id = e.customer_id
JOIN relationships_relationshiptype rt
  ON rt.match_event_kind = e.kind AND rt.match_account_type = e.account_type
 AND (rt.match_customer = 'any' OR (rt.match_customer = 'new' AND NOT e.existing_customer)
      OR (rt.match_customer = 'existing' AND e.existing_customer))
 AND (NOT rt.match_first_only OR e.first_of_kind)
JOIN reservations_reservation r
  ON r.id_hash = c.id_hash AND r.type_id = rt.code AND r.status = 'active'
 AND r.registered_at < e.event_time AND e.business_date <= r.valid_until
WHERE e.match_state = 'pending' AND e.business_date <= %s
"""


def floor_seconds(cur, day: dt.date) -> float:
    started = time.perf_counter()
    cur.execute(FLOOR_SQL, [day])
    elapsed = time.perf_counter() - started
    cur.execute("DROP TABLE bench_floor")
    return elapsed


def naive_seconds_estimate(day: dt.date, every: int = 100) -> float:
    """A per-row ORM loop over every `every`-th pending opening, rolled back, extrapolated."""
    from django.db import transaction

    from relationships.identity import normalise_name
    from relationships.models import AccountEvent, Relationship, RelationshipShare, RelationshipType
    from reservations.models import Reservation

    ids = list(AccountEvent.objects.filter(match_state="pending", business_date__lte=day)
               .order_by("id").values_list("id", flat=True))
    sample = ids[::every]
    if not sample:
        return 0.0
    types = list(RelationshipType.objects.exclude(match_event_kind=""))
    started = time.perf_counter()
    with transaction.atomic():
        for event_id in sample:
            event = AccountEvent.objects.select_related("customer").get(pk=event_id)
            for rt in types:
                if (rt.match_event_kind != event.kind or rt.match_account_type != event.account_type
                        or (rt.match_customer == "new" and event.existing_customer)
                        or (rt.match_customer == "existing" and not event.existing_customer)
                        or (rt.match_first_only and not event.first_of_kind)):
                    continue
                found = list(Reservation.objects.filter(
                    id_hash=event.customer.id_hash, type=rt, status="active", registered_at__lt=event.event_time,
                    valid_until__gte=event.business_date).prefetch_related("participants"))
                if len(found) == 1 and found[0].name_normalised == normalise_name(event.customer_name):
                    reservation = found[0]
                    rel = Relationship.objects.create(customer=event.customer, type=rt,
                                                      effective_from=event.business_date, source="reservation",
                                                      origin_event=event, outlet_id=event.outlet_id)
                    for p in reservation.participants.all():
                        RelationshipShare.objects.create(relationship=rel, staff_id=p.staff_id, ratio=p.ratio,
                                                         effective_from=event.business_date)
                    reservation.status, reservation.relationship, reservation.matched_event = "matched", rel, event
                    reservation.save(update_fields=["status", "relationship", "matched_event", "updated_at"])
            event.match_state, event.matched_on = "done", day
            event.save(update_fields=["match_state", "matched_on"])
        transaction.set_rollback(True)
    return (time.perf_counter() - started) * len(ids) / len(sample)


# --- main ------------------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--openings", type=int, required=True, help="pending opening events (N)")
    parser.add_argument("--reservations", type=int, required=True, help="reservations (M)")
    parser.add_argument("--staff", type=int, default=3000, help="front staff (rounded to a multiple of 300)")
    parser.add_argument("--date", default="2026-11-16", help="business date of the openings")
    parser.add_argument("--chunk-size", type=int, default=None, help="MATCH_CHUNK_SIZE override")
    parser.add_argument("--keep", action="store_true", help="keep the bench database afterwards")
    args = parser.parse_args()
    day = dt.date.fromisoformat(args.date)

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_platform.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")  # development settings (the embedded keys), as before
    bench_url, admin = bench_database()
    os.environ["DATABASE_URL"] = bench_url
    recreate(admin)

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection, connections

    settings.DEBUG = False  # no query log: production conditions
    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    log(f"migrated {BENCH_DB} in {time.perf_counter() - started:.1f} s")

    started = time.perf_counter()
    with connection.cursor() as cur:
        planned = generate(cur, openings=args.openings, reservations=args.reservations, staff=args.staff, day=day)
        generated = time.perf_counter() - started
        vacuum(cur)
    log(f"generated {args.openings} openings and {args.reservations} reservations in {generated:.1f} s "
        f"(+ vacuum/analyze {time.perf_counter() - started - generated:.1f} s); expected {planned}")

    with connection.cursor() as cur:
        floor = floor_seconds(cur, day)
    log(f"floor: single on-time join {floor:.2f} s")
    naive = naive_seconds_estimate(day)
    log(f"naive: per-row ORM loop, estimated {naive:.1f} s")

    from reservations.matching import match_pending_events

    started = time.perf_counter()
    counts = match_pending_events(business_date=day, chunk_size=args.chunk_size)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    log("outcomes: " + " ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    mismatched = {k: (counts.get(k, 0), v) for k, v in planned.items() if counts.get(k, 0) != v}
    if mismatched:
        log(f"WARNING: outcome counts differ from the plan (got, expected): {mismatched}")
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM relationships_accountevent WHERE match_state = 'pending'")
        left = cur.fetchone()[0]
    if left:
        log(f"WARNING: {left} events still pending")

    connections.close_all()
    if not args.keep:
        recreate(admin, create=False)
    log(f"match openings={args.openings} reservations={args.reservations} seconds={seconds:.2f} "
        f"rows_per_s={args.openings / seconds:.0f} peak_mb={peak_mb:.0f} floor_seconds={floor:.2f} "
        f"naive_seconds_est={naive:.1f}")


if __name__ == "__main__":
    main()
