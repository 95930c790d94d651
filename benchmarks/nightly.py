#!/usr/bin/env python
"""The whole night at a given scale (issue 18): every stage of `reservations.pipeline`, night after night.

    .venv/bin/python benchmarks/nightly.py --customers 20000 [--keep]

Creates the database named by CRM_BENCH_DB (default `crm_bench_nightly`; dropped first) on DATABASE_URL's server,
migrates it, and generates with set-based SQL:

- the organisation tree and 3,000 staff, and the matching world of `benchmarks/match.py` (openings of new and
  existing customers with on-time, duplicate, late, misnamed and cross-branch reservations, and many more
  reservations that meet nothing): N/100 openings a trading night, spread over the trading days 1–22 December
  2026 (the openings and the reservations meeting them are moved to their day), N/2 reservations in all;
- N customers with a securities account since 2024, a tenth lost, dormant or active again (classify.py's mix),
  70 % holding a relationship (3 in 20 co-developed) whose callback is done, 3 audit rows each;
- one metrics row per customer per trading day (Monday–Friday) for 13 months, December 2025 to November 2026, and
  the monthly summary the metrics load keeps; the months before November are locked by HQ, November is computed.

Then it runs the nights of 1–22 December 2026 one by one (between two nights, untimed, a VACUUM (ANALYZE) of the
tables the night rewrites, as autovacuum does in the day between; `--no-vacuum-between` leaves it out): the day's
metrics (one row per customer, loaded with
the feed's set-based statements: upsert, summary, reported day), then every stage of the pipeline, each timed.
It prints per night and stage the seconds, and for the nights of the 2nd, 15th and 22nd the stage lines with
rows/s. On the 2nd and the 22nd it also measures, interleaved, median of `--repeat` runs:
- performance: the night's computation of that day (`compute_month_incremental` after the day is re-reported)
  against a hand-written SQL floor (the day's aggregate, and the month's rows moved by it less the day's stored
  rows, into temporary tables), and the month recomputed whole as every night did before (`compute_period`);
- classification: the night's re-run (`customers_classify`) against a hand-written floor (the customers whose
  latest lifecycle event is a loss or dormancy, and the stored silent set, into temporary tables); on the 1st
  also the full silent judgement from the daily metrics (`recompute_silent`, what every night did before).

The last lines: the 10M-customer extrapolation (each stage's seconds on the 15th × 10M / N: linear in the
customers, the openings and the reservations, which all scale with N here), and
    nightly customers=N seconds_15th=S extrapolated_10m_s=E peak_mb=P
(peak_mb: this process's peak resident memory; the work itself runs in PostgreSQL).
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

import match as match_bench  # noqa: E402  (the matching world: `match_bench.generate`)
from _common import log, migrated_bench_database, recreate  # noqa: E402

BENCH_DB = os.environ.get("CRM_BENCH_DB", "crm_bench_nightly")
MONTH = dt.date(2026, 12, 1)
FIRST_METRICS = dt.date(2025, 12, 1)
LAST_NIGHT = dt.date(2026, 12, 22)


def trading_days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=k) for k in range((last - first).days + 1)
            if (first + dt.timedelta(days=k)).weekday() < 5]


# --- data generation (set-based SQL only) ----------------------------------------------------------------

def spread_openings(cur, nights: list[dt.date]) -> None:
    """match.py generates every opening on the 1st: move opening i and the reservations that meet it to night
    i mod n (the same times of day, the same registration offsets)."""
    cur.execute("""
        CREATE TEMP TABLE b_shift AS
        SELECT e.id, c.id_hash, (%(nights)s::date[])[1 + substr(e.event_id, 3)::int %% %(n)s] - e.business_date AS days
        FROM relationships_accountevent e JOIN relationships_customer c ON c.id = e.customer_id
        WHERE e.event_id LIKE 'BE%%'""", {"nights": nights, "n": len(nights)})
    cur.execute("""
        UPDATE relationships_accountevent e SET business_date = e.business_date + s.days,
               event_time = e.event_time + s.days * interval '1 day'
        FROM b_shift s WHERE s.id = e.id""")
    cur.execute("""
        UPDATE reservations_reservation r SET registered_at = r.registered_at + s.days * interval '1 day',
               valid_until = (((r.registered_at + s.days * interval '1 day') AT TIME ZONE 'Asia/Shanghai')::date
                              + interval '1 month')::date
        FROM b_shift s WHERE s.id_hash = r.id_hash""")
    cur.execute("DROP TABLE b_shift")


def generate_base(cur, *, customers: int, staff: int) -> dict:
    """N customers with accounts, lifecycle events, relationships, audit rows and 13 months of daily metrics."""
    p = {"n": customers, "s": staff, "m0": FIRST_METRICS, "m1": MONTH - dt.timedelta(days=1)}
    cur.execute("SET session_replication_role = replica")
    cur.execute("SET work_mem = '256MB'")
    cur.execute("CREATE TEMP TABLE b_outlet AS SELECT row_number() OVER (ORDER BY id) - 1 AS idx, id "
                "FROM relationships_organisation WHERE kind = 'outlet'")
    cur.execute("CREATE TEMP TABLE b_staff AS SELECT row_number() OVER (ORDER BY id) - 1 AS idx, id "
                "FROM relationships_staff WHERE staff_no LIKE 'S%%'")
    cur.execute("SELECT count(*) FROM b_staff")
    p["s"] = cur.fetchone()[0]
    cur.execute("""
        INSERT INTO relationships_customer (id_hash, id_encrypted, id_masked, name, phone_encrypted, created_at)
        SELECT encode(sha256(convert_to('bench-base-' || k, 'UTF8')), 'hex'), 'bench', '110105********0000',
               '客户' || k, '', now()
        FROM generate_series(0::bigint, %(n)s - 1) k ORDER BY k""", p)
    cur.execute("SELECT max(id) - %(n)s + 1 FROM relationships_customer", p)
    p["c0"] = cur.fetchone()[0]
    cur.execute("""
        INSERT INTO relationships_account (customer_id, account_no, account_type, outlet_id, opened_at)
        SELECT %(c0)s + k, 'N' || lpad(k::text, 10, '0'), 'securities', o.id,
               timestamptz '2024-01-02 09:30+08' + (k %% 300) * interval '1 day'
        FROM generate_series(0::bigint, %(n)s - 1) k JOIN b_outlet o ON o.idx = k %% 300""", p)
    cur.execute("""
        INSERT INTO relationships_accountevent (event_id, event_time, business_date, kind, account_type, account_no,
            customer_name, existing_customer, first_of_kind, match_state, match_outcome, loaded_at, customer_id,
            outlet_id)
        SELECT 'NE' || lpad(k::text, 9, '0') || x.kind, x.t, (x.t AT TIME ZONE 'Asia/Shanghai')::date, x.kind,
               'securities', 'N' || lpad(k::text, 10, '0'), '客户' || k, x.kind <> 'open', true, 'done', '', now(),
               %(c0)s + k, o.id
        FROM generate_series(0::bigint, %(n)s - 1) k JOIN b_outlet o ON o.idx = k %% 300
        CROSS JOIN LATERAL (VALUES
            ('open', timestamptz '2024-01-02 09:30+08' + (k %% 300) * interval '1 day', true),
            ('cancel_designation', timestamptz '2026-03-02 10:00+08' + (k %% 200) * interval '1 day', k %% 100 < 5),
            ('designate', timestamptz '2026-11-02 10:00+08', k %% 100 < 2),
            ('close', timestamptz '2026-04-01 10:00+08' + (k %% 150) * interval '1 day', k %% 100 BETWEEN 5 AND 7),
            ('dormant', timestamptz '2026-02-02 10:00+08' + (k %% 100) * interval '1 day', k %% 100 BETWEEN 8 AND 10),
            ('activate', timestamptz '2026-11-10 10:00+08', k %% 100 = 8)) AS x(kind, t, wanted)
        WHERE x.wanted""", p)
    cur.execute("""
        INSERT INTO relationships_relationship (customer_id, type_id, effective_from, source, outlet_id, created_at)
        SELECT %(c0)s + k, (ARRAY['NEW_DEV', 'IB_SERVICE', 'CREDIT_DEV'])[1 + k %% 3],
               DATE '2024-01-02' + (k %% 600)::int, 'bench', o.id, now()
        FROM generate_series(0::bigint, %(n)s - 1) k JOIN b_outlet o ON o.idx = k %% 300
        WHERE k %% 10 < 7 ORDER BY k""", p)
    cur.execute("""
        INSERT INTO relationships_relationshipshare (relationship_id, staff_id, ratio, effective_from)
        SELECT r.id, s.id, x.ratio, r.effective_from
        FROM relationships_relationship r
        CROSS JOIN LATERAL (SELECT r.customer_id - %(c0)s AS k) kk
        JOIN (VALUES (0, 0, 1.0), (1, 0, 0.6), (1, 1, 0.4), (2, 0, 0.5), (2, 1, 0.3), (2, 2, 0.2))
             AS x(shape, slot, ratio)
          ON x.shape = CASE WHEN kk.k %% 20 < 16 THEN 0 WHEN kk.k %% 20 < 19 THEN 1 ELSE 2 END
        JOIN b_staff s ON s.idx = (kk.k * 7919 + x.slot * 104729) %% %(s)s
        WHERE r.source = 'bench'""", p)
    cur.execute("""
        INSERT INTO relationships_callback (relationship_id, outlet_id, created_on, due_on, status, reason,
                                            resolution, resolution_note, recorded_at)
        SELECT r.id, r.outlet_id, r.effective_from, r.effective_from + 7, 'confirmed', '', '', '', now()
        FROM relationships_relationship r WHERE r.source = 'bench'""")
    cur.execute("""
        INSERT INTO relationships_auditentry (at, actor_label, action, target_model, target_id, before, after)
        SELECT now() - (k %% 400) * interval '1 day', 'bench', 'bench.history', 'relationships.customer',
               (%(c0)s + k / 3)::text, NULL, jsonb_build_object('k', k)
        FROM generate_series(0::bigint, 3 * %(n)s - 1) k""", p)
    days = trading_days(FIRST_METRICS, MONTH - dt.timedelta(days=1))
    for day in days:   # one statement a day, in date order, as the feed fills the table
        insert_day_metrics(cur, day, p)
    cur.execute("INSERT INTO performance_metricdate (date, loaded_at) SELECT unnest(%s::date[]), now()", [days])
    cur.execute("""
        INSERT INTO performance_customermonth (customer_id, month, last_date, assets, trade_days)
        SELECT DISTINCT ON (customer_id, date_trunc('month', date))
               customer_id, date_trunc('month', date)::date, date, assets,
               count(*) FILTER (WHERE trade_count > 0) OVER (PARTITION BY customer_id, date_trunc('month', date))
        FROM performance_dailymetric ORDER BY customer_id, date_trunc('month', date), date DESC""")
    cur.execute("""
        INSERT INTO performance_periodlock (period, locked_by_label, locked_at)
        SELECT generate_series(%(m0)s::date, DATE '2026-10-01', interval '1 month')::date, 'bench', now()""", p)
    cur.execute("SET session_replication_role = origin")
    cur.execute("DROP TABLE b_outlet, b_staff")
    cur.execute("SELECT count(*) FROM performance_dailymetric")
    return {"c0": p["c0"], "metric_rows": cur.fetchone()[0], "metric_days": len(days)}


# The day's metrics of customer k: silent (k mod 100 in 40–59: 300–899 yuan, no trade), low with one trade in
# June (60–64), everyone else 5,000 yuan and more, trading every third day.
_DAY_METRICS = """
INSERT INTO performance_dailymetric (customer_id, date, assets, net_commission, turnover, trade_count, transfer_in)
SELECT %(c0)s + k, %(day)s,
       CASE WHEN k %% 100 BETWEEN 40 AND 64 THEN 300 + k %% 600
            ELSE 5000 + ((k * 7919) %% 1000000) / 100.0 + %(di)s %% 17 END,
       x.trades * 5.25, x.trades * 10000.5, x.trades,
       CASE WHEN (k + %(di)s) %% 50 = 0 THEN 1000 ELSE 0 END
