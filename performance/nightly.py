"""The nightly performance stage, incremental (R-PERF-1..3, issue 18).

`compute_period` (performance.services) recomputes a whole month from metrics and shares; done every night, a
night's cost grew with the day of the month. The night computes instead only the days whose figures may have
changed into the stored day rows (grain `day`), and rolls the month up from the day rows:

- a reported day whose metrics were never computed, or were loaded again since (`MetricDate.version` ahead of
  `ComputedDay.version`: a new day, a correction of that day);
- every day from the earliest day a change of relationships or shares touched (`relationships.CreditChange`,
  written by the tables' own triggers, whoever wrote the change), in each open month it reaches;
- the month row moves by what the recomputed days' rows add less what their old rows held (asset-days,
  commission, turnover, transfers, trades, new customers: sums of the days'), so a night reads only the days it
  computes, whatever the day of the month; a pair left without day rows loses its month row; month-end assets
  are set from the last reported day's rows;
- every credited day goes to the outlet the staff member belonged to on that day (R-STAFF-1, as in
  `compute_period`); the month holds one row per staff, type and outlet. A recorded move (membership rows) writes a
  credit change from its day; a staff member without membership rows whose outlet is changed in place has that
  outlet for all time, so his rows of the open month follow it, as a recomputation would.

- average daily assets over calendar days (R-PERF-2, see performance.services): the day rows are weighted by
  `APPLY_WEIGHTS_SQL` as in `compute_period`. On day k+1 the weight of the loaded day k before it becomes the days
  from k to k+1 (its carry into the days between, counted once: only k's rows, not recomputed, are reweighed and
  the month moves by the difference); the carry-in row at the month's first day is recomputed with that day
  when its first loaded day or its credits change; so is a change day's (a day without metrics on which a holding
  or an outlet changes, `performance.services.month_calendar`) when its source day, its credits or its existence
  change. (A correction of the previous month's last loaded day does not reach the carry-in of an already computed
  month until that month is recomputed.)

A month never computed is computed whole. A locked month is never touched (R-PERF-3). The result is, to the
last decimal, what `compute_period` writes (tests/integration/performance/test_performance_incremental.py checks it
night by night).
"""
from __future__ import annotations

import bisect
import datetime as dt

from django.db import connection, transaction
from django.utils import timezone

from common.locks import LockSpace, metrics_xact_lock, xact_lock
from performance.models import ComputedDay, ComputedPeriod, MetricDate, PeriodLock
from performance.services import (
    APPLY_WEIGHTS_SQL,
    WORK_MEM,
    PeriodLocked,
    compute_period,
    day_rows_sql,
    month_calendar,
    new_customer_credits_sql,
    next_month,
    open_periods_through,
)
from relationships.models import CreditChange

# The days to compute are in the temporary table perf_dirty (day date): a calendar day's rows and new customers;
# perf_dirty_reported holds those of them the metrics feed reported (read through the BRIN index one by one).
_DELETE_DAYS = """
DELETE FROM performance_staffperformance p USING perf_dirty d
WHERE p.grain = 'day' AND p.period = d.day
"""

# The day rows of the dirty days: the crediting of `compute_period` (`day_rows_sql`) over the dirty reported days
# only, and the dirty carried days — the carry-in at the month's first day, the change days (R-PERF-2, see
# performance.services) — as days like the others (weight 1 first, then the month's weights).
_INSERT_DAYS = f"""
INSERT INTO performance_staffperformance (grain, period, month, staff_id, type_id, outlet_id, asset_days, assets,
                                          net_commission, turnover, transfer_in, trade_count)
SELECT 'day', c.day, %(start)s, c.staff_id, c.type_id, c.outlet_id, c.assets, c.assets, c.net_commission,
       c.turnover, c.transfer_in, c.trade_count
FROM ({day_rows_sql(days="perf_dirty_reported")}) c
"""

# New effective customers of the dirty days (the rule of performance.services, `new_customer_credits_sql`).
_UPSERT_NEW_CUSTOMERS = f"""
INSERT INTO performance_staffperformance (grain, period, month, staff_id, type_id, outlet_id, new_customers)
SELECT 'day', n.day, %(start)s, n.staff_id, n.type_id, n.outlet_id, sum(n.ratio)
FROM perf_dirty d
JOIN ({new_customer_credits_sql("true")}) n ON n.day = d.day
GROUP BY n.day, n.staff_id, n.type_id, n.outlet_id
ON CONFLICT (grain, period, staff_id, type_id, outlet_id) DO UPDATE SET new_customers = EXCLUDED.new_customers
"""

