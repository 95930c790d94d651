"""Adjustments (调整, R-PERF-5): what a change reaching back into a locked month would have changed there, posted
into the first open month after it, so that a locked month is never rewritten (R-PERF-3).

**Posting.** A service that changes relationships or shares from an effective date (a reassignment's approval, a
disputed relationship ended or reassigned, a correction) wraps its writes in `adjustments_posted(...)`, in its
own transaction, naming the customers it changes (a SQL subquery, so 5,000 customers are one statement):

1. the locked months from the effective date's month on are read and their lock rows held (`FOR SHARE`: HQ
   cannot reopen them meanwhile). None locked: nothing else happens (one statement);
2. BEFORE the change, those customers' credited figures in each locked month touched are captured into a
   temporary table — with the crediting rule of `performance.services` itself (the day rows of `compute_period`,
   `day_rows_sql`, over `HOLDINGS_IN_FORCE` restricted to the customers, rolled
   up by `month_rollup_sql` with the locked month's frozen last reported day), and new effective customers by the
   rule of `compute_period` (`new_customer_credits_sql`);
3. the change is made; the same figures are captured AFTER it;
4. the nonzero differences, per locked month L, staff member, relationship type and outlet (the staff member's
   outlet on the day credited, `relationships.membership.OUTLET_SEGMENTS_SQL`), are inserted as adjustment rows
   posted into P, the first month after L that is not locked, with one audit row.

Crediting is additive per customer, so the difference over the customers changed is the difference the whole
month would have shown. A fixed number of statements per locked month touched, whatever the number of customers.

**Reopening (R-PERF-5, `performance.periods`).** A reopened month L is recomputed by the night like any open
month, and then holds the changes its adjustments stood for. So that they are not counted twice, reopening L
reverses every adjustment belonging to L not yet reversed: one counter-row each (source `reversal`, the same
figures negated, `reverses` the original), posted into the first month after L that is not locked. A later
change into L, once L is locked again, posts new adjustments as before. Adjustments posted *into* L (belonging to
earlier months) stay: their months are still locked.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import connection, transaction

from common.actors import actor_label, actor_user
from common.locks import metrics_xact_lock
from performance.models import AdjustmentSource, ComputedPeriod, MetricDate
from performance.services import (
    CALENDAR_WEIGHTS_SQL,
    HOLDINGS_IN_FORCE,
    NEW_IN_MONTH,
    day_rows_sql,
    month_calendar,
    month_rollup_sql,
    month_start,
    new_customer_credits_sql,
    next_month,
)
from relationships.audit import audit

FIGURES = ("asset_days", "assets", "net_commission", "turnover", "transfer_in", "trade_count", "new_customers")

_HOLDINGS = f"(SELECT h.* FROM {HOLDINGS_IN_FORCE} h WHERE h.customer_id IN (SELECT customer_id FROM adj_customers))"

# Each credited day of the customers, with the month's carry-in (R-PERF-2), at the staff member's outlet of that day
# (rolled up per outlet by `month_rollup_sql(by_outlet=True)`, as `compute_period` does). Assets are weighted by
# the day's calendar days (`CALENDAR_WEIGHTS_SQL`), so the roll-up's asset-days are those of `compute_period`; the
# last loaded day weighs 1, so its assets (the month's assets) are unchanged.
_KEYED_DAYS = f"""(
    SELECT d.day, d.staff_id, d.type_id, d.outlet_id, d.assets * w.w AS assets, d.net_commission,
           d.turnover, d.transfer_in, d.trade_count
    FROM ({day_rows_sql(_HOLDINGS)}) d
    JOIN ({CALENDAR_WEIGHTS_SQL}) w ON w.day = d.day)"""

_CAPTURE_CREDITS = f"""
INSERT INTO adj_figures (sign, month, staff_id, type_id, outlet_id, asset_days, assets, net_commission, turnover,
                         transfer_in, trade_count, new_customers)
SELECT %(sign)s, %(start)s, mo.staff_id, mo.type_id, mo.outlet_id, mo.asset_days, mo.assets,
       mo.net_commission, mo.turnover, mo.transfer_in, mo.trade_count, 0
FROM ({month_rollup_sql(_KEYED_DAYS, by_outlet=True)}) mo
"""

_CUSTOMERS_NEW_IN_MONTH = f"r.customer_id IN (SELECT customer_id FROM adj_customers) AND {NEW_IN_MONTH}"

# New effective customers of the month among the customers (the rule of `compute_period`,
# `performance.services.new_customer_credits_sql`).
_CAPTURE_NEW_CUSTOMERS = f"""
INSERT INTO adj_figures (sign, month, staff_id, type_id, outlet_id, asset_days, assets, net_commission, turnover,
                         transfer_in, trade_count, new_customers)
SELECT %(sign)s, %(start)s, n.staff_id, n.type_id, n.outlet_id, 0, 0, 0, 0, 0, 0, sum(n.ratio)
FROM ({new_customer_credits_sql(_CUSTOMERS_NEW_IN_MONTH)}) n
GROUP BY n.staff_id, n.type_id, n.outlet_id
"""

_SUMS = ", ".join(f"sum(sign * {f}) AS {f}" for f in FIGURES)
_NONZERO = " OR ".join(f"d.{f} <> 0" for f in FIGURES)
_COLUMNS = ", ".join(FIGURES)

_POST = f"""
WITH d AS (
    SELECT month, staff_id, type_id, outlet_id, {_SUMS} FROM adj_figures GROUP BY month, staff_id, type_id, outlet_id)
INSERT INTO performance_performanceadjustment (posted_in, belongs_to, staff_id, type_id, outlet_id, source, case_id,
                                               reassignment_id, relationship_id, {_COLUMNS}, created_at,
                                               created_by_id, created_by_label)