FROM generate_series(0::bigint, %(n)s - 1) k
CROSS JOIN LATERAL (SELECT CASE WHEN k %% 100 BETWEEN 40 AND 59 THEN 0
                                WHEN k %% 100 BETWEEN 60 AND 64 THEN (%(day)s = DATE '2026-06-15')::int
                                WHEN (k + %(di)s) %% 3 = 0 THEN 1 + k %% 5 ELSE 0 END AS trades) x
ORDER BY k
"""


def insert_day_metrics(cur, day: dt.date, p: dict) -> None:
    cur.execute(_DAY_METRICS, {**p, "day": day, "di": day.toordinal()})


def load_day(cur, day: dt.date, p: dict) -> None:
    """The night's metrics, with the feed's own set-based statements (performance.feeds): the upsert, the
    monthly summary, the judgement dropped when touched, the reported day."""
    from common.locks import metrics_xact_lock
    from performance.feeds import _SUMMARY_UPSERT

    metrics_xact_lock()
    cur.execute("CREATE TEMP TABLE b_stage ON COMMIT DROP AS SELECT customer_id, date AS day, assets::text AS "
                "assets_raw, trade_count::text AS trade_count_raw, NULL::boolean AS old_traded, NULL::text AS error "
                "FROM performance_dailymetric WHERE false")
    cur.execute("""INSERT INTO b_stage SELECT %(c0)s + k, %(day)s, NULL, NULL FROM generate_series(0::bigint,
                   %(n)s - 1) k""", {**p, "day": day})
    insert_day_metrics(cur, day, p)
    cur.execute("UPDATE b_stage s SET assets_raw = m.assets::text, trade_count_raw = m.trade_count::text "
                "FROM performance_dailymetric m WHERE m.customer_id = s.customer_id AND m.date = s.day")
    cur.execute(_SUMMARY_UPSERT.format(staging="b_stage"))
    cur.execute("INSERT INTO performance_metricdate (date, loaded_at) VALUES (%s, now()) ON CONFLICT (date) DO "
                "UPDATE SET loaded_at = EXCLUDED.loaded_at, version = performance_metricdate.version + 1", [day])
    cur.execute("DROP TABLE b_stage")


def vacuum(cur) -> None:
    cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    for (table,) in cur.fetchall():
        cur.execute(f'VACUUM (ANALYZE) "{table}"')


# --- floors ----------------------------------------------------------------------------------------------

PERF_FLOOR = ["""
CREATE TEMP TABLE f_day AS
SELECT s.staff_id, r.type_id, sum(m.assets * s.ratio) AS assets, sum(m.net_commission * s.ratio) AS net_commission,
       sum(m.turnover * s.ratio) AS turnover, sum(m.transfer_in * s.ratio) AS transfer_in,
       sum(m.trade_count * s.ratio) AS trade_count
