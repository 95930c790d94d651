#!/usr/bin/env python
"""Benchmark of the split-ratio performance computation (§10) at scale, on a fresh PostgreSQL database.

    .venv/bin/python benchmarks/performance.py --shares 1000000 --days 1 [--keep]

Creates the database `crm_bench_perf` (dropped first) the way `benchmarks/match.py` does (same server:
DATABASE_URL's, or the embedded one), migrates it, and generates with set-based SQL: HQ, 5 regions,
30 branches, 300 outlets, 3,000 front staff; exactly N relationship shares over about 0.71 × N
relationships of about 0.65 × N customers (a tenth of them hold two types), plus a tenth more
customers with no relationship; and D consecutive days of metrics (from --date) for every customer.

The mix, per block of 20 relationships (27 shares): 14 single holders with ratio 1 — one of them ended
before the window, one whose holder changes in the middle of the window (two shares), one with an
earlier holder for its first 30 days (two shares) —, 3 co-developed 0.6 / 0.4, 1 co-developed
0.5 / 0.3 / 0.2, 2 single holders with 0.6 (0.4 unallocated); one relationship in 20 becomes effective
inside the window (a new customer).

Then it times, in this order:
- floor_seconds: the same results computed by hand in plain SQL into temporary tables — one aggregate
  statement joining metrics to shares on customer and effective dates, grouped by (day, staff, type);
  the month rolled up from it; the new-customer statement. Run twice, the faster run counts. (The
  month figures alone, without the per-day figures the product also keeps, are timed for information.)
- naive_seconds_est: a straightforward per-row ORM version (per share: read its customer's metrics, then
  get_or_create and save the staff's month row per day) over a 1 % sample of the shares, in a
  rolled-back transaction, extrapolated to all shares;
- seconds: the product's `performance.services.compute_period` for each month the window touches.

Metrics are written for the trading days (Monday to Friday) of the window only, as the feed delivers them.

Then, interleaved with their floors (medians of --repeat): the night (`performance.nightly`: the last reported day
computed again into the stored day rows and the month row moved by it, against the same work by hand: the day's
aggregate and the month's rows moved by it, into temporary tables), and the months recomputed whole
(`compute_period`, what every night did before) against the floor above. Run it with --days 2 and --days 22
from a month's 1st to compare the night early and late in a month.

The last line printed is:
    performance shares=N days=D seconds=S floor_seconds=F naive_seconds_est=E peak_mb=P night_s=…
    night_floor_ratio=… whole_s=… whole_floor_ratio=…
(peak_mb: the benchmark process's peak resident memory; the work itself runs in PostgreSQL.)
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

from _common import generate_org_tree, log, migrated_bench_database, recreate  # noqa: E402

BENCH_DB = os.environ.get("CRM_BENCH_DB", "crm_bench_perf")
N_STAFF = 3000
SHARES_PER_BLOCK, RELS_PER_BLOCK = 27, 20
TYPES = ["NEW_DEV", "SECONDARY_DEV", "IB_SERVICE", "CREDIT_DEV", "REPURCHASE_DEV", "EXISTING_DEV",
         "MAINTENANCE", "KEY_SERVICE", "CORE_SERVICE", "BROKER_DEV"]


def timed(label: str, cur, sql: str, params=None) -> None:
    started = time.perf_counter()
    cur.execute(sql, params)
    log(f"  {label}: {time.perf_counter() - started:.1f} s")


# --- data generation (set-based SQL only) ----------------------------------------------------------------

def generate(cur, *, shares: int, days: int, start: dt.date) -> dict:
    blocks, rest = divmod(shares, SHARES_PER_BLOCK)
    n_rel = blocks * RELS_PER_BLOCK + rest            # the remainder: single holders with ratio 1
    n_cust = -(-n_rel * 10 // 11)                     # a tenth of the customers hold two relationships
    n_plain = n_cust // 10                            # customers with metrics but no relationship
    mid = start + dt.timedelta(days=days // 2)        # the day holders change in the middle of the window
    p = {"blocks": blocks, "rel": n_rel, "cust": n_cust, "plain": n_plain, "start": start, "days": days,
         "mid": mid, "types": TYPES, "staff": N_STAFF}
    cur.execute("SET session_replication_role = replica")   # bulk load: consistent by construction
    cur.execute("SET synchronous_commit = off")
    cur.execute("SET work_mem = '256MB'")
    generate_org_tree(cur)
    cur.execute("""
        INSERT INTO relationships_staff (staff_no, name, kind, attach_open, outlet_id)
        SELECT 'S' || lpad(g::text, 6, '0'), '员工' || g,
               (ARRAY['advisor', 'account_manager', 'account_manager', 'other_front'])[1 + g %% 4], true, o.id
        FROM generate_series(0, %(staff)s - 1) g
        JOIN relationships_organisation o ON o.code = 'BO' || lpad((g %% 300)::text, 3, '0')""", p)
    cur.execute("CREATE TEMP TABLE b_staff AS SELECT row_number() OVER (ORDER BY id) - 1 AS idx, id "
                "FROM relationships_staff")
    cur.execute("CREATE UNIQUE INDEX ON b_staff (idx)")
    # Customers: ids follow generate_series order (one statement, one sequence), so customer k is min_id + k.
    timed("customers", cur, """
        INSERT INTO relationships_customer (id_hash, id_encrypted, id_masked, name, phone_encrypted, created_at)
        SELECT 'bench' || lpad(k::text, 12, '0'), 'bench', '110105********0000', '客户' || k, '', now()
        FROM generate_series(0::bigint, %(cust)s + %(plain)s - 1) k ORDER BY k""", p)
    cur.execute("SELECT min(id), max(id) - min(id) + 1, count(*) FROM relationships_customer")
    cust0, span, count = cur.fetchone()
    assert span == count, "customer ids are not consecutive"
    # Relationships: j → customer j mod C, type differs for a customer's second relationship.
    # t = j mod 20 within a block: 13 ended before the window; 19 starts inside the window.
    timed("relationships", cur, """
        INSERT INTO relationships_relationship (customer_id, type_id, effective_from, effective_to, source, created_at)
        SELECT %(cust0)s + j %% %(cust)s,
               (%(types)s::text[])[1 + ((j %% %(cust)s) %% 8 + j / %(cust)s) %% 10],
               CASE WHEN t = 19 THEN %(start)s::date + (j %% %(days)s)::int
                    ELSE DATE '2025-01-01' + (j %% 300)::int END,
               CASE WHEN t = 13 THEN DATE '2025-12-31' END,
               'bench', now()
        FROM generate_series(0::bigint, %(rel)s - 1) j, LATERAL (SELECT CASE WHEN j < %(blocks)s * 20 THEN j %% 20
                                                                      ELSE 0 END AS t) tt
        ORDER BY j""", {**p, "cust0": cust0})
    cur.execute("SELECT min(id), max(id) - min(id) + 1 FROM relationships_relationship")
    rel0, span = cur.fetchone()
    assert span == n_rel, "relationship ids are not consecutive"
    # Shares: (t, holder slot, ratio, from, to) per pattern; staff spread by a multiplicative hash.
    timed("shares", cur, """
        INSERT INTO relationships_relationshipshare (relationship_id, staff_id, ratio, effective_from, effective_to)
        SELECT r.id, s.id, x.ratio,
               CASE x.kind WHEN 'late' THEN %(mid)s::date WHEN 'after_hist' THEN r.effective_from + 30
                           ELSE r.effective_from END,
               CASE x.kind WHEN 'early' THEN %(mid)s::date WHEN 'hist' THEN r.effective_from + 30
                           ELSE r.effective_to END
        FROM generate_series(0::bigint, %(rel)s - 1) j
        JOIN relationships_relationship r ON r.id = %(rel0)s + j
        CROSS JOIN LATERAL (SELECT CASE WHEN j < %(blocks)s * 20 THEN j %% 20 ELSE 0 END AS t) tt
        JOIN (VALUES
              -- t, holder slot, ratio, dates: plain = the relationship's; early / late = ends / starts in the
              -- middle of the window; hist = an earlier holder for 30 days, after_hist = the holder after him
              (-1, 0, 1.0, 'plain'),
              (5, 0, 1.0, 'early'), (5, 1, 1.0, 'late'),
              (7, 0, 1.0, 'hist'), (7, 1, 1.0, 'after_hist'),
              (14, 0, 0.6, 'plain'), (14, 1, 0.4, 'plain'),
              (15, 0, 0.6, 'plain'), (15, 1, 0.4, 'plain'),
              (16, 0, 0.6, 'plain'), (16, 1, 0.4, 'plain'),
              (17, 0, 0.5, 'plain'), (17, 1, 0.3, 'plain'), (17, 2, 0.2, 'plain'),
              (18, 0, 0.6, 'plain'), (19, 0, 0.6, 'plain'))
          AS x(t, slot, ratio, kind)
          ON x.t = tt.t OR (x.t = -1 AND tt.t NOT IN (5, 7, 14, 15, 16, 17, 18, 19))
        JOIN b_staff s ON s.idx = ((j * 7919 + x.slot * 104729) %% %(staff)s)
        ORDER BY j, x.slot""", {**p, "rel0": rel0})
    # Metrics: every customer every day, in date order (the way the feed fills the table).
    timed("metrics", cur, """
        INSERT INTO performance_dailymetric (customer_id, date, assets, net_commission, turnover, trade_count,
                                             transfer_in)
        SELECT %(cust0)s + k, d::date,
               ((k * 7919) %% 10000000) / 100.0,
               CASE WHEN k %% 3 = 0 THEN ((k * 31) %% 10000) / 100.0 ELSE 0 END,
               CASE WHEN k %% 3 = 0 THEN ((k * 131) %% 10000000) / 100.0 ELSE 0 END,
               CASE WHEN k %% 3 = 0 THEN 1 + k %% 5 ELSE 0 END,
               CASE WHEN k %% 50 = 0 THEN 1000 ELSE 0 END
        FROM generate_series(%(start)s::date, %(start)s::date + (%(days)s - 1), interval '1 day') d,
             generate_series(0::bigint, %(cust)s + %(plain)s - 1) k
        WHERE extract(isodow FROM d) < 6   -- trading days: Monday to Friday
        ORDER BY d, k""", {**p, "cust0": cust0})
    cur.execute("""
        INSERT INTO performance_metricdate (date, loaded_at)
        SELECT d::date, now() FROM generate_series(%(start)s::date, %(start)s::date + (%(days)s - 1),
                                                   interval '1 day') d
        WHERE extract(isodow FROM d) < 6""", p)
    cur.execute("SET session_replication_role = origin")
    cur.execute("SELECT count(*) FROM relationships_relationshipshare")
    made = cur.fetchone()[0]
    cur.execute("DROP TABLE b_staff")
    return {"shares": made, "relationships": n_rel, "customers": n_cust + n_plain,
            "metrics": (n_cust + n_plain) * sum((start + dt.timedelta(days=i)).weekday() < 5 for i in range(days))}


def vacuum(cur) -> None:
    for table in ("relationships_customer", "relationships_relationship", "relationships_relationshipshare",
                  "relationships_staff", "relationships_organisation", "performance_dailymetric",
                  "performance_metricdate"):
        cur.execute(f"VACUUM (ANALYZE) {table}")


# --- reference points ------------------------------------------------------------------------------------

_JOIN = """
FROM performance_dailymetric m
JOIN relationships_relationship r ON r.customer_id = m.customer_id
JOIN relationships_relationshipshare s ON s.relationship_id = r.id
WHERE m.date >= %(start)s AND m.date < %(end)s
  AND r.effective_from <= m.date AND (r.effective_to IS NULL OR m.date < r.effective_to)
  AND s.effective_from <= m.date AND (s.effective_to IS NULL OR m.date < s.effective_to)
