"""Split-ratio performance (§10): computing a month's figures, and locking a month (R-PERF-1..3).

Everything here is set-based SQL over shares and metrics; no Python loop touches a row.

**Crediting (R-PERF-1, R-PERF-3).** A customer's metrics of day *d* are credited to every holder of a
share that is active on *d* — `share.effective_from <= d < share.effective_to` (an open end counts
for ever), inside the relationship's own `[effective_from, effective_to)` — times the share's ratio,
under the relationship's type. Whatever the ratios leave unallocated (a 0.6 single holder) is
credited to no one. Sums are kept exact (see `performance.models`); rounding is done once, half-up,
when a figure is reported.

**Calendar days (R-PERF-2).** The metrics feed delivers the core system's business days; `MetricDate` records
them. Average daily assets are taken over calendar days: a day without a metrics row (weekend, holiday) carries
the assets of the last earlier loaded day, and the divisor is the period's calendar days from its first day up to
its last loaded day (`calendar_days`). Stored as weights: a loaded day's `asset_days` are its credited assets ×
its weight, the days from it up to the next loaded day of the month (the month's last loaded day counts once:
the carry reaches only up to the last loaded day), so the month's `asset_days` (their sum) ÷ its calendar days is
the average. The days of a month before its first loaded day carry the previous month's last loaded day: a
"carry-in" day row at the month's first day (its assets are that day's, credited to the holders and the outlet of
the month's first day), weighted by the days up to the first loaded day. The weight is per day, the same for
every customer (`CALENDAR_WEIGHTS_SQL`, one statement for the whole month): the carry assumes the feed sends every
customer on every loaded day, as the core system does; a customer missing from one loaded day is not carried
from his own earlier row (the weight would be per customer and each night would reread all earlier rows of the
month). `APPLY_WEIGHTS_SQL` is the one statement both `compute_period` and the night run, so they agree.
`assets` of a period are the credited assets of its last reported day.

**Who is credited with a carried day (R-PERF-2, R-PERF-3, R-STAFF-1).** A carried day's assets go to the holders,
and the outlet, of that calendar day. A day without a metrics row on which a holding or an outlet changes — a
share, a relationship or a membership starting or ending: a reassignment effective on a Saturday — is therefore a
day row of its own (a "change day", `month_calendar`): the last earlier loaded day's assets credited to that day's
holders, weighted up to the next day with rows, like the carry-in; the loaded day before it weighs only up to it.
The weights are over the month's days with rows (`MonthCalendar.points`), still the same for every customer.

**New effective customers (R-PERF-2).** A relationship counts as a new customer of the month (and
of the day) in which it becomes effective, credited to the holders of the shares active on that
day × their ratios. A relationship that continues an earlier one of the same customer and type (a
reassignment or replacement that ends the old version and starts a new one, R-BR-1) is not a new
customer, and neither is a relationship cancelled on its first day (`effective_to = effective_from`).

**Locking (R-PERF-3).** HQ locks a month with `performance.periods.period_lock`; a locked month is never recomputed
(`compute_period` refuses, the nightly stage skips it), so later changes to relationships or
metrics do not rewrite it. `compute_period` recomputes an open month from scratch; the nightly stage
(`performance.nightly`) computes only the days that changed and rolls the month up from them, to the same
figures, so any retroactive correction shows in the open months' figures.
"""
from __future__ import annotations

import bisect
import datetime as dt
import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from common.locks import LockSpace, metrics_xact_lock, xact_lock
from performance.models import ComputedDay, ComputedPeriod, MetricDate, PeriodLock
from relationships.membership import OUTLET_SEGMENTS_SQL

_PERIOD_RE = re.compile(r"^(\d{4})-(\d{2})$")
WORK_MEM = "256MB"


class PeriodLocked(Exception):
    pass