FROM performance_dailymetric m
JOIN relationships_relationship r ON r.customer_id = m.customer_id
JOIN relationships_relationshipshare s ON s.relationship_id = r.id
WHERE m.date = %(day)s
  AND r.effective_from <= m.date AND (r.effective_to IS NULL OR m.date < r.effective_to)
  AND s.effective_from <= m.date AND (s.effective_to IS NULL OR m.date < s.effective_to)
GROUP BY s.staff_id, r.type_id
""", """
CREATE TEMP TABLE f_month AS
SELECT staff_id, type_id, sum(asset_days) AS asset_days, sum(assets) FILTER (WHERE last) AS assets,
       sum(net_commission) AS net_commission, sum(turnover) AS turnover, sum(transfer_in) AS transfer_in,
       sum(trade_count) AS trade_count
FROM (SELECT staff_id, type_id, asset_days, 0 AS assets, net_commission, turnover, transfer_in, trade_count,
             false AS last
      FROM performance_staffperformance WHERE grain = 'month' AND period = %(start)s
      UNION ALL
      SELECT staff_id, type_id, -asset_days, 0, -net_commission, -turnover, -transfer_in, -trade_count, false
      FROM performance_staffperformance WHERE grain = 'day' AND period = %(day)s
      UNION ALL
      SELECT staff_id, type_id, assets, assets, net_commission, turnover, transfer_in, trade_count, true
      FROM f_day) d