"""
_SUMS = """
       sum(m.assets * s.ratio) AS assets, sum(m.net_commission * s.ratio) AS net_commission,
       sum(m.turnover * s.ratio) AS turnover, sum(m.transfer_in * s.ratio) AS transfer_in,
       sum(m.trade_count * s.ratio) AS trade_count
"""
# The same results as the product (figures per day and per month of each staff member and type, and new
# customers), by hand: the per-day aggregate, the month rolled up from it, the new customers.
FLOOR_SQL = [
    "CREATE TEMP TABLE floor_day AS SELECT m.date AS day, s.staff_id, r.type_id," + _SUMS + _JOIN
    + "GROUP BY m.date, s.staff_id, r.type_id",
    """
CREATE TEMP TABLE floor_month AS
SELECT staff_id, type_id, sum(assets) AS asset_days, sum(assets) FILTER (WHERE day = %(last_day)s) AS assets,
       sum(net_commission) AS net_commission, sum(turnover) AS turnover, sum(transfer_in) AS transfer_in,
       sum(trade_count) AS trade_count
FROM floor_day GROUP BY staff_id, type_id
""", """
CREATE TEMP TABLE floor_new AS
SELECT s.staff_id, r.type_id, sum(s.ratio) AS new_customers
FROM relationships_relationship r
JOIN relationships_relationshipshare s
  ON s.relationship_id = r.id AND s.effective_from <= r.effective_from
 AND (s.effective_to IS NULL OR s.effective_to > r.effective_from)