def parse_period(text: str) -> dt.date:
    """'2026-03' → date(2026, 3, 1); anything else is a ValidationError."""
    match = _PERIOD_RE.match((text or "").strip())
    if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1900:
        raise ValidationError(_("“%(value)s” is not a period; use YYYY-MM.") % {"value": text}, code="period")
    return dt.date(int(match.group(1)), int(match.group(2)), 1)


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def next_month(period: dt.date) -> dt.date:
    return dt.date(period.year + period.month // 12, period.month % 12 + 1, 1)


# --- computation -----------------------------------------------------------------------------------------

# The holdings credited (R-PERF-1/3): one row per share, with its relationship's customer, type and dates and the
# share's own dates. The nightly job reads the real tables; a preview passes proposed shares as VALUES
# (`credit_preview`). PostgreSQL pulls this subquery up into the join, so the nightly plan is unchanged.
HOLDINGS_IN_FORCE = """(
    SELECT r.customer_id, r.type_id, s.staff_id, s.ratio, r.effective_from AS rel_from, r.effective_to AS rel_to,
           s.effective_from AS share_from, s.effective_to AS share_to
    FROM relationships_relationship r JOIN relationships_relationshipshare s ON s.relationship_id = r.id)"""


def credited_days_sql(holdings: str, *, days: str | None = None) -> str:
    """R-PERF-1: each day's metrics × the ratio of every share active that day, per day, staff and type. The one
    crediting rule, for `compute_period`, the night, the adjustments and the approval preview alike.

    `days`: a table of the days to credit (column `day`; the night's dirty reported days), read one by one through
    the metrics' date index, instead of the month's range (None: the whole month)."""
    month = (f"JOIN {days} dd ON dd.day = m.date\nWHERE true" if days
             else "WHERE m.date >= %(start)s AND m.date < %(end)s")
    return f"""
SELECT m.date AS day, h.staff_id, h.type_id,
       sum(m.assets * h.ratio) AS assets,
       sum(m.net_commission * h.ratio) AS net_commission,
       sum(m.turnover * h.ratio) AS turnover,
       sum(m.transfer_in * h.ratio) AS transfer_in,
       sum(m.trade_count * h.ratio) AS trade_count
FROM performance_dailymetric m
JOIN {holdings} h ON h.customer_id = m.customer_id
{month}
  -- only what overlaps the month (lets the planner filter before joining) …
  AND h.rel_from < %(end)s AND (h.rel_to IS NULL OR h.rel_to > %(start)s)
  AND h.share_from < %(end)s AND (h.share_to IS NULL OR h.share_to > %(start)s)
  -- … and, per day, [effective_from, effective_to) of the relationship and of the share (R-PERF-3)
  AND h.rel_from <= m.date AND (h.rel_to IS NULL OR m.date < h.rel_to)
  AND h.share_from <= m.date AND (h.share_to IS NULL OR m.date < h.share_to)
GROUP BY m.date, h.staff_id, h.type_id
"""


def month_rollup_sql(days: str, *, by_outlet: bool = False) -> str:
    """A month's figures per staff and type (and, `by_outlet`, per outlet of the day: R-STAFF-1) from its credited
    days: asset-days, the assets of the last reported day (R-PERF-2), and the sums."""
    outlet = ", d.outlet_id" if by_outlet else ""
    return f"""
SELECT d.staff_id, d.type_id{outlet}, sum(d.assets) AS asset_days,
       coalesce(sum(d.assets) FILTER (WHERE d.day = %(last_day)s), 0) AS assets,
       sum(d.net_commission) AS net_commission, sum(d.turnover) AS turnover,
       sum(d.transfer_in) AS transfer_in, sum(d.trade_count) AS trade_count
FROM {days} d
GROUP BY d.staff_id, d.type_id{outlet}
"""


def credited_days_at_outlets_sql(holdings: str = HOLDINGS_IN_FORCE, *, days: str | None = None) -> str:
    """The credited days (`credited_days_sql`, `holdings` and `days` as there) with the outlet of each day
    (R-STAFF-1): the staff member's effective-dated segment of that day, joined once, set-based; a day outside every
    segment (after he left: his relationships stay until reassigned, R-ATT-2) goes to his current outlet. The day
    rows of `compute_period` (the month), of the night (its dirty days) and of an adjustment's capture (its
    customers) alike, with the columns of `carried_days_sql`: `day_rows_sql` gives both."""
    return f"""
SELECT c.*, coalesce(seg.outlet_id, st.outlet_id) AS outlet_id
FROM ({credited_days_sql(holdings, days=days)}) c
JOIN relationships_staff st ON st.id = c.staff_id
LEFT JOIN ({OUTLET_SEGMENTS_SQL}) seg
  ON seg.staff_id = c.staff_id AND seg.valid_from <= c.day AND (seg.valid_to IS NULL OR c.day < seg.valid_to)
"""


_INSERT_DAYS = """
INSERT INTO performance_staffperformance (grain, period, month, staff_id, type_id, outlet_id, asset_days, assets,
                                          net_commission, turnover, transfer_in, trade_count)
SELECT 'day', d.day, %(start)s, d.staff_id, d.type_id, d.outlet_id, d.assets, d.assets,
       d.net_commission, d.turnover, d.transfer_in, d.trade_count
FROM perf_day d
"""

_INSERT_MONTH = f"""
INSERT INTO performance_staffperformance (grain, period, month, staff_id, type_id, outlet_id, asset_days, assets,
                                          net_commission, turnover, transfer_in, trade_count)
SELECT 'month', %(start)s, %(start)s, mo.staff_id, mo.type_id, mo.outlet_id, mo.asset_days, mo.assets,
       mo.net_commission, mo.turnover, mo.transfer_in, mo.trade_count
FROM ({month_rollup_sql("perf_day", by_outlet=True)}) mo
"""

def new_customer_credits_sql(relationships_where: str) -> str:
    """R-PERF-2, the one definition of a new effective customer (see the module docstring), for `compute_period`, the
    night (`performance.nightly`) and the adjustments' capture (`performance.adjustments`) alike, so the three cannot
    drift apart: one row per share credited — the relationship's effective day (`day`), the holder (`staff_id`), the
    type, the holder's outlet of that day (R-STAFF-1, `outlet_id`) and the share's `ratio` — for the relationships
    `relationships_where` (a condition on `r`: the month, the dirty days, the customers captured) selects. Each
    caller sums `ratio` by its own grain. No aggregate here, so PostgreSQL pulls the subquery up into the caller's
    join and filters (the night's join to its dirty days) as if written inline."""
    return f"""
SELECT r.effective_from AS day, s.staff_id, r.type_id, coalesce(seg.outlet_id, st.outlet_id) AS outlet_id, s.ratio
FROM relationships_relationship r
JOIN relationships_relationshipshare s
  ON s.relationship_id = r.id AND s.effective_from <= r.effective_from
 AND (s.effective_to IS NULL OR s.effective_to > r.effective_from)
JOIN relationships_staff st ON st.id = s.staff_id
LEFT JOIN ({OUTLET_SEGMENTS_SQL}) seg
  ON seg.staff_id = s.staff_id AND seg.valid_from <= r.effective_from
 AND (seg.valid_to IS NULL OR r.effective_from < seg.valid_to)
WHERE ({relationships_where})
  AND (r.effective_to IS NULL OR r.effective_to > r.effective_from)
  AND NOT EXISTS (
      SELECT 1 FROM relationships_relationship p
      WHERE p.customer_id = r.customer_id AND p.type_id = r.type_id AND p.id <> r.id
        AND (p.effective_to IS NULL OR p.effective_to > p.effective_from)
        AND (p.effective_from, p.id) < (r.effective_from, r.id))
"""


# The relationships becoming effective in the month [start, end).
NEW_IN_MONTH = "r.effective_from >= %(start)s AND r.effective_from < %(end)s"

# New effective customers, by day and for the month, at the outlet of the effective day.
_UPSERT_NEW_CUSTOMERS = f"""
INSERT INTO performance_staffperformance (grain, period, month, staff_id, type_id, outlet_id, new_customers)
SELECT g.grain, g.period, %(start)s, n.staff_id, n.type_id, n.outlet_id, sum(n.ratio)
FROM ({new_customer_credits_sql(NEW_IN_MONTH)}) n
CROSS JOIN LATERAL (VALUES ('day', n.day), ('month', %(start)s::date)) AS g(grain, period)
GROUP BY g.grain, g.period, n.staff_id, n.type_id, n.outlet_id
ON CONFLICT (grain, period, staff_id, type_id, outlet_id) DO UPDATE SET new_customers = EXCLUDED.new_customers
"""


# R-PERF-2: the weight in calendar days of each day with rows (`MonthCalendar.points`: the loaded days, the
# carry-in, the change days) — up to the next one; the month's last loaded day counts once.
CALENDAR_WEIGHTS_SQL = """
SELECT t.day, coalesce(lead(t.day) OVER (ORDER BY t.day), t.day + 1) - t.day AS w
FROM unnest(%(points)s::date[]) AS t(day)
"""

# Day rows get asset_days = assets × their day's weight (only those that differ: `weigh` limits the days looked
# at, None: all), and their month rows the difference — the same statement for `compute_period` and the night.
APPLY_WEIGHTS_SQL = f"""
WITH w AS ({CALENDAR_WEIGHTS_SQL}),
c AS (SELECT x.id, x.staff_id, x.type_id, x.outlet_id, x.asset_days AS old, x.assets * w.w AS new
      FROM performance_staffperformance x JOIN w ON x.grain = 'day' AND x.period = w.day
      WHERE (%(weigh)s::date[] IS NULL OR w.day = ANY(%(weigh)s::date[]))
        AND x.asset_days IS DISTINCT FROM x.assets * w.w),
u AS (UPDATE performance_staffperformance p SET asset_days = c.new FROM c WHERE p.id = c.id
      RETURNING c.staff_id, c.type_id, c.outlet_id, c.new - c.old AS diff)
UPDATE performance_staffperformance p SET asset_days = p.asset_days + d.diff
FROM (SELECT staff_id, type_id, outlet_id, sum(diff) AS diff FROM u GROUP BY staff_id, type_id, outlet_id) d
WHERE p.grain = 'month' AND p.period = %(start)s AND p.staff_id = d.staff_id AND p.type_id = d.type_id
  AND p.outlet_id = d.outlet_id
"""

# The carried days (R-PERF-2): the carry-in and the change days (`MonthCalendar.carried`: each day with the loaded
# day whose assets it carries), credited as on that day — its holders, at the outlet of that day (R-STAFF-1).
def carried_days_sql(holdings: str) -> str:
    """The carried day rows over `holdings` (the nightly tables, or the customers an adjustment captures), for the
    days `%(carried_days)s` with their source days `%(carried_from)s`."""
    return f"""
SELECT p.day, h.staff_id, h.type_id, sum(m.assets * h.ratio) AS assets,
       0::numeric AS net_commission, 0::numeric AS turnover, 0::numeric AS transfer_in, 0::numeric AS trade_count,
       coalesce(seg.outlet_id, st.outlet_id) AS outlet_id
FROM unnest(%(carried_days)s::date[], %(carried_from)s::date[]) AS p(day, from_day)
JOIN performance_dailymetric m ON m.date = p.from_day
JOIN {holdings} h ON h.customer_id = m.customer_id
JOIN relationships_staff st ON st.id = h.staff_id
LEFT JOIN ({OUTLET_SEGMENTS_SQL}) seg
  ON seg.staff_id = h.staff_id AND seg.valid_from <= p.day AND (seg.valid_to IS NULL OR p.day < seg.valid_to)
WHERE h.rel_from <= p.day AND (h.rel_to IS NULL OR p.day < h.rel_to)
  AND h.share_from <= p.day AND (h.share_to IS NULL OR p.day < h.share_to)
GROUP BY p.day, h.staff_id, h.type_id, coalesce(seg.outlet_id, st.outlet_id)
"""


def day_rows_sql(holdings: str = HOLDINGS_IN_FORCE, *, days: str | None = None) -> str:
    """Every day row over `holdings`: the credited days (`credited_days_at_outlets_sql`, `days` as there) and the
    carried days `%(carried_days)s` (`carried_days_sql`; none for empty arrays) — the day rows of `compute_period`
    (the month), of the night (its dirty days) and of an adjustment's capture (its customers) alike."""
    return f"{credited_days_at_outlets_sql(holdings, days=days)}\nUNION ALL\n{carried_days_sql(holdings)}"


_DAY_AGGREGATE = f"CREATE TEMP TABLE perf_day ON COMMIT DROP AS {day_rows_sql()}"

# The days without a metrics row inside (after, before) on which a share, a relationship or a membership starts or
# ends (one index-free pass over the three tables' dates, the range pushed into each branch).
_CHANGE_DAYS_SQL = """
SELECT DISTINCT c.day FROM (
    SELECT effective_from AS day FROM relationships_relationshipshare
    UNION ALL SELECT effective_to FROM relationships_relationshipshare
    UNION ALL SELECT effective_from FROM relationships_relationship
    UNION ALL SELECT effective_to FROM relationships_relationship
    UNION ALL SELECT valid_from FROM relationships_staffmembership
    UNION ALL SELECT valid_to FROM relationships_staffmembership) c
WHERE c.day > %(after)s AND c.day < %(before)s AND c.day <> ALL(%(days)s::date[])
ORDER BY c.day
"""


@dataclass(frozen=True)
class MonthCalendar:
    """A month's days with rows (R-PERF-2): `points`, the loaded days, the carry-in and the change days, sorted;
    `carried`, each carried day with the loaded day whose assets it carries."""

    points: list[dt.date]
    carried: list[tuple[dt.date, dt.date]]

    def params(self) -> dict:
        return {"points": self.points, "carried_days": [c for c, _f in self.carried],
                "carried_from": [f for _c, f in self.carried]}


def month_calendar(start: dt.date, days: list[dt.date]) -> MonthCalendar:
    """The days with rows of the month starting `start` whose loaded days are `days` (sorted): see the module
    docstring. A change day before the first loaded day carries the carry-in's day; none without a carry-in."""
    if not days:
        return MonthCalendar([], [])
    carry = carry_from(start, days)
    carried: list[tuple[dt.date, dt.date]] = [(start, carry)] if carry is not None else []
    with connection.cursor() as cur:
        cur.execute(_CHANGE_DAYS_SQL, {"after": start if carry is not None else days[0], "before": days[-1],
                                       "days": days})
        for (day,) in cur.fetchall():
            before = bisect.bisect_left(days, day)
            source = days[before - 1] if before else carry
            if source is not None:  # (always: without a carry-in a change day comes after the first loaded day)
                carried.append((day, source))
    return MonthCalendar(sorted(set(days) | {c for c, _f in carried}), carried)


def carry_from(start: dt.date, days: list[dt.date]) -> dt.date | None:
    """The day whose assets the month's first days carry (R-PERF-2): the last loaded day before the month, when
    the month has loaded days and its first day is not one of them."""
    if not days or days[0] == start:
        return None
    return MetricDate.objects.filter(date__lt=start).order_by("-date").values_list("date", flat=True).first()


def compute_period(*, period: dt.date) -> dict:
    """Recompute one month's staff rows (days and month) from metrics and shares, in one transaction.

    Refuses a locked month (PeriodLocked). Concurrent computations and locks of the same month are
    serialised by an advisory lock.
    """
    start = month_start(period)
    end = next_month(start)
    with transaction.atomic(), connection.cursor() as cur:
        xact_lock(LockSpace.PERFORMANCE_PERIOD, start)
        if PeriodLock.objects.filter(period=start).exists():
            raise PeriodLocked(_("The period %(period)s is locked; its figures are not recomputed.")
                               % {"period": f"{start:%Y-%m}"})
        metrics_xact_lock()  # no metrics load in between: the days' versions hold
        versions = dict(MetricDate.objects.filter(date__gte=start, date__lt=end).values_list("date", "version"))
        days = sorted(versions)
        cur.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
        params = {"start": start, "end": end, "last_day": days[-1] if days else None,
                  **month_calendar(start, days).params()}
        cur.execute("DELETE FROM performance_staffperformance WHERE grain IN ('day', 'month') "
                    "AND period >= %(start)s AND period < %(end)s", params)   # the unique index's prefix
        cur.execute("DROP TABLE IF EXISTS perf_day")
        cur.execute(_DAY_AGGREGATE, params)
        cur.execute(_INSERT_DAYS, params)
        cur.execute(_INSERT_MONTH, params)
        cur.execute(_UPSERT_NEW_CUSTOMERS, params)
        cur.execute(APPLY_WEIGHTS_SQL, {**params, "weigh": None})
        cur.execute("DROP TABLE perf_day")
        cur.execute("SELECT count(*) FROM performance_staffperformance WHERE grain IN ('day', 'month') "
                    "AND period >= %(start)s AND period < %(end)s", params)
        rows = cur.fetchone()[0]
        now = timezone.now()
        ComputedPeriod.objects.update_or_create(period=start, defaults={
            "days": len(days), "last_day": params["last_day"], "rows": rows, "computed_at": now})
        ComputedDay.objects.filter(month=start).delete()
        ComputedDay.objects.bulk_create([ComputedDay(date=d, month=start, version=v, computed_at=now)
                                         for d, v in versions.items()])
    return {"rows": rows, "days": len(days)}


def open_periods_through(business_date: dt.date) -> tuple[list[dt.date], list[dt.date]]:
    """(open months to compute, locked months skipped): every month up to `business_date`'s that has
    reported days, and that month itself."""
    last = month_start(business_date)
    months = {month_start(d) for d in MetricDate.objects.filter(date__lt=next_month(last))
              .values_list("date", flat=True)}
    months.add(last)
    locked = set(PeriodLock.objects.filter(period__in=months).values_list("period", flat=True))
    return sorted(months - locked), sorted(months & locked)
