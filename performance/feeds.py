"""The `metrics` feed (§12): `date,id_number,assets,net_commission,turnover,trade_count,transfer_in`.

Called by `reservations.exchange.registry.load_feed` (which owns the file-level rules: content-hash dedupe, one
transaction per file, the FeedFile record). The lines go into a temporary staging table with
PostgreSQL COPY, are validated there with set-based statements, and the good ones are upserted into
`DailyMetric` keyed (customer, date) in one statement. The only per-line Python work is the ID
number: normalised (GB 11643) and hashed with the platform's keyed hash (R-PII-1), which is how
customers are found; the number itself never reaches the database.

A line is refused, with its number, for an invalid ID number, an ID number of no known customer, a
date that is not a real `YYYY-MM-DD` day within the feeds' horizon (`common.feedlines`, 1990–2100), an
amount that is not a plain decimal with at most two decimals (yuan), a negative amount where none can be,
a trade count that is not a whole number, or a customer and date that an earlier line of the same file
already gave. An empty `net_commission`, `turnover`, `trade_count` or `transfer_in` means 0; `assets` is
required. A later file for an already loaded customer and day replaces its figures (a correction); a
locked period keeps its computed figures (R-PERF-3).

Signs: end-of-day assets, turnover, the trade count and the assets transferred in are never negative (a
transfer out is not a negative transfer in). Net commission may be: it is the commission less the fees passed
on and the rebates paid, and a day with a rebate or a correction of an earlier day and no trade nets below 0.

A line with a NUL or another control character never reaches COPY: `load_feed` refuses it first.

The same load keeps the per-customer monthly summary (`CustomerMonth`: last reported day, its assets, days with
trades) with two set-based statements, and drops a silent judgement whose window it touches (R-SEC-3, see
`performance.classification`). Loads are serialised by an advisory lock, so the summary's trading days, counted
as the lines add less what they replace, stay exact.
"""
from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import connection
from django.utils.translation import gettext_noop

from common.feedlines import EARLIEST_YEAR, LATEST_YEAR, FieldRules, LineError, check_horizon, refusal_text
from common.locks import metrics_xact_lock
from common.wording import Message, recognise
from relationships.identity import normalise_id_number
from relationships.pii import pii_hashes
from relationships.pii_store import hold_hash_versions

COLUMNS = ["date", "id_number", "assets", "net_commission", "turnover", "trade_count", "transfer_in"]
STAGING = "perf_metric_staging"
AMOUNT_COLUMNS = ("assets", "net_commission", "turnover", "transfer_in")
SIGNED_COLUMNS = ("net_commission",)  # the only amount that may be negative (see above)
RULES = FieldRules(codes=frozenset(COLUMNS))
OPTIONAL_COLUMNS = ("net_commission", "turnover", "trade_count", "transfer_in")
AMOUNT_RE = r"^[+-]?[0-9]{1,16}(\.[0-9]{1,2})?$"
COUNT_RE = r"^[0-9]{1,9}$"


# The monthly summary (`CustomerMonth`) of the customer-months the file touches: the last reported day and its
# assets move forward only, the trading days change by what the lines add less what they replace.
_SUMMARY_UPSERT = """
WITH t AS (
    SELECT customer_id, date_trunc('month', day)::date AS month, max(day) AS last_date,
           (array_agg(assets_raw::numeric ORDER BY day DESC))[1] AS assets,
           sum((trade_count_raw::integer > 0)::int - coalesce(old_traded::int, 0))::int AS trade_delta
    FROM {staging} WHERE error IS NULL
    GROUP BY 1, 2
), updated AS (
    UPDATE performance_customermonth cm
    SET assets = CASE WHEN t.last_date >= cm.last_date THEN t.assets ELSE cm.assets END,
        last_date = GREATEST(cm.last_date, t.last_date),
        trade_days = cm.trade_days + t.trade_delta
    FROM t WHERE cm.customer_id = t.customer_id AND cm.month = t.month
    RETURNING cm.customer_id, cm.month
)
INSERT INTO performance_customermonth (customer_id, month, last_date, assets, trade_days)
SELECT t.customer_id, t.month, t.last_date, t.assets, t.trade_delta FROM t
WHERE NOT EXISTS (SELECT 1 FROM updated u WHERE u.customer_id = t.customer_id AND u.month = t.month)
"""