WHERE r.effective_from >= %(start)s AND r.effective_from < %(end)s
  AND (r.effective_to IS NULL OR r.effective_to > r.effective_from)
  AND NOT EXISTS (SELECT 1 FROM relationships_relationship p
                  WHERE p.customer_id = r.customer_id AND p.type_id = r.type_id AND p.id <> r.id
                    AND (p.effective_to IS NULL OR p.effective_to > p.effective_from)
                    AND (p.effective_from, p.id) < (r.effective_from, r.id))
GROUP BY s.staff_id, r.type_id
"""]
FLOOR_TABLES = ("floor_day", "floor_month", "floor_new")
# For information: the month figures alone (no per-day figures), one statement.
MONTH_ONLY_SQL = ("CREATE TEMP TABLE floor_month_only AS SELECT s.staff_id, r.type_id," + _SUMS + _JOIN
                  + "GROUP BY s.staff_id, r.type_id")


def months_of(start: dt.date, days: int) -> list[dt.date]:
    from performance.services import month_start
    return sorted({month_start(start + dt.timedelta(days=i)) for i in range(days)})


def floor_params(cur, month: dt.date) -> dict:
    from performance.services import next_month

    cur.execute("SELECT max(date) FROM performance_metricdate WHERE date >= %s AND date < %s",
                [month, next_month(month)])
    return {"start": month, "end": next_month(month), "last_day": cur.fetchone()[0]}


def floor_seconds(cur, months: list[dt.date], statements=FLOOR_SQL, keep: bool = False) -> float:
    cur.execute("SET work_mem = '256MB'")   # as the product's computation
    elapsed = 0.0
    for month in months:
        params = floor_params(cur, month)
        started = time.perf_counter()
        for sql in statements:
            cur.execute(sql, params)
        elapsed += time.perf_counter() - started
        if not keep:
            cur.execute("DROP TABLE IF EXISTS floor_day, floor_month, floor_new, floor_month_only")
    cur.execute("RESET work_mem")
    return elapsed


def naive_seconds_estimate(months: list[dt.date], every: int = 100) -> tuple[float, dict]:
    """Per share of a 1 % sample: read its customer's metrics of the window, then for every active day
    get_or_create the staff's month row and save it. Rolled back; extrapolated to all shares."""
    from decimal import Decimal

    from django.db import transaction
    from django.db.models.functions import Mod

    from performance.models import DailyMetric, StaffPerformance
    from performance.services import next_month
    from relationships.models import RelationshipShare

    total = RelationshipShare.objects.count()
    first, end = months[0], next_month(months[-1])
    sample = (RelationshipShare.objects.annotate(bucket=Mod("id", every)).filter(bucket=0)
              .select_related("relationship", "staff").order_by("id"))
    checked = {"shares": 0, "credits": 0}
    started = time.perf_counter()
    with transaction.atomic():
        for share in sample.iterator(chunk_size=2000):
            checked["shares"] += 1
            rel = share.relationship
            for m in DailyMetric.objects.filter(customer_id=rel.customer_id, date__gte=first, date__lt=end):
                if not (share.effective_from <= m.date and (share.effective_to is None or m.date < share.effective_to)
                        and rel.effective_from <= m.date and (rel.effective_to is None or m.date < rel.effective_to)):
                    continue
                month = m.date.replace(day=1)
                row, _created = StaffPerformance.objects.get_or_create(
                    grain="month", period=month, staff_id=share.staff_id, type_id=rel.type_id,
                    defaults={"month": month, "outlet_id": share.staff.outlet_id, "asset_days": Decimal(0),
                              "assets": Decimal(0), "net_commission": Decimal(0), "turnover": Decimal(0),
                              "transfer_in": Decimal(0), "trade_count": Decimal(0), "new_customers": Decimal(0)})
                row.asset_days += m.assets * share.ratio
                row.net_commission += m.net_commission * share.ratio
                row.turnover += m.turnover * share.ratio
                row.transfer_in += m.transfer_in * share.ratio
                row.trade_count += m.trade_count * share.ratio
                row.save()
                checked["credits"] += 1
        transaction.set_rollback(True)
    elapsed = time.perf_counter() - started
    return (elapsed * total / checked["shares"] if checked["shares"] else 0.0), checked


