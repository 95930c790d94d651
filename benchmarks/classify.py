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

Metrics: one row per customer per trading day (Monday–Friday) for the 13 complete months before D, as a
production metrics table holds them, and the per-customer monthly summary the metrics load keeps (built as its
migration builds it).

Timed: the first night (every class new, silence judged), then, interleaved with hand-written SQL floors
(medians of --repeat):
- a night: `customers_classify` again (the stored silent set; nothing changes) against the customers whose latest
  lifecycle event is a loss or a dormancy, and the stored silent set, into temporary tables;
- a judgement night (the judgement dropped, as a metrics load touching the window does): the silent set judged
  again from the monthly summary, against the same set by one hand-written statement over the summary;
- before: `customers_classify(recompute_silent=True)`, the silent judgement from the daily metrics that every
  night used to make.

The last line printed is:
    classify customers=N seconds=S rows_per_s=R peak_mb=P night_s=… night_floor_ratio=… judgement_s=…
    judgement_floor_ratio=… before_s=…
(S: the first night.)
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import generate_org_tree, log, migrated_bench_database, recreate  # noqa: E402

BENCH_DB = os.environ.get("CRM_BENCH_DB", "crm_bench_classify")


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
    # Metrics: one row per customer per trading day (Monday–Friday) for the 13 complete months before D; a
    # month-end is the month's last trading day.
    cur.execute("""
        CREATE TEMP TABLE b_days AS
        SELECT d::date AS day FROM generate_series(date_trunc('month', %(d)s::date) - interval '13 month',
                                                   date_trunc('month', %(d)s::date) - interval '1 day',
                                                   interval '1 day') d
        WHERE extract(isodow FROM d) < 6""", p)
    cur.execute("INSERT INTO performance_metricdate (date, loaded_at) SELECT day, now() FROM b_days")
    cur.execute("SELECT day FROM b_days ORDER BY day")
    days = [row[0] for row in cur.fetchall()]
    trade_day = days[len(days) // 2]   # the one trade of customers 60–64
    for day in days:   # one statement a day, in date order, as the feed fills the table
        cur.execute("""
            INSERT INTO performance_dailymetric (customer_id, date, assets, net_commission, turnover, trade_count,
                                                 transfer_in)
            SELECT i + 1, %(day)s,
                   CASE WHEN i %% 100 BETWEEN 40 AND 64 THEN 300 + (i %% 600) ELSE 5000 + (i %% 100000) END,
                   0, 0,
                   CASE WHEN i %% 100 BETWEEN 40 AND 59 THEN 0
                        WHEN i %% 100 BETWEEN 60 AND 64 THEN (%(day)s = %(trade_day)s::date)::int
                        WHEN (i + %(k)s) %% 3 = 0 THEN 1 + i %% 3 ELSE 0 END,
                   0
            FROM generate_series(0, %(n)s - 1) i ORDER BY i""", {**p, "day": day, "k": day.toordinal(),
                                                                   "trade_day": trade_day})
    # The monthly summary the metrics load keeps (performance.feeds), as the migration builds it.
    cur.execute("""
        INSERT INTO performance_customermonth (customer_id, month, last_date, assets, trade_days)
        SELECT DISTINCT ON (customer_id, date_trunc('month', date))
               customer_id, date_trunc('month', date)::date, date, assets,
               count(*) FILTER (WHERE trade_count > 0) OVER (PARTITION BY customer_id, date_trunc('month', date))
        FROM performance_dailymetric ORDER BY customer_id, date_trunc('month', date), date DESC""")
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


# The silent set by hand, from the same monthly summary (with the outlet of the latest account).
JUDGE_FLOOR = """
CREATE TEMP TABLE f_silent AS
SELECT q.customer_id, (SELECT a.outlet_id FROM relationships_account a WHERE a.customer_id = q.customer_id
                       ORDER BY a.opened_at DESC NULLS LAST, a.id DESC LIMIT 1) AS outlet_id
FROM (SELECT cm.customer_id FROM performance_customermonth cm
      JOIN unnest(%(ends)s::date[]) e(day) ON cm.month = date_trunc('month', e.day)::date AND cm.last_date = e.day
      WHERE cm.assets < 1000 AND cm.trade_days = 0
      GROUP BY cm.customer_id HAVING count(*) = %(months)s) q
"""


def vacuum(cur) -> None:
    for table in ("relationships_customer", "relationships_account", "relationships_accountevent",
                  "performance_dailymetric", "performance_metricdate", "relationships_organisation",
                  "performance_customermonth"):
        cur.execute(f"VACUUM (ANALYZE) {table}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, required=True, help="customers (N)")
    parser.add_argument("--date", default="2026-11-16", help="business date")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved runs of product and floor")
    parser.add_argument("--keep", action="store_true", help="keep the bench database afterwards")
    args = parser.parse_args()
    day = dt.date.fromisoformat(args.date)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_platform.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")  # development settings (the embedded keys), as before
    _bench_url, admin = migrated_bench_database(BENCH_DB)

    from django.db import connection, connections

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

    from django.db import transaction
    from nightly import CLASSIFY_FLOOR, interleaved, run_floor

    def steady_product() -> float:
        started = time.perf_counter()
        again = customers_classify(business_date=day)
        assert not any(v for k, v in again.items() if k.startswith(("new_", "ended_"))), again
        return time.perf_counter() - started

    def steady_floor() -> float:
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute("SET LOCAL work_mem = '256MB'")
            return run_floor(cur, CLASSIFY_FLOOR, {"day": day}, "f_life, f_class")

    def judge_product() -> float:
        from performance.models import SilentJudgement

        SilentJudgement.objects.all().delete()   # as a metrics load touching the window does
        started = time.perf_counter()
        again = customers_classify(business_date=day)
        assert again["silent_rejudged"] == 1 and not any(
            v for k, v in again.items() if k.startswith(("new_", "ended_"))), again
        return time.perf_counter() - started

    def judge_floor() -> float:
        from performance.classification import SILENT_MONTHS, silent_window

        with transaction.atomic(), connection.cursor() as cur:
            w0, w1 = silent_window(day)
            cur.execute("SELECT max(date) FROM performance_metricdate WHERE date BETWEEN %s AND %s "
                        "GROUP BY date_trunc('month', date) ORDER BY 1", [w0, w1])
            ends = [row[0] for row in cur.fetchall()]
            return run_floor(cur, [JUDGE_FLOOR], {"ends": ends, "months": SILENT_MONTHS}, "f_silent")

    log(f"interleaved, median of {args.repeat}:")
    steady = interleaved("a night (the stored silent set)", steady_floor, steady_product, args.repeat)
    judged = interleaved("a judgement night (silence from the monthly summary)", judge_floor, judge_product,
                         args.repeat)
    before = []
    for _i in range(args.repeat):
        started = time.perf_counter()
        customers_classify(business_date=day, recompute_silent=True)
        before.append(time.perf_counter() - started)
    log(f"  before (every night judged silence from the daily metrics): median {statistics.median(before):.2f} s")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    connections.close_all()
    if not args.keep:
        recreate(admin, BENCH_DB, create=False)
    log(f"classify customers={args.customers} seconds={seconds:.2f} rows_per_s={args.customers / seconds:.0f} "
        f"peak_mb={peak_mb:.0f} night_s={steady[0]:.3f} night_floor_ratio={steady[0] / steady[1]:.2f} "
        f"judgement_s={judged[0]:.3f} judgement_floor_ratio={judged[0] / judged[1]:.2f} "
        f"before_s={statistics.median(before):.2f}")


if __name__ == "__main__":
    main()