# A staff member without membership rows whose outlet was changed in place has that outlet for all time (his one
# segment, R-STAFF-1): his month and day rows of the month follow it, as a recomputation would. (A recorded move
# writes membership rows and a credit change from its day: those days are recomputed.)
_FOLLOW_OUTLETS_MONTH = """
UPDATE performance_staffperformance p SET outlet_id = st.outlet_id
FROM relationships_staff st
WHERE p.grain = 'month' AND p.period = %(start)s AND st.id = p.staff_id AND p.outlet_id IS DISTINCT FROM st.outlet_id
  AND NOT EXISTS (SELECT 1 FROM relationships_staffmembership m WHERE m.staff_id = p.staff_id)
RETURNING p.staff_id
"""
_FOLLOW_OUTLETS_DAYS = """
UPDATE performance_staffperformance p SET outlet_id = st.outlet_id
FROM relationships_staff st
WHERE p.staff_id = ANY(%(moved)s) AND p.grain = 'day' AND p.period >= %(start)s AND p.period < %(end)s
  AND st.id = p.staff_id AND p.outlet_id IS DISTINCT FROM st.outlet_id
  AND NOT EXISTS (SELECT 1 FROM relationships_staffmembership m WHERE m.staff_id = p.staff_id)
"""

_FIGURES = "asset_days, net_commission, turnover, transfer_in, trade_count, new_customers"

# The month row changes by the dirty days' new rows less their old ones (`sign` -1 before, +1 after): a night
# reads only the days it computes, whatever the day of the month.
_DELTA = """
INSERT INTO perf_delta
SELECT p.staff_id, p.type_id, p.outlet_id, %(sign)s * sum(p.asset_days), %(sign)s * sum(p.net_commission),
       %(sign)s * sum(p.turnover), %(sign)s * sum(p.transfer_in), %(sign)s * sum(p.trade_count),
       %(sign)s * sum(p.new_customers), %(sign)s * count(*)
FROM perf_dirty d JOIN performance_staffperformance p ON p.grain = 'day' AND p.period = d.day
GROUP BY p.staff_id, p.type_id, p.outlet_id
"""

_APPLY_DELTA = [
    """CREATE TEMP TABLE perf_net ON COMMIT DROP AS
       SELECT staff_id, type_id, outlet_id, sum(asset_days) AS asset_days, sum(net_commission) AS net_commission,
              sum(turnover) AS turnover, sum(transfer_in) AS transfer_in, sum(trade_count) AS trade_count,
              sum(new_customers) AS new_customers, sum(n) AS n
       FROM perf_delta GROUP BY staff_id, type_id, outlet_id""",
    "ANALYZE perf_net",
    """UPDATE performance_staffperformance p
       SET asset_days = p.asset_days + d.asset_days, net_commission = p.net_commission + d.net_commission,
           turnover = p.turnover + d.turnover, transfer_in = p.transfer_in + d.transfer_in,
           trade_count = p.trade_count + d.trade_count, new_customers = p.new_customers + d.new_customers
       FROM perf_net d
       WHERE p.grain = 'month' AND p.period = %(start)s AND p.staff_id = d.staff_id AND p.type_id = d.type_id
         AND p.outlet_id = d.outlet_id""",
    f"""INSERT INTO performance_staffperformance (grain, period, month, staff_id, type_id, outlet_id, {_FIGURES})
       SELECT 'month', %(start)s, %(start)s, d.staff_id, d.type_id, d.outlet_id, d.asset_days, d.net_commission,
              d.turnover, d.transfer_in, d.trade_count, d.new_customers
       FROM perf_net d
       WHERE NOT EXISTS (SELECT 1 FROM performance_staffperformance p WHERE p.grain = 'month'
                         AND p.period = %(start)s AND p.staff_id = d.staff_id AND p.type_id = d.type_id
                         AND p.outlet_id = d.outlet_id)""",
    # A pair that lost day rows and has none left has no month row either.
    """DELETE FROM performance_staffperformance p USING perf_net d
       WHERE d.n < 0 AND p.grain = 'month' AND p.period = %(start)s AND p.staff_id = d.staff_id
         AND p.type_id = d.type_id AND p.outlet_id = d.outlet_id
         AND NOT EXISTS (SELECT 1 FROM performance_staffperformance x WHERE x.staff_id = d.staff_id
                         AND x.grain = 'day' AND x.period >= %(start)s AND x.period < %(end)s
                         AND x.type_id = d.type_id AND x.outlet_id = d.outlet_id)""",
]

