"""The nightly classification of customers as lost, dormant or silent (R-SEC-1/2/3/6).

Nobody types these lists: for the business date D the stage derives every customer's state from the
account events and the month-end asset snapshots, with a handful of set-based statements, and brings
`CustomerClass` in line with it — a class that no longer holds is ended on D (its row stays, with its
dates), a new one is inserted. Running it twice for the same date changes nothing the second time.

- **lost** (R-SEC-1): his latest securities lifecycle event (open, close, designate, cancel designation,
  own-request transfer) is a loss: a cancelled Shanghai A-share designation, or the close of a
  securities account that leaves him none open. `since` is the first cancelled designation after his
  last "back" event, or else the close that left him without an account.
- **dormant** (R-SEC-2): his latest of dormant / activate / open is a dormancy; `since` is the first
  dormancy after his last activation or opening.
- **silent** (R-SEC-3): at each of the last 12 month-ends his assets were below 1,000 yuan and in
  those 12 months he had no trade. A month-end is the last day of the month the metrics feed reported
  (`performance.MetricDate`); a customer needs a snapshot at every one of the 12. The silent state is
  judged at month-ends only: the 12 months are the last 12 complete calendar months up to D.
  `since` is the 12th month-end of the first evaluation that found him silent.
  The judgement is made once per new month-end, from the per-customer monthly summary the metrics load
  keeps (`CustomerMonth`), and stored (`SilentJudgement`, `SilentCustomer`); the nights after read the stored
  set. A new reported day in the window or a metrics load touching it drops the judgement, and the next night
  judges again. `recompute_silent=True` judges from the daily metrics themselves, as a check.

A customer in several states is classified once, in the order lost, dormant, silent.

The classes are rows of `relationships.CustomerClass`; they are derived here, beside the metrics they read.
Without metrics for the latest month-end the silent part is left as it was (a late metrics feed never
clears a silent class).
"""
from __future__ import annotations

import calendar
import datetime as dt
import logging
import time
from collections import Counter
from decimal import Decimal

from django.db import connection, transaction

from common.actors import BATCH, Actor, actor_label, actor_user
from common.locks import metrics_xact_lock
from performance.models import CustomerMonth, DailyMetric, MetricDate, SilentCustomer, SilentJudgement

log = logging.getLogger(__name__)
SILENT_THRESHOLD = Decimal("1000")
SILENT_MONTHS = 12
LOSS_KINDS_SQL = "((e.kind = 'close' AND e.account_type = 'securities') OR e.kind = 'cancel_designation')"
BACK_KINDS_SQL = ("((e.kind = 'open' AND e.account_type = 'securities') "
                  "OR e.kind IN ('designate', 'transfer_in_branch'))")


def silent_window(business_date: dt.date) -> tuple[dt.date, dt.date]:
    """(first day, last day) of the last 12 complete calendar months up to `business_date`."""
    last_of_month = calendar.monthrange(business_date.year, business_date.month)[1]
    if business_date.day == last_of_month:
        end = business_date
    else:
        end = business_date.replace(day=1) - dt.timedelta(days=1)
    year, month = end.year, end.month - (SILENT_MONTHS - 1)
    while month < 1:
        year, month = year - 1, month + 12
    return dt.date(year, month, 1), end


_LIFE_SQL = f"""
CREATE TEMP TABLE cls_life ON COMMIT DROP AS
SELECT e.customer_id,
       max(e.event_time) FILTER (WHERE {BACK_KINDS_SQL}) AS last_back,
       max(e.event_time) FILTER (WHERE {LOSS_KINDS_SQL}) AS last_loss,
       max(e.event_time) FILTER (WHERE e.kind IN ('activate', 'open')) AS last_awake,
       max(e.event_time) FILTER (WHERE e.kind = 'dormant') AS last_dormant
FROM relationships_accountevent e
WHERE e.business_date <= %(d)s
  AND e.customer_id IN (SELECT x.customer_id FROM relationships_accountevent x
                        WHERE x.kind IN ('close', 'cancel_designation', 'dormant') AND x.business_date <= %(d)s)
GROUP BY e.customer_id
"""

_NOW_SQL = """
CREATE TEMP TABLE cls_now (customer_id bigint, kind text, since date, since_at timestamptz, source_event_id bigint,
                           outlet_id bigint, prio int) ON COMMIT DROP
"""

