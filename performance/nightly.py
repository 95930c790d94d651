"""The nightly performance stage, incremental (R-PERF-1..3, issue 18).

`compute_period` (performance.services) recomputes a whole month from metrics and shares; done every night, a
night's cost grew with the day of the month. The night computes instead only the days whose figures may have
changed into the stored day rows (grain `day`), and rolls the month up from the day rows:

- a reported day whose metrics were never computed, or were loaded again since (`MetricDate.version` ahead of
  `ComputedDay.version`: a new day, a correction of that day);
- every day from the earliest day a change of relationships or shares touched (`relationships.CreditChange`,
  written by the tables' own triggers, whoever wrote the change), in each open month it reaches;
- the month row is summed from its day rows: asset-days, commission, turnover, transfers, trades and new
  customers are the sums of the days', assets those of the last reported day;
- day rows of a staff member whose outlet changed follow his outlet, as a recomputation would.

A month never computed is computed whole. A locked month is never touched (R-PERF-3). The result is, to the
last decimal, what `compute_period` writes (tests/test_performance_incremental.py checks it night by night).
"""
from __future__ import annotations

import datetime as dt

from django.db import connection, transaction
from django.utils import timezone

from common.locks import LockSpace, metrics_xact_lock, xact_lock
from performance.models import ComputedDay, ComputedPeriod, MetricDate, PeriodLock
from performance.services import WORK_MEM, PeriodLocked, compute_period, next_month, open_periods_through
from relationships.models import CreditChange

# The days to compute are in the temporary table perf_dirty (day date): a reported day's metrics and a calendar
# day's new customers.
_DELETE_DAYS = """
DELETE FROM performance_staffperformance p USING perf_dirty d
WHERE p.grain = 'day' AND p.period = d.day
"""

_INSERT_DAYS = """
INSERT INTO performance_staffperformance (grain, period, month, staff_id, type_id, outlet_id, asset_days, assets,
                                          net_commission, turnover, transfer_in, trade_count)
SELECT 'day', m.date, %(start)s, s.staff_id, r.type_id, st.outlet_id,
       sum(m.assets * s.ratio), sum(m.assets * s.ratio), sum(m.net_commission * s.ratio),
       sum(m.turnover * s.ratio), sum(m.transfer_in * s.ratio), sum(m.trade_count * s.ratio)
FROM perf_dirty d
JOIN performance_dailymetric m ON m.date = d.day
JOIN relationships_relationship r ON r.customer_id = m.customer_id
JOIN relationships_relationshipshare s ON s.relationship_id = r.id
JOIN relationships_staff st ON st.id = s.staff_id
WHERE r.effective_from <= m.date AND (r.effective_to IS NULL OR m.date < r.effective_to)
  AND s.effective_from <= m.date AND (s.effective_to IS NULL OR m.date < s.effective_to)
GROUP BY m.date, s.staff_id, r.type_id, st.outlet_id
"""

# New effective customers of the dirty days (the definition is that of performance.services).
_UPSERT_NEW_CUSTOMERS = """
INSERT INTO performance_staffperformance (grain, period, month, staff_id, type_id, outlet_id, new_customers)
SELECT 'day', r.effective_from, %(start)s, s.staff_id, r.type_id, st.outlet_id, sum(s.ratio)
FROM perf_dirty d
JOIN relationships_relationship r ON r.effective_from = d.day
JOIN relationships_relationshipshare s
  ON s.relationship_id = r.id AND s.effective_from <= r.effective_from
 AND (s.effective_to IS NULL OR s.effective_to > r.effective_from)
JOIN relationships_staff st ON st.id = s.staff_id
WHERE (r.effective_to IS NULL OR r.effective_to > r.effective_from)
  AND NOT EXISTS (
      SELECT 1 FROM relationships_relationship p
      WHERE p.customer_id = r.customer_id AND p.type_id = r.type_id AND p.id <> r.id
        AND (p.effective_to IS NULL OR p.effective_to > p.effective_from)
        AND (p.effective_from, p.id) < (r.effective_from, r.id))
GROUP BY r.effective_from, s.staff_id, r.type_id, st.outlet_id
ON CONFLICT (grain, period, staff_id, type_id) DO UPDATE SET new_customers = EXCLUDED.new_customers
"""

_FOLLOW_OUTLETS = """
UPDATE performance_staffperformance p SET outlet_id = st.outlet_id
FROM relationships_staff st
WHERE p.grain = 'day' AND p.period >= %(start)s AND p.period < %(end)s
  AND st.id = p.staff_id AND p.outlet_id IS DISTINCT FROM st.outlet_id
"""