SELECT p.posted_in, d.month, d.staff_id, d.type_id, d.outlet_id, %(source)s, %(case)s, %(reassignment)s,
       %(relationship)s, {", ".join(f"d.{f}" for f in FIGURES)}, now(), %(user)s, %(label)s
FROM d JOIN unnest(%(months)s::date[], %(posted)s::date[]) AS p(month, posted_in) ON p.month = d.month
WHERE {_NONZERO}
ORDER BY d.month, d.staff_id, d.type_id, d.outlet_id
RETURNING id
"""

_REVERSE = f"""
INSERT INTO performance_performanceadjustment (posted_in, belongs_to, staff_id, type_id, outlet_id, source, case_id,
                                               reassignment_id, relationship_id, reverses_id, {_COLUMNS},
                                               created_at, created_by_id, created_by_label)
SELECT %(posted)s, a.belongs_to, a.staff_id, a.type_id, a.outlet_id, 'reversal', a.case_id, a.reassignment_id,
       a.relationship_id, a.id, {", ".join(f"-a.{f}" for f in FIGURES)}, now(), %(user)s, %(label)s
FROM performance_performanceadjustment a
WHERE a.belongs_to = %(period)s AND a.source <> 'reversal'
  AND NOT EXISTS (SELECT 1 FROM performance_performanceadjustment r WHERE r.reverses_id = a.id)
ORDER BY a.id
"""


@dataclass
class Posting:
    """What `adjustments_posted` did: the locked months it captured, and the adjustment rows it posted.
    `relationship_id` may be set by the change itself (a relationship it creates, unknown before it)."""

    months: list[dt.date]
    rows: int = 0
    relationship_id: int | None = None


def first_open_after(period: dt.date, locked: set[dt.date]) -> dt.date:
    """The first month after `period` that is not in `locked`."""
    month = next_month(period)
    while month in locked:
        month = next_month(month)
    return month


def _capture(cur, sign: int, months: list[dt.date], last_days: dict[dt.date, dt.date | None]) -> None:
    for start in months:
        end = next_month(start)
        days = sorted(MetricDate.objects.filter(date__gte=start, date__lt=end).values_list("date", flat=True))
        # the month's days with rows as they stand (a change day the change adds or removes counts, R-PERF-2)
        params = {"sign": sign, "start": start, "end": end, "last_day": last_days.get(start),
                  **month_calendar(start, days).params()}
        cur.execute(_CAPTURE_CREDITS, params)
        cur.execute(_CAPTURE_NEW_CUSTOMERS, params)


@contextmanager
def adjustments_posted(*, actor, source: AdjustmentSource | str, effective_from: dt.date, customers_sql: str,
                       params: dict | None = None, case_id: int | None = None, reassignment_id: int | None = None,
                       relationship_id: int | None = None) -> Iterator[Posting]:
    """Wrap a change effective from `effective_from` to the customers `customers_sql` selects (a subquery with a
    `customer_id` column, with `params`): its differences in locked months become adjustment rows (see the module
    docstring). One transaction with the change; an exception in the change posts nothing."""
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SELECT period FROM performance_periodlock WHERE period >= %s ORDER BY period FOR SHARE",
                    [month_start(effective_from)])
        locked = [row[0] for row in cur.fetchall()]
        posting = Posting(months=locked, relationship_id=relationship_id)
        if not locked:
            yield posting
            return
        metrics_xact_lock()  # the metrics read before and after the change are the same
        last_days = dict(ComputedPeriod.objects.filter(period__in=locked).values_list("period", "last_day"))
        cur.execute("DROP TABLE IF EXISTS adj_customers, adj_figures")
        cur.execute(f"CREATE TEMP TABLE adj_customers ON COMMIT DROP AS "
                    f"SELECT DISTINCT c.customer_id FROM ({customers_sql}) c", params or {})
        cur.execute("CREATE TEMP TABLE adj_figures (sign int, month date, staff_id bigint, type_id text, "
                    "outlet_id bigint, asset_days numeric, assets numeric, net_commission numeric, turnover numeric, "
                    "transfer_in numeric, trade_count numeric, new_customers numeric) ON COMMIT DROP")
        _capture(cur, -1, locked, last_days)
        yield posting
        _capture(cur, 1, locked, last_days)
        posted = [first_open_after(m, set(locked)) for m in locked]
        user = actor_user(actor)
        relationship_id = posting.relationship_id
        cur.execute(_POST, {"source": str(source), "case": case_id, "reassignment": reassignment_id,
                            "relationship": relationship_id, "months": locked, "posted": posted,
                            "user": getattr(user, "pk", None), "label": actor_label(actor)})
        ids = [row[0] for row in cur.fetchall()]
        posting.rows = len(ids)
        cur.execute("DROP TABLE adj_customers, adj_figures")
        if ids:
            audit(actor=actor, action="performance.adjust", target=("performance.performanceadjustment", min(ids)),
                  after={"source": str(source), "effective_from": effective_from.isoformat(), "rows": posting.rows,
                         "belongs_to": [f"{m:%Y-%m}" for m in locked], "posted_in": [f"{p:%Y-%m}" for p in posted],
                         "case": case_id, "reassignment": reassignment_id, "relationship": relationship_id})


def adjustments_reverse(*, actor, period: dt.date, locked: set[dt.date]) -> int:
    """On reopening `period` (inside the reopening transaction): a counter-row for each adjustment belonging to it
    not reversed yet, posted into the first month after it not in `locked` (the locks after the reopening)."""
    user = actor_user(actor)
    posted = first_open_after(period, locked)
    with connection.cursor() as cur:
        cur.execute(_REVERSE, {"period": period, "posted": posted, "user": getattr(user, "pk", None),
                               "label": actor_label(actor)})
        return cur.rowcount