# --- main ------------------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shares", type=int, required=True, help="relationship shares (N)")
    parser.add_argument("--days", type=int, default=1, help="days of metrics (D)")
    parser.add_argument("--date", default="2026-03-02", help="first day of metrics")
    parser.add_argument("--naive-every", type=int, default=100, help="naive sample: every k-th share (1 %%)")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved runs of product and floor")
    parser.add_argument("--keep", action="store_true", help="keep the bench database afterwards")
    args = parser.parse_args()
    start = dt.date.fromisoformat(args.date)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_platform.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")  # development settings (the embedded keys), as before
    _bench_url, admin = migrated_bench_database(BENCH_DB)

    from django.db import connection, connections

    started = time.perf_counter()
    with connection.cursor() as cur:
        made = generate(cur, shares=args.shares, days=args.days, start=start)
        generated = time.perf_counter() - started
        vacuum(cur)
    log(f"generated {made} in {generated:.1f} s (+ vacuum/analyze {time.perf_counter() - started - generated:.1f} s)")
    if made["shares"] != args.shares:
        log(f"WARNING: generated {made['shares']} shares, asked for {args.shares}")

    months = months_of(start, args.days)
    with connection.cursor() as cur:
        runs = [floor_seconds(cur, months) for _run in range(2)]   # the better of two: a warm cache
        floor = min(runs)
        month_only = floor_seconds(cur, months, statements=[MONTH_ONLY_SQL])
    log(f"floor: hand-written SQL {' / '.join(f'{r:.2f}' for r in runs)} s "
        f"(the month figures alone, without per-day figures: {month_only:.2f} s)")
    naive, checked = naive_seconds_estimate(months, every=args.naive_every)
    log(f"naive: per-row ORM over {checked['shares']} shares ({checked['credits']} credits), "
        f"estimated {naive:.1f} s for all")

    from performance.models import StaffPerformance
    from performance.services import compute_period

    started = time.perf_counter()
    results = [compute_period(period=month) for month in months]
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    log("computed: " + ", ".join(f"{m:%Y-%m} {r['rows']} rows over {r['days']} days"
                                 for m, r in zip(months, results, strict=True)))

    # Cross-check: the product's day and month rows equal the floor's figures (one month at a time).
    with connection.cursor() as cur:
        for month in months:
            floor_seconds(cur, [month], keep=True)
            cur.execute("""
                SELECT count(*) FROM floor_day f
                FULL JOIN (SELECT * FROM performance_staffperformance WHERE grain = 'day' AND period >= %(start)s
                           AND period < %(end)s AND asset_days <> 0) p
                  ON p.period = f.day AND p.staff_id = f.staff_id AND p.type_id = f.type_id
                WHERE p.id IS NULL OR f.staff_id IS NULL OR p.asset_days <> f.assets
                   OR p.net_commission <> f.net_commission OR p.trade_count <> f.trade_count""",
                        floor_params(cur, month))
            differ = cur.fetchone()[0]
            cur.execute("""
                SELECT count(*) FROM (SELECT f.staff_id, f.type_id, f.asset_days, f.assets, f.net_commission,
                                             f.turnover, coalesce(n.new_customers, 0) AS new_customers
                                      FROM floor_month f LEFT JOIN floor_new n USING (staff_id, type_id)) f
                FULL JOIN (SELECT * FROM performance_staffperformance WHERE grain = 'month' AND period = %s
                           AND asset_days <> 0) p ON p.staff_id = f.staff_id AND p.type_id = f.type_id
                WHERE p.id IS NULL OR f.staff_id IS NULL OR p.asset_days <> f.asset_days
                   OR p.assets <> coalesce(f.assets, 0) OR p.net_commission <> f.net_commission
                   OR p.turnover <> f.turnover OR p.new_customers <> f.new_customers""", [month])
            differ += cur.fetchone()[0]
            cur.execute("DROP TABLE floor_day, floor_month, floor_new")
            log(f"cross-check {month:%Y-%m}: " + (f"WARNING: {differ} rows differ from the floor's" if differ
                                                   else "the product's day and month rows equal the floor's"))
    log(f"staff rows: {StaffPerformance.objects.count()}")

    # The night (performance.nightly): the last reported day computed again into the stored day rows and the month
    # moved by it, against the hand-written floor of the same work, interleaved.
    from django.db import transaction
    from nightly import PERF_FLOOR, interleaved, run_floor

    from performance.nightly import compute_month_incremental

    last = months[-1]
    with connection.cursor() as cur:
        cur.execute("VACUUM (ANALYZE) performance_staffperformance")
        cur.execute("SELECT max(date) FROM performance_metricdate")
        last_day = cur.fetchone()[0]

    def night_product() -> float:
        with connection.cursor() as cur:
            cur.execute("UPDATE performance_metricdate SET version = version + 1 WHERE date = %s", [last_day])
        started = time.perf_counter()
        done = compute_month_incremental(period=last)
        assert done["days_computed"] == 1, done
        return time.perf_counter() - started

    def night_floor() -> float:
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute("SET LOCAL work_mem = '256MB'")
            return run_floor(cur, PERF_FLOOR, {"day": last_day, "start": last}, "f_day, f_month")

    def whole_product() -> float:
        started = time.perf_counter()
        for month in months:
            compute_period(period=month)
        return time.perf_counter() - started

    def whole_floor() -> float:
        with connection.cursor() as cur:
            return floor_seconds(cur, months)

    log(f"interleaved, median of {args.repeat}:")
    night, night_floor_s = interleaved(f"the night of {last_day} (day {last_day.day})", night_floor, night_product,
                                       args.repeat)
    whole, whole_floor_s = interleaved("the month(s) recomputed whole", whole_floor, whole_product, args.repeat)

    connections.close_all()
    if not args.keep:
        recreate(admin, BENCH_DB, create=False)
    log(f"performance shares={args.shares} days={args.days} seconds={seconds:.2f} floor_seconds={floor:.2f} "
        f"naive_seconds_est={naive:.1f} peak_mb={peak_mb:.0f} night_s={night:.3f} "
        f"night_floor_ratio={night / night_floor_s:.2f} whole_s={whole:.2f} whole_floor_ratio={whole / whole_floor_s:.2f}")


if __name__ == "__main__":
    main()
