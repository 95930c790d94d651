"""What proposed holders would be credited (the approval preview), by the nightly job's own crediting SQL.

`credit_preview` runs `performance.services.credited_days_sql` and `month_rollup_sql` — the very statements
`compute_period` runs every night — over the proposed shares given as VALUES instead of the shares in force, for
one customer and type. So the preview of the opening month equals, to the cent, what the night credits once the
case is approved with those holders (R-PERF-1/3).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection

from performance.models import MetricDate
from performance.selectors import money
from performance.services import credited_days_sql, month_rollup_sql, month_start, next_month


@dataclass(frozen=True)
class Holding:
    staff_id: int
    ratio: Decimal


@dataclass(frozen=True)
class PreviewPeriod:
    """A month of the preview: credited from `holds_from` (the opening date, or the month's first day)."""
    kind: str                 # "opening": the opening month so far; "last_full": the last full month
    start: dt.date
    holds_from: dt.date


@dataclass(frozen=True)
class Figures:
    assets: Decimal
    net_commission: Decimal
    turnover: Decimal


ZERO = Figures(Decimal("0.00"), Decimal("0.00"), Decimal("0.00"))


def preview_periods(opening_date: dt.date, today: dt.date) -> list[PreviewPeriod]:
    """The opening month from the opening date (what approval credits), and the last full month before today
    held for the whole month (as approval credits it when it follows the opening; an estimate when it precedes)."""
    last_full = month_start(month_start(today) - dt.timedelta(days=1))
    return [PreviewPeriod("opening", month_start(opening_date), opening_date),
            PreviewPeriod("last_full", last_full, last_full)]


def _holdings_sql(holdings: Sequence[Holding], params: dict) -> str:
    rows = []
    for i, h in enumerate(holdings):
        params[f"h_staff_{i}"], params[f"h_ratio_{i}"] = h.staff_id, h.ratio
        rows.append(f"(%(h_customer)s::bigint, %(h_type)s::text, %(h_staff_{i})s::bigint, "
                    f"%(h_ratio_{i})s::numeric, %(h_from)s::date, NULL::date, %(h_from)s::date, NULL::date)")
    return ("(SELECT * FROM (VALUES " + ", ".join(rows) + ") AS v(customer_id, type_id, staff_id, ratio, rel_from,"
            " rel_to, share_from, share_to))")


def credit_preview(*, customer_id: int, type_id: str, proposals: Mapping[str, Sequence[Holding]],
                   periods: Sequence[PreviewPeriod]) -> dict[tuple[str, str, int], Figures]:
    """{(proposal, period kind, staff_id): figures rounded as reported}; one query for the reported days, then
    one per proposal and period, each over one customer's metrics of one month."""
    ends = {p.kind: next_month(p.start) for p in periods}
    last_days: dict[str, dt.date | None] = {p.kind: None for p in periods}
    for day in MetricDate.objects.filter(date__gte=min(p.start for p in periods),
                                         date__lt=max(ends.values())).values_list("date", flat=True):
        for p in periods:
            if p.start <= day < ends[p.kind] and (last_days[p.kind] is None or day > last_days[p.kind]):
                last_days[p.kind] = day
    result: dict[tuple[str, str, int], Figures] = {}
    with connection.cursor() as cur:
        for name, holdings in proposals.items():
            if not holdings:
                continue
            for p in periods:
                params: dict = {"start": p.start, "end": ends[p.kind], "last_day": last_days[p.kind],
                                "h_customer": customer_id, "h_type": type_id, "h_from": p.holds_from}
                days = "(" + credited_days_sql(_holdings_sql(holdings, params)) + ")"
                cur.execute("SELECT staff_id, assets, net_commission, turnover FROM ("
                            + month_rollup_sql(days) + ") mo", params)
                for staff_id, assets, commission, turnover in cur.fetchall():
                    result[(name, p.kind, staff_id)] = Figures(money(assets), money(commission), money(turnover))
    return result
