#!/usr/bin/env python
"""Benchmark of the nightly classification of lost / dormant / silent customers (R-SEC-6) at scale.

    .venv/bin/python benchmarks/classify.py --customers 1000000 [--keep]

Creates the database `crm_bench_classify` (dropped first) on the server of DATABASE_URL, or on the
embedded server when DATABASE_URL is unset; migrates it; generates with set-based SQL an organisation
tree, N customers with one securities account each, their account events and 13 months of metrics;
then times `customers_classify(business_date=D)` twice: the first night (every class is new) and the
same night again (steady state: nothing changes, the cost of a quiet night).

The mix (by customer i mod 100):
- 0–4   cancel their Shanghai A-share designation in the last year (lost); 0–1 re-designate later (back);
- 5–7   close their only securities account (lost);
- 8–10  go dormant; 8 is activated again;
- 11–30 re-designate once (noise events, no state);
- 40–59 month-end assets below 1,000 yuan and no trade for the 13 months (silent);
- 60–64 low assets but one trade in the window (not silent); everyone else holds 5,000 yuan or more.

Metrics: every customer has a row on each reported month-end (13 month-ends) and, for 70 % of them,
one mid-month trading day per month — about 22 rows per customer. A production metrics table holds a
row per customer and trading day (~21 a month). The classification reads the 12 month-end dates
through the BRIN index on the date (cost independent of the density) and scans the 12-month window
once for the customers who traded (cost proportional to the window's rows: with daily density expect
that scan to dominate, roughly ten times the rows generated here).

The last line printed is:
    classify customers=N seconds=S rows_per_s=R peak_mb=P
(S: the first night; the steady-state night is logged on the line before.)
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from match import bench_database, generate_org_tree, log  # noqa: E402

BENCH_DB = "crm_bench_classify"


def recreate(admin: dict, create: bool = True) -> None:
    import psycopg

    with psycopg.connect(**admin) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        if create:
            conn.execute(f"CREATE DATABASE {BENCH_DB}")


def generate(cur, *, customers: int, day: dt.date) -> dict:
    """Returns the expected open classes. Every statement is INSERT … SELECT over generate_series."""
    p = {"n": customers, "d": day}
    cur.execute("SET session_replication_role = replica")
    cur.execute("SET work_mem = '256MB'")
    generate_org_tree(cur)
    cur.execute("CREATE TEMP TABLE b_outlet AS SELECT substr(code, 3)::int AS idx, id "
                "FROM relationships_organisation WHERE kind = 'outlet'")
    cur.execute("""
        INSERT INTO relationships_customer (id, id_hash, id_encrypted, id_masked, name, phone_encrypted, created_at)
        SELECT i + 1, encode(sha256(convert_to('bench-cls-' || i, 'UTF8')), 'hex'), 'bench', '110105********0000',
               '客户' || i, '', now()
        FROM generate_series(0, %(n)s - 1) i""", p)
    cur.execute("SELECT setval(pg_get_serial_sequence('relationships_customer', 'id'), %(n)s)", p)
    # Each customer: one securities account opened in 2023 at outlet i mod 300.
    cur.execute("""
        INSERT INTO relationships_account (customer_id, account_no, account_type, outlet_id, opened_at)
        SELECT i + 1, 'A' || lpad(i::text, 10, '0'), 'securities', o.id,
               timestamptz '2023-01-03 09:30+08' + (i %% 300) * interval '1 day'
        FROM generate_series(0, %(n)s - 1) i JOIN b_outlet o ON o.idx = i %% 300""", p)
    # Events: (customer, kind, offset in days from D); times at 10:00 Shanghai.
    cur.execute("""
        CREATE TEMP TABLE b_ev AS
        SELECT i, 'open' AS kind, (timestamptz '2023-01-03 09:30+08' + (i %% 300) * interval '1 day') AS t
        FROM generate_series(0, %(n)s - 1) i
        UNION ALL SELECT i, 'cancel_designation', (%(d)s::date - 30 - (i * 7) %% 300 + time '10:00') AT TIME ZONE 'Asia/Shanghai'
        FROM generate_series(0, %(n)s - 1) i WHERE i %% 100 BETWEEN 0 AND 4
        UNION ALL SELECT i, 'designate', (%(d)s::date - 10 + time '10:00') AT TIME ZONE 'Asia/Shanghai'
        FROM generate_series(0, %(n)s - 1) i WHERE i %% 100 BETWEEN 0 AND 1
        UNION ALL SELECT i, 'close', (%(d)s::date - 20 - (i * 11) %% 300 + time '10:00') AT TIME ZONE 'Asia/Shanghai'
        FROM generate_series(0, %(n)s - 1) i WHERE i %% 100 BETWEEN 5 AND 7
        UNION ALL SELECT i, 'dormant', (%(d)s::date - 100 - (i * 13) %% 200 + time '10:00') AT TIME ZONE 'Asia/Shanghai'
        FROM generate_series(0, %(n)s - 1) i WHERE i %% 100 BETWEEN 8 AND 10
        UNION ALL SELECT i, 'activate', (%(d)s::date - 5 + time '10:00') AT TIME ZONE 'Asia/Shanghai'
        FROM generate_series(0, %(n)s - 1) i WHERE i %% 100 = 8
        UNION ALL SELECT i, 'designate', (%(d)s::date - 400 + (i %% 200) + time '10:00') AT TIME ZONE 'Asia/Shanghai'
        FROM generate_series(0, %(n)s - 1) i WHERE i %% 100 BETWEEN 11 AND 30""", p)
    cur.execute("""
        INSERT INTO relationships_accountevent (event_id, event_time, business_date, kind, account_type, account_no,
            customer_name, existing_customer, first_of_kind, match_state, match_outcome, loaded_at, customer_id,
            outlet_id)
        SELECT 'CE' || row_number() OVER (ORDER BY e.t, e.i), e.t, (e.t AT TIME ZONE 'Asia/Shanghai')::date, e.kind,
               'securities', 'A' || lpad(e.i::text, 10, '0'), '客户' || e.i, e.kind <> 'open', true,
               CASE WHEN e.kind = 'open' THEN 'done' END, '', now(), e.i + 1, o.id
        FROM b_ev e JOIN b_outlet o ON o.idx = e.i % 300
        ORDER BY e.t, e.i""")
    # Metrics: 13 reported month-ends up to the last complete month, plus a mid-month day each month.
    cur.execute("""
        CREATE TEMP TABLE b_days AS
        SELECT (date_trunc('month', %(d)s::date) - (k || ' month')::interval - interval '1 day')::date AS day,
               true AS month_end FROM generate_series(0, 12) k
        UNION ALL
        SELECT (date_trunc('month', %(d)s::date) - (k || ' month')::interval + interval '14 day')::date, false
        FROM generate_series(1, 13) k""", p)
    cur.execute("INSERT INTO performance_metricdate (date, loaded_at) SELECT day, now() FROM b_days")
    cur.execute("""
        INSERT INTO performance_dailymetric (customer_id, date, assets, net_commission, turnover, trade_count,
                                             transfer_in)
        SELECT i + 1, d.day,
               CASE WHEN i %% 100 BETWEEN 40 AND 64 THEN 300 + (i %% 600) ELSE 5000 + (i %% 100000) END,
               0, 0,
               CASE WHEN NOT d.month_end AND (i %% 100 NOT BETWEEN 40 AND 64 OR
                                              (i %% 100 BETWEEN 60 AND 64 AND d.day = (SELECT max(day) FROM b_days
                                                                                        WHERE NOT month_end)))
                    THEN 1 + i %% 3 ELSE 0 END,
               0
        FROM generate_series(0, %(n)s - 1) i CROSS JOIN b_days d
        WHERE d.month_end OR i %% 100 < 70 OR i %% 100 BETWEEN 60 AND 64
        ORDER BY d.day, i""", p)
    cur.execute("SET session_replication_role = origin")
    cur.execute("SELECT count(*) FROM performance_dailymetric")
    metric_rows = cur.fetchone()[0]
    cur.execute("SELECT count(*) FROM relationships_accountevent")
    event_rows = cur.fetchone()[0]
    for table in ("b_ev", "b_days", "b_outlet"):
        cur.execute(f"DROP TABLE {table}")
    per100 = lambda lo, hi: sum(1 for i in range(customers) if lo <= i % 100 <= hi)  # noqa: E731
    return {"lost": per100(2, 7), "dormant": per100(9, 10), "silent": per100(40, 59),
            "metric_rows": metric_rows, "event_rows": event_rows}


def vacuum(cur) -> None:
    for table in ("relationships_customer", "relationships_account", "relationships_accountevent",
                  "performance_dailymetric", "performance_metricdate", "relationships_organisation"):
        cur.execute(f"VACUUM (ANALYZE) {table}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, required=True, help="customers (N)")
    parser.add_argument("--date", default="2026-11-16", help="business date")
    parser.add_argument("--keep", action="store_true", help="keep the bench database afterwards")
    args = parser.parse_args()
    day = dt.date.fromisoformat(args.date)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_platform.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")  # development settings (the embedded keys), as before
    bench_url, admin = bench_database()
    bench_url = bench_url.rsplit("/", 1)[0] + "/" + BENCH_DB
    os.environ["DATABASE_URL"] = bench_url
    recreate(admin)

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection, connections

    settings.DEBUG = False
    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    log(f"migrated {BENCH_DB} in {time.perf_counter() - started:.1f} s")

    started = time.perf_counter()
    with connection.cursor() as cur:
        expected = generate(cur, customers=args.customers, day=day)
        generated = time.perf_counter() - started
        vacuum(cur)
    log(f"generated {args.customers} customers, {expected['event_rows']} events, {expected['metric_rows']} metric "
        f"rows in {generated:.1f} s (+ vacuum/analyze {time.perf_counter() - started - generated:.1f} s)")

    import logging

    from performance.classification import customers_classify

    logging.getLogger("performance.classification").setLevel(logging.DEBUG)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("  %(message)s"))
    logging.getLogger("performance.classification").addHandler(handler)
    logging.getLogger("performance.classification").propagate = False

    started = time.perf_counter()
    counts = customers_classify(business_date=day)
    seconds = time.perf_counter() - started
    log("first night: " + " ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    wrong = {k: (counts.get(k, 0), v) for k, v in expected.items() if k in ("lost", "dormant", "silent")
             and counts.get(k, 0) != v}
    if wrong:
        log(f"WARNING: open classes differ from the plan (got, expected): {wrong}")

    started = time.perf_counter()
    again = customers_classify(business_date=day)
    steady = time.perf_counter() - started
    changed = {k: v for k, v in again.items() if k.startswith(("new_", "ended_")) and v}
    log(f"steady-state night (same date again): {steady:.2f} s, changes {changed or 'none'}")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    connections.close_all()
    if not args.keep:
        recreate(admin, create=False)
    log(f"classify customers={args.customers} seconds={seconds:.2f} rows_per_s={args.customers / seconds:.0f} "
        f"peak_mb={peak_mb:.0f}")


if __name__ == "__main__":
    main()