# Month-end assets are those of the last reported day: every month row when that day is new or recomputed,
# else only the rows the night added (their pairs have no row on the last day).
_MONTH_END_ASSETS = [
    # The last reported day's rows, counted first: fresh rows the planner has no statistics of yet.
    """CREATE TEMP TABLE perf_last ON COMMIT DROP AS
       SELECT staff_id, type_id, outlet_id, assets FROM performance_staffperformance
       WHERE grain = 'day' AND period = %(last_day)s""",
    "ANALYZE perf_last",
    """UPDATE performance_staffperformance p SET assets = coalesce(x.assets, 0)
       FROM performance_staffperformance p2
       LEFT JOIN perf_last x ON x.staff_id = p2.staff_id AND x.type_id = p2.type_id AND x.outlet_id = p2.outlet_id
       WHERE p2.id = p.id AND p.grain = 'month' AND p.period = %(start)s
         AND (%(all)s OR EXISTS (SELECT 1 FROM perf_net d WHERE d.staff_id = p.staff_id AND d.type_id = p.type_id
                                   AND d.outlet_id = p.outlet_id))
         AND p.assets IS DISTINCT FROM coalesce(x.assets, 0)""",
]


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
        calendar = month_calendar(start, days)
        # A carried day's rows change (R-PERF-2) with its source day's, with the first loaded day (the carry-in),
        # and when it is new: a change day after the last loaded day computed had no rows until a later day came.
        for day, source in calendar.carried:
            if source in dirty or (day == start and days[0] in dirty) or (
                    known.last_day is not None and day > known.last_day):
                dirty.add(day)
        # The weights that may have changed (R-PERF-2): the dirty days', the day with rows before each (its carry
        # now ends at the dirty day, counted once) and before the first dirty day (a change day gone), and the
        # month's first day (the carry-in up to the first loaded day).
        weigh = set(dirty) | {start}
        points = calendar.points
        for i, day in enumerate(points):
            if i and day in dirty:
                weigh.add(points[i - 1])
        if dirty and points and points[0] < min(dirty):
            weigh.add(points[bisect.bisect_left(points, min(dirty)) - 1])
        cur.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
        params = {"start": start, "end": end, "last_day": last_day, **calendar.params(),
                  "all": last_day != known.last_day or last_day in dirty}
        cur.execute(_FOLLOW_OUTLETS_MONTH, params)
        moved = sorted({row[0] for row in cur.fetchall()})
        if moved:
            cur.execute(_FOLLOW_OUTLETS_DAYS, {**params, "moved": moved})
        if not dirty and not params["all"]:
            return {"rows": known.rows, "days": len(days), "days_computed": 0, "whole": 0}
        cur.execute("DROP TABLE IF EXISTS perf_dirty, perf_dirty_reported, perf_delta, perf_net, perf_last")
        for table, chosen in (("perf_dirty", dirty), ("perf_dirty_reported", dirty & set(versions))):
            cur.execute(f"CREATE TEMP TABLE {table} (day date PRIMARY KEY) ON COMMIT DROP")
            cur.execute(f"INSERT INTO {table} SELECT unnest(%s::date[])", [sorted(chosen)])
            cur.execute(f"ANALYZE {table}")
        cur.execute("CREATE TEMP TABLE perf_delta (staff_id bigint, type_id text, outlet_id bigint, "
                    "asset_days numeric, net_commission numeric, turnover numeric, transfer_in numeric, "
                    "trade_count numeric, new_customers numeric, n bigint) ON COMMIT DROP")
        cur.execute(_DELTA, {"sign": -1})
        cur.execute(_DELETE_DAYS)
        carried = [(day, source) for day, source in calendar.carried if day in dirty]
        cur.execute(_INSERT_DAYS, {**params, "carried_days": [d for d, _s in carried],
                                   "carried_from": [s for _d, s in carried]})
        cur.execute(_UPSERT_NEW_CUSTOMERS, params)
        cur.execute(_DELTA, {"sign": 1})
        rows = known.rows
        for sql, sign in zip(_APPLY_DELTA, (0, 0, 0, 1, -1), strict=True):
            cur.execute(sql, params)
            rows += sign * cur.rowcount                     # month rows added and removed
        cur.execute("SELECT coalesce(sum(n), 0)::bigint FROM perf_net")
        rows += int(cur.fetchone()[0])                      # day rows added less those removed
        cur.execute(APPLY_WEIGHTS_SQL, {**params, "weigh": sorted(weigh)})
        for sql in _MONTH_END_ASSETS:
            cur.execute(sql, params)
        cur.execute("DROP TABLE perf_dirty, perf_dirty_reported, perf_delta, perf_net, perf_last")
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