_LOST_SQL = f"""
INSERT INTO cls_now
SELECT l.customer_id, 'lost', ev.business_date, ev.event_time, ev.id, ev.outlet_id, 1
FROM cls_life l
CROSS JOIN LATERAL (
    SELECT e.id, e.event_time, e.business_date, e.outlet_id, e.kind
    FROM relationships_accountevent e
    WHERE e.customer_id = l.customer_id AND e.business_date <= %(d)s AND {LOSS_KINDS_SQL}
      AND e.event_time > COALESCE(l.last_back, '-infinity'::timestamptz)
    ORDER BY (e.kind = 'cancel_designation') DESC,
             CASE WHEN e.kind = 'cancel_designation' THEN e.event_time END ASC,
             e.event_time DESC, e.id DESC
    LIMIT 1
) ev
WHERE l.last_loss > COALESCE(l.last_back, '-infinity'::timestamptz)
  AND (ev.kind = 'cancel_designation' OR NOT EXISTS (
      SELECT 1 FROM relationships_accountevent o
      WHERE o.customer_id = l.customer_id AND o.kind = 'open' AND o.account_type = 'securities'
        AND o.business_date <= %(d)s
        AND NOT EXISTS (SELECT 1 FROM relationships_accountevent x
                        WHERE x.customer_id = o.customer_id AND x.kind = 'close' AND x.account_type = 'securities'
                          AND x.account_no = o.account_no AND x.event_time >= o.event_time
                          AND x.business_date <= %(d)s)))
"""

_DORMANT_SQL = """
INSERT INTO cls_now
SELECT l.customer_id, 'dormant', ev.business_date, ev.event_time, ev.id, ev.outlet_id, 2
FROM cls_life l
CROSS JOIN LATERAL (
    SELECT e.id, e.event_time, e.business_date, e.outlet_id
    FROM relationships_accountevent e
    WHERE e.customer_id = l.customer_id AND e.business_date <= %(d)s AND e.kind = 'dormant'
      AND e.event_time > COALESCE(l.last_awake, '-infinity'::timestamptz)
    ORDER BY e.event_time, e.id
    LIMIT 1
) ev
WHERE l.last_dormant > COALESCE(l.last_awake, '-infinity'::timestamptz)
"""

# The judgement from the monthly summary: 12 customer-months whose last reported day is the month-end, each
# below the threshold and without a trading day. The outlet is that of his latest account.
_SILENT_JUDGE_SQL = """
INSERT INTO {silent} (customer_id, window_end, outlet_id)
SELECT q.customer_id, %(w1)s,
       (SELECT a.outlet_id FROM relationships_account a WHERE a.customer_id = q.customer_id
        ORDER BY a.opened_at DESC NULLS LAST, a.id DESC LIMIT 1)
FROM (SELECT cm.customer_id
      FROM {summary} cm
      JOIN unnest(%(ends)s::date[]) AS e(day) ON cm.month = date_trunc('month', e.day)::date AND cm.last_date = e.day
      WHERE cm.assets < %(threshold)s AND cm.trade_days = 0
      GROUP BY cm.customer_id
      HAVING count(*) = %(months)s) q
"""

_SILENT_STORED_SQL = """
INSERT INTO cls_now SELECT customer_id, 'silent', window_end, NULL, NULL, outlet_id, 3 FROM {silent}
"""

# The same judgement from the daily metrics themselves (`recompute_silent`): the reference the summary is checked
# against.
_SILENT_SQL = """
WITH low AS (
    -- the month-end snapshots: a handful of dates, read through the BRIN index on the date
    SELECT m.customer_id
    FROM {metrics} m
    WHERE m.date = ANY(%(ends)s::date[])
    GROUP BY m.customer_id
    HAVING count(*) = %(months)s AND bool_and(m.assets < %(threshold)s)
), quiet AS (
    -- minus everyone who traded in the window: one scan of the window and a hashed set difference, far
    -- cheaper than probing each candidate's days through the (customer, date) key
    SELECT customer_id FROM low
    EXCEPT
    SELECT t.customer_id FROM {metrics} t
    WHERE t.date BETWEEN %(w0)s AND %(w1)s AND t.trade_count > 0
)
INSERT INTO cls_now
SELECT q.customer_id, 'silent', %(w1)s, NULL, NULL,
       (SELECT a.outlet_id FROM relationships_account a WHERE a.customer_id = q.customer_id
        ORDER BY a.opened_at DESC NULLS LAST, a.id DESC LIMIT 1), 3
FROM quiet q
"""

