"""Reads of performance figures: scoped (R-PERM-4), aggregated in SQL, rounded once when reported.

Every page and export goes through `visible_staff_performance(user)`: staff see their own rows (a
parent broker also his child brokers', R-ORG-3), outlet roles their outlet's, branch roles their
branch's, HQ everything. Roll-ups to outlet, branch and region are GROUP BY over the staff rows.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import F, OuterRef, Q, QuerySet, Subquery, Sum
from django.utils.translation import gettext_lazy as _

from performance.models import AdjustmentSource, ComputedPeriod, DailyMetric, Grain
from performance.services import month_start, next_month
from permissions.scoping import visible_performance_adjustments, visible_staff_performance

CENT = Decimal("0.01")
ZERO = Decimal("0")


def money(value) -> Decimal:
    """R-PERF-1: the one rounding of a reported amount — yuan, 2 decimals, half-up."""
    return (value if isinstance(value, Decimal) else Decimal(value or 0)).quantize(CENT, rounding=ROUND_HALF_UP)


def count(value) -> Decimal:
    """A ratio-weighted count (new customers, trades): credited by ratio, so fractional; the one rounding of a
    reported count — 2 decimals, half-up — shown alike on the page, in the CSV and in Excel (351.93, 2.20, 3.00)."""
    return (value if isinstance(value, Decimal) else Decimal(value or 0)).quantize(CENT, rounding=ROUND_HALF_UP)


# --- what is asked -----------------------------------------------------------------------------------------

LEVELS = {"staff": _("staff"), "outlet": _("outlet"), "branch": _("branch company"), "region": _("region")}
METRICS = {
    "assets": _("Assets"),
    "avg_daily_assets": _("Average daily assets"),
    "net_commission": _("Net commission"),
    "turnover": _("Turnover"),
    "trade_count": _("Trade count"),
    "new_customers": _("New effective customers"),
}
AMOUNT_METRICS = ("assets", "avg_daily_assets", "net_commission", "turnover")

# The grouping keys of each level and the label columns read with them.
_LEVEL_FIELDS = {
    "staff": ("staff_id", "staff__staff_no", "staff__name", "staff__outlet__name"),
    "outlet": ("outlet_id", "outlet__code", "outlet__name", "outlet__branch__name"),
    "branch": ("outlet__branch_id", "outlet__branch__code", "outlet__branch__name"),
    "region": ("outlet__branch__region_id", "outlet__branch__region__code", "outlet__branch__region__name"),
}
# The summed column behind each metric (average daily assets: asset-days ÷ calendar days, R-PERF-2).
_METRIC_COLUMN = {"assets": "assets", "avg_daily_assets": "asset_days", "net_commission": "net_commission",
                  "turnover": "turnover", "trade_count": "trade_count", "new_customers": "new_customers"}
_SUMS = {"assets": Sum("assets"), "asset_days": Sum("asset_days"), "net_commission": Sum("net_commission"),
         "turnover": Sum("turnover"), "trade_count": Sum("trade_count"), "new_customers": Sum("new_customers")}


@dataclass(frozen=True)
class Query:
    kind: str = "month"                 # day | month | year
    day: dt.date = dt.date(2000, 1, 1)  # the day, or any day of the month / year
    level: str = "staff"
    metric: str = "assets"
    organisation_id: int | None = None
    organisation_kind: str | None = None
    type_code: str | None = None

    @property
    def start(self) -> dt.date:
        if self.kind == "year":
            return self.day.replace(month=1, day=1)
        return month_start(self.day) if self.kind == "month" else self.day

    @property
    def end(self) -> dt.date:
        if self.kind == "year":
            return dt.date(self.day.year + 1, 1, 1)
        return next_month(self.start) if self.kind == "month" else self.day + dt.timedelta(days=1)

    @property
    def label(self) -> str:
        return {"year": f"{self.start:%Y}", "month": f"{self.start:%Y-%m}"}.get(self.kind, self.day.isoformat())


def _filtered(user, q: Query, *, grain: str | None = None, start: dt.date | None = None,
              end: dt.date | None = None) -> QuerySet:
    grain = grain or (Grain.DAY if q.kind == "day" else Grain.MONTH)
    qs = visible_staff_performance(user).filter(grain=grain, period__gte=start or q.start,
                                                period__lt=end or q.end)
    if q.type_code:
        qs = qs.filter(type_id=q.type_code)
    if q.organisation_id:
        if q.organisation_kind == "branch":
            qs = qs.filter(outlet__branch_id=q.organisation_id)
        elif q.organisation_kind == "outlet":
            qs = qs.filter(outlet_id=q.organisation_id)
    return qs


def computed_periods(*, start: dt.date, end: dt.date) -> dict[dt.date, ComputedPeriod]:
    """The computed months in [start, end), with their reported days (frozen with a locked month's figures)."""
    return {p.period: p for p in ComputedPeriod.objects.filter(period__gte=month_start(start), period__lt=end)}


def trend_window(q: Query, months: int = 12) -> tuple[dt.date, dt.date]:
    """[first month, month after the last) of the trend: the `months` months ending with the query's period
    (a year: its twelve months). It always covers the query's own months."""
    last = month_start(q.end - dt.timedelta(days=1))
    first = last
    for _i in range(months - 1):
        first = month_start(first - dt.timedelta(days=1))
    return first, next_month(last)


def calendar_days(computed: ComputedPeriod) -> int:
    """R-PERF-2: the divisor of a month's average daily assets — its calendar days from its first day up to its
    last loaded day (0 before any day is loaded); see performance.services."""
    if computed.last_day is None:
        return 0
    return (computed.last_day - computed.period).days + 1


@dataclass(frozen=True)
class PeriodFacts:
    days: int                      # calendar days up to the last loaded day: what average daily assets divide by
    last_month: dt.date | None     # a year's assets are those of its last computed month


def period_facts(q: Query, computed: dict[dt.date, ComputedPeriod] | None = None) -> PeriodFacts:
    """`computed` may be passed when already read for a window covering the query (see `trend_window`)."""
    if q.kind == "day":
        return PeriodFacts(days=1, last_month=None)
    if computed is None:
        computed = computed_periods(start=q.start, end=q.end)
    mine = [p for p in computed.values() if q.start <= p.period < q.end]
    return PeriodFacts(days=sum(calendar_days(p) for p in mine),
                       last_month=max((p.period for p in mine), default=None))


def _report(row: dict, days: int, *, one_day: bool = False) -> dict:
    """Round once, at the reported aggregate. `one_day`: a day's average daily assets are its own assets (its row's
    asset-days carry them over the days up to the next loaded day, R-PERF-2, which only a month's average counts);
    the ranking's order is the same (one day's rows share its weight)."""
    asset_days = (row.get("assets") if one_day else row.get("asset_days")) or ZERO
    return {
        "assets": money(row.get("assets")),
        "avg_daily_assets": money(asset_days / days) if days else money(ZERO),
        "net_commission": money(row.get("net_commission")),
        "turnover": money(row.get("turnover")),
        "trade_count": count(row.get("trade_count")),
        "new_customers": count(row.get("new_customers")),
    }


def _sums(q: Query, facts: PeriodFacts) -> dict:
    sums = dict(_SUMS)
    if q.kind == "year":
        # A year's assets are the month-end assets of its last computed month, not a sum of month-ends.
        sums["assets"] = Sum("assets", filter=Q(period=facts.last_month))
    return sums


def ranking(user, q: Query, facts: PeriodFacts) -> QuerySet:
    """One row per staff / outlet / branch / region with the period's sums, best first (not yet rounded)."""
    keys = _LEVEL_FIELDS[q.level]
    order = _METRIC_COLUMN[q.metric]
    return (_filtered(user, q).values(*keys).annotate(**_sums(q, facts))
            .order_by(F(order).desc(nulls_last=True), keys[1]))


def report_rows(rows, q: Query, facts: PeriodFacts, *, offset: int = 0) -> list[dict]:
    keys = _LEVEL_FIELDS[q.level]
    out = []
    for i, row in enumerate(rows, start=offset + 1):
        labels = [row.get(k) for k in keys[1:]]
        out.append({"rank": i, "key": row.get(keys[0]), "code": labels[0], "name": labels[1],
                    "parent": labels[2] if len(labels) > 2 else "",
                    **_report(row, facts.days, one_day=q.kind == "day")})
    return out


def totals(user, q: Query, facts: PeriodFacts) -> dict:
    return _report(_filtered(user, q).aggregate(**_sums(q, facts)), facts.days, one_day=q.kind == "day")


def monthly_trend(user, q: Query, computed: dict[dt.date, ComputedPeriod] | None = None
                  ) -> list[tuple[dt.date, Decimal]]:
    """The selected metric per month over the trend window (one query, plus one unless `computed` is given)."""
    first, end = trend_window(q)
    qs = _filtered(user, replace(q, kind="month"), grain=Grain.MONTH, start=first, end=end)
    sums = dict(qs.values("period").annotate(v=Sum(_METRIC_COLUMN[q.metric])).values_list("period", "v"))
    if computed is None:
        computed = computed_periods(start=first, end=end)
    points, month = [], first
    while month < end:
        value = sums.get(month) or ZERO
        if q.metric == "avg_daily_assets":
            days = calendar_days(computed[month]) if month in computed else 0
            value = money(value / days) if days else money(ZERO)
        elif q.metric in AMOUNT_METRICS:
            value = money(value)
        else:
            value = count(value)
        points.append((month, value))
        month = next_month(month)
    return points


def top_staff(user, q: Query, facts: PeriodFacts, limit: int = 10) -> list[dict]:
    staff_q = replace(q, level="staff")
    return report_rows(list(ranking(user, staff_q, facts)[:limit]), staff_q, facts)


# --- §12 export and month-end snapshots -------------------------------------------------------------------

SECTION12_HEADER = ["period", "staff_no", "relationship_type", "assets", "avg_daily_assets", "net_commission",
                    "turnover", "new_customers"]


def section12_rows(qs: QuerySet, period: dt.date | None):
    """§12 performance export: one row per month, staff and type (all computed months when no period)."""
    qs = qs.filter(grain=Grain.MONTH)
    if period is not None:
        qs = qs.filter(period=month_start(period))
    every = computed_periods(start=dt.date(1900, 1, 1), end=dt.date(9999, 1, 1))
    days = {p: calendar_days(c) for p, c in every.items()}
    # A staff member who moved in the month has a row per outlet (R-STAFF-1): the export's format has no outlet, so
    # it sums them into his one row.
    rows = (qs.order_by("period", "staff__staff_no", "type_id")
            .values("period", "staff__staff_no", "type_id")
            .annotate(s_assets=Sum("assets"), s_asset_days=Sum("asset_days"), s_commission=Sum("net_commission"),
                      s_turnover=Sum("turnover"), s_new=Sum("new_customers"))
            .values_list("period", "staff__staff_no", "type_id", "s_assets", "s_asset_days", "s_commission",
                         "s_turnover", "s_new"))
    for month, staff_no, type_code, assets, asset_days, commission, turnover, new in rows.iterator(chunk_size=5000):
        d = days.get(month) or 0
        yield [f"{month:%Y-%m}", staff_no, type_code, money(assets), money(asset_days / d) if d else money(ZERO),
               money(commission), money(turnover), count(new)]


def month_end_assets(period: dt.date) -> QuerySet:
    """Each customer's last reported assets in the month (R-SEC-6 classification reads month-end snapshots)."""
    start = month_start(period)
    return (DailyMetric.objects.filter(date__gte=start, date__lt=next_month(start))
            .order_by("customer_id", "-date").distinct("customer_id")
            .values("customer_id", "date", "assets", "trade_count", "transfer_in"))


# --- adjustments (R-PERF-5) -------------------------------------------------------------------------------

ADJUSTMENTS_SHOWN = 100  # on the page; the export has them all


def adjustment_rows(user, q: Query, *, limit: int | None = None) -> list[dict]:
    """The adjustments posted into the months of the period asked (none for a day), scoped and filtered as its
    figures, at the report's level, per month they belong to and source: one query. Average daily assets divide
    a row's asset-days by the calendar days of the month it belongs to up to its last loaded day, frozen with its
    lock (R-PERF-2)."""
    if q.kind == "day":
        return []
    keys = _LEVEL_FIELDS[q.level]
    qs = visible_performance_adjustments(user).filter(posted_in__gte=q.start, posted_in__lt=q.end)
    if q.type_code:
        qs = qs.filter(type_id=q.type_code)
    if q.organisation_id and q.organisation_kind == "branch":
        qs = qs.filter(outlet__branch_id=q.organisation_id)
    elif q.organisation_id and q.organisation_kind == "outlet":
        qs = qs.filter(outlet_id=q.organisation_id)
    last_day = Subquery(ComputedPeriod.objects.filter(period=OuterRef("belongs_to")).values("last_day")[:1])
    rows = (qs.values("posted_in", "belongs_to", "source", *keys).annotate(last_day=last_day, **_SUMS)
            .order_by("posted_in", "belongs_to", "source", keys[1]))
    out = []
    for row in (rows[:limit] if limit else rows):
        labels = [row.get(k) for k in keys[1:]]
        out.append({"posted_in": row["posted_in"], "belongs_to": row["belongs_to"], "source": row["source"],
                    "source_label": AdjustmentSource(row["source"]).label, "key": row.get(keys[0]),
                    "code": labels[0], "name": labels[1], "parent": labels[2] if len(labels) > 2 else "",
                    **_report(row, (row["last_day"] - row["belongs_to"]).days + 1 if row["last_day"] else 0)})
    return out