def load_metrics(actor, rows, result) -> None:
    """`rows` are (line number, {column: stripped text}); fills `result` (a `common.feedlines.FeedResult`)."""
    if not rows:
        return
    with connection.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {STAGING}")
        cur.execute(f"""
            CREATE TEMP TABLE {STAGING} (
                line integer PRIMARY KEY, id_hash text, id_hash_other text[], id_error text, date_raw text,
                assets_raw text, net_commission_raw text, turnover_raw text, trade_count_raw text, transfer_in_raw text,
                customer_id bigint, day date, error text, first_line integer, old_traded boolean
            ) ON COMMIT DROP""")
        hold_hash_versions()  # R-PII-1: no key-rotation chunk between the two customer lookups below
        with cur.copy(f"COPY {STAGING} (line, id_hash, id_hash_other, id_error, date_raw, assets_raw, "
                      f"net_commission_raw, turnover_raw, trade_count_raw, transfer_in_raw) FROM STDIN") as copy:
            for line, row in rows:
                id_hash = other = id_error = None
                try:
                    id_hash, *other = pii_hashes(normalise_id_number(row.get("id_number", "")))
                except ValidationError as exc:
                    id_error = " ".join(exc.messages)
                values = {c: row.get(c, "") for c in ("date", "assets", *OPTIONAL_COLUMNS)}
                for c in OPTIONAL_COLUMNS:
                    values[c] = values[c] or "0"
                copy.write_row((line, id_hash, other, id_error, values["date"], values["assets"],
                                values["net_commission"], values["turnover"], values["trade_count"],
                                values["transfer_in"]))
        # 1. Shape of every field: the first failing check names the line's error.
        amount_checks = "\n".join(
            f"WHEN {c}_raw !~ %(amount)s THEN '{c}'" + ("" if c in SIGNED_COLUMNS else
                                                         f"\nWHEN {c}_raw::numeric < 0 THEN 'negative:{c}'")
            for c in AMOUNT_COLUMNS)
        cur.execute(f"""
            UPDATE {STAGING} SET error = CASE
                WHEN id_error IS NOT NULL THEN 'id_invalid'
                WHEN date_raw !~ '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}$' THEN 'date'
                WHEN substr(date_raw, 1, 4)::int = 0 THEN 'date'
                WHEN substr(date_raw, 6, 2)::int NOT BETWEEN 1 AND 12 THEN 'date'
                WHEN substr(date_raw, 9, 2)::int NOT BETWEEN 1 AND extract(day FROM
                     make_date(substr(date_raw, 1, 4)::int, substr(date_raw, 6, 2)::int, 1)
                     + interval '1 month' - interval '1 day')::int THEN 'date'
                WHEN substr(date_raw, 1, 4)::int NOT BETWEEN %(first)s AND %(last)s THEN 'date_horizon'
                {amount_checks}
                WHEN trade_count_raw !~ %(count)s THEN 'trade_count'
            END""", {"amount": AMOUNT_RE, "count": COUNT_RE, "first": EARLIEST_YEAR, "last": LATEST_YEAR})
        # 2. The customer, through the keyed hash; then repeated (customer, day) within the file.
        cur.execute(f"""
            UPDATE {STAGING} s SET customer_id = c.id, day = s.date_raw::date
            FROM relationships_customer c
            WHERE s.error IS NULL AND c.id_hash = s.id_hash""")
        # R-PII-1: a customer whose rows are still on an older key version (a rotation not finished yet).
        cur.execute(f"""
            UPDATE {STAGING} s SET customer_id = c.id, day = s.date_raw::date
            FROM relationships_customer c
            WHERE s.error IS NULL AND s.customer_id IS NULL AND c.id_hash = ANY(s.id_hash_other)""")
        cur.execute(f"UPDATE {STAGING} SET error = 'id_unknown' WHERE error IS NULL AND customer_id IS NULL")
        cur.execute(f"""
            UPDATE {STAGING} s SET error = 'duplicate', first_line = f.first_line
            FROM (SELECT line, min(line) OVER (PARTITION BY customer_id, day) AS first_line
                  FROM {STAGING} WHERE error IS NULL) f
            WHERE f.line = s.line AND f.first_line <> s.line""")
        # 3. Upsert the good lines (what they replace first: the monthly summary counts trading days), keep the
        # monthly summary, and record the reported days.
        metrics_xact_lock()  # one load at a time against the summary and the judgement
        cur.execute(f"""
            UPDATE {STAGING} s SET old_traded = m.trade_count > 0 FROM performance_dailymetric m
            WHERE s.error IS NULL AND m.customer_id = s.customer_id AND m.date = s.day""")
        cur.execute(f"""
            INSERT INTO performance_dailymetric (customer_id, date, assets, net_commission, turnover, trade_count,
                                                 transfer_in)
            SELECT customer_id, day, assets_raw::numeric, net_commission_raw::numeric, turnover_raw::numeric,
                   trade_count_raw::integer, transfer_in_raw::numeric
            FROM {STAGING} WHERE error IS NULL
            ON CONFLICT (customer_id, date) DO UPDATE SET
                assets = EXCLUDED.assets, net_commission = EXCLUDED.net_commission,
                turnover = EXCLUDED.turnover, trade_count = EXCLUDED.trade_count,
                transfer_in = EXCLUDED.transfer_in""")
        result.rows_loaded += cur.rowcount
        cur.execute(_SUMMARY_UPSERT.format(staging=STAGING))
        cur.execute(f"""
            DELETE FROM performance_silentjudgement j
            USING (SELECT min(day) AS first, max(day) AS last FROM {STAGING} WHERE error IS NULL) t
            WHERE j.window_start <= t.last AND j.window_end >= t.first""")
        cur.execute(f"""
            INSERT INTO performance_metricdate (date, loaded_at)
            SELECT DISTINCT day, now() FROM {STAGING} WHERE error IS NULL
            ON CONFLICT (date) DO UPDATE SET loaded_at = EXCLUDED.loaded_at,
                                             version = performance_metricdate.version + 1""")
        cur.execute(f"""
            SELECT line, error, id_error, date_raw, assets_raw, net_commission_raw, turnover_raw, trade_count_raw,
                   transfer_in_raw, first_line
            FROM {STAGING} WHERE error IS NOT NULL ORDER BY line""")
        bad = cur.fetchall()
        cur.execute(f"DROP TABLE {STAGING}")
    for line, code, id_error, date_raw, *amounts, trade_raw, transfer_raw, first_line in bad:
        raw = dict(zip(("assets", "net_commission", "turnover"), amounts, strict=False), trade_count=trade_raw,
                   transfer_in=transfer_raw)
        result.errors.append((line, _reason(code, id_error=id_error, date_raw=date_raw, raw=raw,
                                            first_line=first_line)))