# An open class ends when the customer is no longer in that state (lost / dormant: no longer in the
# same episode). Without the metrics of the latest month-end a silent class is kept unless the
# customer is now lost or dormant (which come first).
# Every end and every new class is an audit row written by the same statement (R-SEC-6, "audit everything"): the
# changed rows come back through RETURNING into one INSERT … SELECT, so a night of 100,000 changes costs no
# query per row and no change can be written without its audit row.
_AUDIT_INSERT = """
INSERT INTO relationships_auditentry (at, actor_id, actor_label, action, target_model, target_id, before, after)
"""

_END_SQL = """
WITH ended AS (
    UPDATE relationships_customerclass c SET ended_on = GREATEST(%(d)s, c.detected_on)
    WHERE c.ended_on IS NULL
      AND (c.kind <> 'silent' OR %(judge_silent)s
           OR EXISTS (SELECT 1 FROM cls_best b WHERE b.customer_id = c.customer_id))
      AND NOT EXISTS (
          SELECT 1 FROM cls_best n
          WHERE n.customer_id = c.customer_id AND n.kind = c.kind
            AND (c.kind = 'silent' OR n.since_at IS NOT DISTINCT FROM c.since_at))
    RETURNING c.id, c.customer_id, c.kind, c.since, c.ended_on
), audited AS (""" + _AUDIT_INSERT + """
    SELECT now(), %(actor_id)s, %(actor)s, 'customer_class.end', 'relationships.customerclass', e.id::text,
           jsonb_build_object('customer', e.customer_id, 'kind', e.kind, 'since', e.since, 'ended_on', NULL),
           jsonb_build_object('customer', e.customer_id, 'kind', e.kind, 'since', e.since, 'ended_on', e.ended_on)
    FROM ended e
)
SELECT kind FROM ended
"""

_INSERT_SQL = """
WITH added AS (
    INSERT INTO relationships_customerclass (customer_id, kind, since, since_at, source_event_id, outlet_id,
                                             detected_on)
    SELECT n.customer_id, n.kind, n.since, n.since_at, n.source_event_id, n.outlet_id, %(d)s
    FROM cls_best n
    WHERE NOT EXISTS (SELECT 1 FROM relationships_customerclass c
                      WHERE c.customer_id = n.customer_id AND c.ended_on IS NULL)
    RETURNING id, customer_id, kind, since, source_event_id, outlet_id
), audited AS (""" + _AUDIT_INSERT + """
    SELECT now(), %(actor_id)s, %(actor)s, 'customer_class.create', 'relationships.customerclass', a.id::text,
           NULL,
           jsonb_build_object('customer', a.customer_id, 'kind', a.kind, 'since', a.since,
                              'event', a.source_event_id, 'outlet', a.outlet_id)
    FROM added a
)
SELECT kind FROM added
"""