GROUP BY staff_id, type_id
"""]

CLASSIFY_FLOOR = ["""
CREATE TEMP TABLE f_life AS
SELECT DISTINCT ON (e.customer_id) e.customer_id, e.kind
FROM relationships_accountevent e
WHERE e.business_date <= %(day)s
  AND e.kind IN ('open', 'close', 'designate', 'cancel_designation', 'transfer_in_branch', 'dormant', 'activate')
  AND e.customer_id IN (SELECT customer_id FROM relationships_accountevent
                        WHERE kind IN ('close', 'cancel_designation', 'dormant') AND business_date <= %(day)s)
ORDER BY e.customer_id, e.event_time DESC, e.id DESC
""", """
CREATE TEMP TABLE f_class AS
SELECT customer_id, CASE WHEN kind IN ('close', 'cancel_designation') THEN 'lost' ELSE 'dormant' END AS kind
FROM f_life WHERE kind IN ('close', 'cancel_designation', 'dormant')
UNION ALL
SELECT customer_id, 'silent' FROM performance_silentcustomer s
WHERE NOT EXISTS (SELECT 1 FROM f_life l WHERE l.customer_id = s.customer_id
                  AND l.kind IN ('close', 'cancel_designation', 'dormant'))
"""]


def run_floor(cur, statements: list[str], params: dict, tables: str) -> float:
    started = time.perf_counter()
    for sql in statements:
        cur.execute(sql, params)
    elapsed = time.perf_counter() - started
    cur.execute(f"DROP TABLE {tables}")
    return elapsed


def interleaved(label: str, floor, product, repeat: int) -> tuple[float, float]:
    floors, products = [], []
    for _i in range(repeat):
        floors.append(floor())
        products.append(product())
    f, p = statistics.median(floors), statistics.median(products)
    log(f"  {label}: product median {p:.3f} s, floor median {f:.3f} s, ratio {p / f:.2f} "
        f"(runs: product {' '.join(f'{x:.3f}' for x in products)}; floor {' '.join(f'{x:.3f}' for x in floors)})")
    return p, f


def measure_day(day: dt.date, repeat: int) -> None:
    from django.db import connection, transaction

    from performance.classification import customers_classify
    from performance.nightly import compute_month_incremental
    from performance.services import compute_period

    def perf_product() -> float:
        with connection.cursor() as cur:
            cur.execute("UPDATE performance_metricdate SET version = version + 1 WHERE date = %s", [day])
        started = time.perf_counter()
        done = compute_month_incremental(period=MONTH)
        assert done["days_computed"] == 1, done
        return time.perf_counter() - started

    def perf_floor() -> float:
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute("SET LOCAL work_mem = '256MB'")
            return run_floor(cur, PERF_FLOOR, {"day": day, "start": MONTH}, "f_day, f_month")

    def classify_product() -> float:
        started = time.perf_counter()
        counts = customers_classify(business_date=day)
        assert not any(v for k, v in counts.items() if k.startswith(("new_", "ended_"))), counts
        return time.perf_counter() - started

    def classify_floor() -> float:
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute("SET LOCAL work_mem = '256MB'")
            return run_floor(cur, CLASSIFY_FLOOR, {"day": day}, "f_life, f_class")

    log(f"night {day} (day {day.day} of the month), interleaved, median of {repeat}:")
    interleaved("performance, the night's day", perf_floor, perf_product, repeat)
    interleaved("classification, a night", classify_floor, classify_product, repeat)
    started = time.perf_counter()
    with transaction.atomic():
        compute_period(period=MONTH)
        transaction.set_rollback(True)
    log(f"  before (every night recomputed the open month whole): compute_period {time.perf_counter() - started:.3f} s")


# --- main ------------------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, required=True, help="customers with metrics (N)")
    parser.add_argument("--staff", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=3, help="interleaved runs of product and floor")
    parser.add_argument("--keep", action="store_true", help="keep the bench database afterwards")
    parser.add_argument("--no-vacuum-between", dest="vacuum_between", action="store_false",
                        help="no VACUUM (ANALYZE) of the tables the night rewrites between nights (autovacuum's "
                             "work in the day between two nights; untimed)")
    args = parser.parse_args()
    n = args.customers
    nights = trading_days(MONTH, LAST_NIGHT)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_platform.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")
    _bench_url, admin = migrated_bench_database(BENCH_DB)

    from django.db import connection, connections, transaction

    started = time.perf_counter()
    openings = max(100, n // 100) * len(nights)
    with connection.cursor() as cur:
        planned = match_bench.generate(cur, openings=openings, reservations=max(n // 2, openings), staff=args.staff,
                                       day=MONTH)
        spread_openings(cur, nights)
        made = generate_base(cur, customers=n, staff=args.staff)
        generated = time.perf_counter() - started
        vacuum(cur)
    log(f"generated {n} customers, {made['metric_rows']} metric rows over {made['metric_days']} trading days, "
        f"{openings} openings over {len(nights)} nights, {max(n // 2, openings)} reservations in {generated:.1f} s "
        f"(+ vacuum/analyze {time.perf_counter() - started - generated:.1f} s); matching plan {planned}")

    from performance.classification import customers_classify
    from performance.services import compute_period
    from reservations.pipeline import STAGE_NAMES, run_stage

    started = time.perf_counter()
    compute_period(period=dt.date(2026, 11, 1))
    customers_classify(business_date=dt.date(2026, 11, 29))   # the classes before December's first judgement
    log(f"set-up: November computed, classes of 29 November in {time.perf_counter() - started:.1f} s")

    p = {"c0": made["c0"], "n": n}
    per_night: dict[dt.date, dict[str, float]] = {}
    counts_of: dict[dt.date, dict[str, dict]] = {}
    for day in nights:
        if args.vacuum_between:   # what autovacuum does in the day between two nights
            with connection.cursor() as cur:
                for table in ("performance_staffperformance", "performance_dailymetric",
                              "performance_customermonth", "relationships_accountevent", "reservations_reservation"):
                    cur.execute(f"VACUUM (ANALYZE) {table}")
        stage_seconds: dict[str, float] = {}
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cur:
            load_day(cur, day, p)
        stage_seconds["metrics_load"] = time.perf_counter() - started
        counts_of[day] = {}
        for stage in STAGE_NAMES:
            started = time.perf_counter()
            run = run_stage(business_date=day, stage=stage)
            stage_seconds[stage] = time.perf_counter() - started
            counts_of[day][stage] = run.counts or {}
        per_night[day] = stage_seconds
        log(f"{day}: " + " ".join(f"{k}={v:.2f}" for k, v in stage_seconds.items())
            + f" total={sum(stage_seconds.values()):.2f}")
        if day == MONTH:
            started = time.perf_counter()
            with transaction.atomic():
                customers_classify(business_date=day, recompute_silent=True)
                transaction.set_rollback(True)
            log(f"  before (every night judged silence from the daily metrics): {time.perf_counter() - started:.2f} s"
                f" against {stage_seconds['classify']:.2f} s for this judgement night, from the monthly summary")
        if day.day in (2, 22):
            measure_day(day, args.repeat)

    rows = {"metrics_load": n, "classify": n, "match": None, "expire": None, "secondary": None, "callbacks": None,
            "performance": n}
    for day in [d for d in nights if d.day in (2, 15, 22)]:
        log(f"stages of {day}:")
        for stage, seconds in per_night[day].items():
            count = rows.get(stage)
            if count is None:
                c = counts_of[day].get(stage, {})
                count = c.get("events_read", c.get("expired", c.get("callbacks", 0)))
            log(f"  {stage:13s} {seconds:7.2f} s  {count:>9} rows  {count / seconds if seconds else 0:>10.0f} rows/s")
    second, twenty_second = nights[1], nights[-1]
    for stage in ("classify", "performance"):
        log(f"{stage}: day 2 {per_night[second][stage]:.2f} s, day 22 {per_night[twenty_second][stage]:.2f} s")
    fifteenth = next(d for d in nights if d.day == 15)
    total = sum(per_night[fifteenth].values())
    factor = 10_000_000 / n
    extrapolated = total * factor
    stages_only = total - per_night[fifteenth]["metrics_load"]
    log(f"10M extrapolation (linear, ×{factor:.0f} from one scale): "
        + " ".join(f"{k}={v * factor:.0f}s" for k, v in per_night[fifteenth].items()) + f" total={extrapolated:.0f}s"
        f" (the pipeline's stages without the metrics load: {stages_only * factor:.0f}s)")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    connections.close_all()
    if not args.keep:
        recreate(admin, BENCH_DB, create=False)
    log(f"nightly customers={n} seconds_15th={total:.2f} extrapolated_10m_s={extrapolated:.0f} "
        f"stages_only_10m_s={stages_only * factor:.0f} peak_mb={peak_mb:.0f}")


if __name__ == "__main__":
    main()