def _reason(code: str, *, id_error, date_raw, raw, first_line) -> str:
    """The message of a refused line (`common.wording`), from its code in the staging table."""
    if code == "id_invalid":  # the identity check's words, kept as text in the staging table
        return Message(gettext_noop("id_number: %(reason)s"), {"reason": recognise(id_error)})
    if code == "id_unknown":
        return Message(gettext_noop("id_number is not a known customer."))
    if code == "date":
        return Message(gettext_noop("date “%(value)s” is not a YYYY-MM-DD date."), {"value": date_raw})
    if code == "date_horizon":
        try:
            check_horizon(dt.date.fromisoformat(date_raw), "date")
        except LineError as exc:
            return refusal_text(exc)
    if code.startswith("negative:"):
        column = code.partition(":")[2]
        return Message(gettext_noop("%(col)s “%(value)s” cannot be negative."), {"col": column, "value": raw[column]})
    if code == "trade_count":
        return Message(gettext_noop("trade_count “%(value)s” is not a whole number."), {"value": raw["trade_count"]})
    if code == "duplicate":
        return Message(gettext_noop("line %(line)d already gave this customer's metrics for this date."),
                       {"line": first_line})
    return Message(gettext_noop("%(col)s “%(value)s” is not an amount in yuan (digits, at most 2 decimals)."), {
        "col": code, "value": raw[code]})