def customers_classify(*, business_date: dt.date, actor: Actor = BATCH, recompute_silent: bool = False) -> Counter:
    """The nightly stage (R-SEC-6): bring the open classes in line with the state as of `business_date`; each
    class ended or created is audited, by `actor` (the batch). `recompute_silent` judges silence from the daily
    metrics instead of the stored judgement (a check; it leaves the stored judgement alone)."""
    counts: Counter = Counter()
    user = actor_user(actor)
    params = {"d": business_date}
    audit_params = {"actor": actor_label(actor), "actor_id": user.pk if user is not None else None}
    metrics, dates = DailyMetric._meta.db_table, MetricDate._meta.db_table
    with transaction.atomic(), connection.cursor() as raw:
        cur = _Timed(raw)
        cur.execute("SET LOCAL work_mem = '256MB'")
        cur.execute("DROP TABLE IF EXISTS cls_life, cls_now, cls_best")  # inside an outer transaction
        cur.execute(_LIFE_SQL, params)
        cur.execute(_NOW_SQL)
        cur.execute(_LOST_SQL, params)
        cur.execute(_DORMANT_SQL, params)
        w0, w1 = silent_window(business_date)
        cur.execute(f"SELECT EXISTS (SELECT 1 FROM {dates} WHERE date BETWEEN %s AND %s)",
                    [w1.replace(day=1), w1])
        judge_silent = cur.fetchone()[0]
        if judge_silent:
            # A month-end is the last day of the month the metrics feed reported.
            cur.execute(f"SELECT max(date) FROM {dates} WHERE date BETWEEN %s AND %s "
                        "GROUP BY date_trunc('month', date) ORDER BY 1", [w0, w1])
            ends = [row[0] for row in cur.fetchall()]
            if len(ends) == SILENT_MONTHS and recompute_silent:
                cur.execute(_SILENT_SQL.format(metrics=metrics),
                            {"w0": w0, "w1": w1, "ends": ends, "months": SILENT_MONTHS,
                             "threshold": SILENT_THRESHOLD})
            elif len(ends) == SILENT_MONTHS:  # fewer reported months: nobody can be silent yet
                counts["silent_rejudged"] = int(_silent_judgement(cur, w0, w1, ends))
                cur.execute(_SILENT_STORED_SQL.format(silent=SilentCustomer._meta.db_table))
        cur.execute("CREATE TEMP TABLE cls_best ON COMMIT DROP AS "
                    "SELECT DISTINCT ON (customer_id) * FROM cls_now ORDER BY customer_id, prio")
        cur.execute("CREATE INDEX ON cls_best (customer_id)")
        cur.execute("ANALYZE cls_best")
        cur.execute(_END_SQL, {**params, **audit_params, "judge_silent": judge_silent})
        for (kind,) in cur.fetchall():
            counts[f"ended_{kind}"] += 1
        cur.execute(_INSERT_SQL, {**params, **audit_params})
        for (kind,) in cur.fetchall():
            counts[f"new_{kind}"] += 1
        cur.execute("SELECT kind, count(*) FROM relationships_customerclass WHERE ended_on IS NULL GROUP BY kind")
        for kind, n in cur.fetchall():
            counts[kind] = n
        counts["silent_judged"] = int(judge_silent)
        cur.execute("DROP TABLE cls_life, cls_now, cls_best")
    log.debug("classify %s: %s", business_date, ", ".join(f"{k} {v:.2f}s" for k, v in cur.timings))
    return counts


def _silent_judgement(cur, w0: dt.date, w1: dt.date, ends: list[dt.date]) -> bool:
    """Make sure the stored silent set is that of the window [w0, w1] with these month-ends; judge it again (from
    the monthly summary) only when it is not. Returns whether it judged."""
    metrics_xact_lock()  # no metrics load between reading the summary and storing
    judgements, silent = SilentJudgement._meta.db_table, SilentCustomer._meta.db_table
    cur.execute(f"SELECT month_ends FROM {judgements} WHERE window_end = %s", [w1])
    row = cur.fetchone()
    if row is not None and list(row[0]) == list(ends):
        return False
    cur.execute(f"DELETE FROM {silent}")
    cur.execute(f"DELETE FROM {judgements}")
    cur.execute(_SILENT_JUDGE_SQL.format(silent=silent, summary=CustomerMonth._meta.db_table),
                {"w1": w1, "ends": ends, "months": SILENT_MONTHS, "threshold": SILENT_THRESHOLD})
    found = cur.rowcount
    cur.execute(f"INSERT INTO {judgements} (window_end, window_start, month_ends, customers, judged_at) "
                "VALUES (%s, %s, %s, %s, now())", [w1, w0, ends, found])
    return True


class _Timed:
    """A cursor wrapper that keeps each statement's duration (logged at DEBUG; the benchmark prints them)."""

    def __init__(self, cur):
        self.cur, self.timings = cur, []

    def execute(self, sql, params=None):
        started = time.perf_counter()
        self.cur.execute(sql, params)
        words = sql.split()
        label = " ".join(words[:4]) if words else "?"
        self.timings.append((label, time.perf_counter() - started))

    def fetchone(self):
        return self.cur.fetchone()

    def fetchall(self):
        return self.cur.fetchall()

    @property
    def rowcount(self) -> int:
        return self.cur.rowcount
