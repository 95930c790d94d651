"""R-PERF-2: average daily assets are taken over calendar days — a day without a metrics row (weekend, holiday)
carries the assets of the last earlier loaded day, and the divisor is the period's calendar days from its first
day up to its last loaded day; the night and a full recomputation agree."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from performance.models import ComputedPeriod, Grain, StaffPerformance
from performance.nightly import compute_month_incremental
from performance.selectors import Query, calendar_days, money, period_facts, ranking, report_rows
from performance.services import compute_period
from tests.integration.performance.test_performance import customer, metrics, relate
from tests.integration.performance.test_performance_incremental import _full_recompute, _rows
from tests.support.factories import OutletFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

D = Decimal
MARCH = dt.date(2026, 3, 1)   # a Sunday
# Friday 27 February, then March: Monday 2, Tuesday 3, (4 and 5 a holiday), Friday 6, (weekend), Monday 9.
FEED = [("2026-02-27", "1000.00"), ("2026-03-02", "2000.00"), ("2026-03-03", "3000.00"), ("2026-03-06", "6000.00"),
        ("2026-03-09", "9000.00")]


def _month(staff) -> StaffPerformance:
    return StaffPerformance.objects.get(grain=Grain.MONTH, period=MARCH, staff=staff, type_id="NEW_DEV")


def _load(idn, rows):
    metrics(*[(day, idn, assets, "0", "0", 0) for day, assets in rows])


def test_average_daily_assets_are_taken_over_calendar_days():
    """R-PERF-2: the 1st carries Friday 27 February (the previous month's last loaded day); the 3rd carries into the
    holiday (4th, 5th), the 6th into the weekend (7th, 8th); the divisor is 1–9 March, 9 calendar days (the days
    after the last loaded day are not counted). A holder of 0.5 gets half."""
    x, y = StaffFactory(outlet=OutletFactory()), StaffFactory(outlet=OutletFactory())
    idn, cust = customer()
    relate(cust, (x, "0.5"), (y, "0.5"))
    _load(idn, FEED)
    compute_period(period=MARCH)

    # 1000 (1st) + 2000 (2nd) + 3 × 3000 (3rd–5th) + 3 × 6000 (6th–8th) + 9000 (9th) = 39000, half each
    assert _month(x).asset_days == D("19500")
    assert _month(x).assets == D("4500")                    # the last loaded day's, unchanged
    computed = ComputedPeriod.objects.get(period=MARCH)
    assert computed.days == 4 and calendar_days(computed) == 9
    q = Query(kind="month", day=MARCH, level="staff", metric="avg_daily_assets")
    facts = period_facts(q)
    assert facts.days == 9
    rows = report_rows(list(ranking(UserFactory(is_superuser=True), q, facts)), q, facts)
    assert [r["avg_daily_assets"] for r in rows] == [money(D("19500") / 9)] * 2        # 2166.67
    # A day's own average is its assets, not the carry its row holds for the month.
    day_q = Query(kind="day", day=dt.date(2026, 3, 3), level="staff", metric="avg_daily_assets")
    day_facts = period_facts(day_q)
    day_rows = report_rows(list(ranking(UserFactory(is_superuser=True), day_q, day_facts)), day_q, day_facts)
    assert [r["avg_daily_assets"] for r in day_rows] == [D("1500.00")] * 2


def test_the_night_counts_the_carry_into_the_days_between_two_loaded_days_exactly_once():
    """R-PERF-2 on the incremental night: on day k+1 the carry of day k into the days between is counted once, and
    after every night the rows are those of a full recomputation."""
    x = StaffFactory(outlet=OutletFactory())
    idn, cust = customer()
    relate(cust, (x, "1"))
    _load(idn, FEED[:1])
    compute_period(period=dt.date(2026, 2, 1))
    compute_period(period=MARCH)                           # the month computed before its first loaded day
    expected = {"2026-03-02": D("3000"), "2026-03-03": D("6000"), "2026-03-06": D("18000"),
                "2026-03-09": D("39000")}
    for day, assets in FEED[1:]:
        _load(idn, [(day, assets)])
        compute_month_incremental(period=MARCH)
        assert _month(x).asset_days == expected[day], day
        assert _rows() == _full_recompute(dt.date.fromisoformat(day)), day
        compute_month_incremental(period=MARCH)                 # a re-run changes nothing
        assert _month(x).asset_days == expected[day], day