_ROLL_UP_MONTH = """
INSERT INTO performance_staffperformance (grain, period, month, staff_id, type_id, outlet_id, asset_days, assets,
                                          net_commission, turnover, transfer_in, trade_count, new_customers)
SELECT 'month', %(start)s, %(start)s, p.staff_id, p.type_id, st.outlet_id, sum(p.asset_days),
       coalesce(sum(p.assets) FILTER (WHERE p.period = %(last_day)s), 0),
       sum(p.net_commission), sum(p.turnover), sum(p.transfer_in), sum(p.trade_count), sum(p.new_customers)
FROM performance_staffperformance p JOIN relationships_staff st ON st.id = p.staff_id
WHERE p.grain = 'day' AND p.period >= %(start)s AND p.period < %(end)s
GROUP BY p.staff_id, p.type_id, st.outlet_id
"""


def compute_month_incremental(*, period: dt.date, changed_from: dt.date | None = None) -> dict:
    """Bring one open month's rows up to date: recompute its dirty days, then roll the month up from its days.

    `changed_from`: the earliest day a change of relationships or shares touched (None: none). A month never
    computed is computed whole (`compute_period`). Refuses a locked month (PeriodLocked)."""
    start = period.replace(day=1)
    end = next_month(start)
    with transaction.atomic(), connection.cursor() as cur:
        xact_lock(LockSpace.PERFORMANCE_PERIOD, start)
        if PeriodLock.objects.filter(period=start).exists():
            raise PeriodLocked(f"{start:%Y-%m}")
        known = ComputedPeriod.objects.filter(period=start).first()
        if known is None:
            result = compute_period(period=start)
            return {**result, "days_computed": result["days"], "whole": 1}
        metrics_xact_lock()  # no metrics load in between: the versions read here are those computed
        versions = dict(MetricDate.objects.filter(date__gte=start, date__lt=end).values_list("date", "version"))
        computed = dict(ComputedDay.objects.filter(month=start).values_list("date", "version"))
        dirty = {d for d, v in versions.items() if computed.get(d) != v}
        if changed_from is not None and changed_from < end:
            first = max(changed_from, start)
            dirty |= {first + dt.timedelta(days=k) for k in range((end - first).days)}
        days = sorted(versions)
        last_day = days[-1] if days else None
        cur.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
        params = {"start": start, "end": end, "last_day": last_day}
        cur.execute(_FOLLOW_OUTLETS, params)
        followed = cur.rowcount
        if not dirty and not followed:
            return {"rows": known.rows, "days": len(days), "days_computed": 0, "whole": 0}
        cur.execute("DROP TABLE IF EXISTS perf_dirty")
        cur.execute("CREATE TEMP TABLE perf_dirty (day date PRIMARY KEY) ON COMMIT DROP")
        cur.execute("INSERT INTO perf_dirty SELECT unnest(%s::date[])", [sorted(dirty)])
        cur.execute("ANALYZE perf_dirty")
        cur.execute(_DELETE_DAYS)
        cur.execute(_INSERT_DAYS, params)
        cur.execute(_UPSERT_NEW_CUSTOMERS, params)
        cur.execute("DELETE FROM performance_staffperformance WHERE grain = 'month' AND period = %(start)s", params)
        cur.execute(_ROLL_UP_MONTH, params)
        cur.execute("DROP TABLE perf_dirty")
        cur.execute("SELECT count(*) FROM performance_staffperformance WHERE grain IN ('day', 'month') "
                    "AND period >= %(start)s AND period < %(end)s", params)
        rows = cur.fetchone()[0]
        now = timezone.now()
        ComputedPeriod.objects.filter(period=start).update(days=len(days), last_day=last_day, rows=rows,
                                                           computed_at=now)
        ComputedDay.objects.bulk_create(
            [ComputedDay(date=d, month=start, version=v, computed_at=now) for d, v in versions.items()
             if d in dirty], update_conflicts=True, unique_fields=["date"], update_fields=["version", "computed_at"])
    return {"rows": rows, "days": len(days), "days_computed": len(dirty & set(versions)), "whole": 0}


def performance_night(*, business_date: dt.date) -> dict:
    """The nightly stage: every open month up to the business date's, incrementally; locked months are skipped.

    The credit changes read first are removed once every month is done: a change committed meanwhile stays for
    the next night (its month is then recomputed from its day again, which changes nothing twice)."""
    changes = list(CreditChange.objects.values_list("id", "from_day"))
    changed_from = min((day for _id, day in changes), default=None)
    todo, locked = open_periods_through(business_date)
    counts = {"periods_computed": 0, "periods_locked_skipped": len(locked), "performance_rows": 0}
    for period in todo:
        try:
            result = compute_month_incremental(period=period, changed_from=changed_from)
        except PeriodLocked:  # locked between listing and computing
            counts["periods_locked_skipped"] += 1
            continue
        counts["periods_computed"] += 1
        counts["performance_rows"] += result["rows"]
    if changes:
        CreditChange.objects.filter(pk__in=[pk for pk, _day in changes]).delete()
    return counts
