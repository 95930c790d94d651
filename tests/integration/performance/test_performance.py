"""§10 split-ratio performance: crediting by ratio and by effective dates, rounding, locks (R-PERF-1..3)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from performance.models import ComputedPeriod, Grain, PeriodLock, StaffPerformance
from performance.periods import period_lock
from performance.selectors import PeriodFacts, Query, money, month_end_assets, period_facts, ranking, report_rows
from performance.services import PeriodLocked, compute_period
from relationships.models import AuditEntry, RelationshipShare, RelationshipType
from relationships.services import Share, customer_get_or_create, relationship_create
from reservations.exchange.registry import load_feed
from tests.support.factories import HQFactory, OutletFactory, RoleFactory, StaffFactory, UserFactory, make_id_number
from tests.support.helpers import csv_bytes, nightly

pytestmark = pytest.mark.django_db

MARCH = dt.date(2026, 3, 1)
METRICS_HEADER = ["date", "id_number", "assets", "net_commission", "turnover", "trade_count", "transfer_in"]
D = Decimal


def customer(name: str = "客户"):
    idn = make_id_number()
    return idn, customer_get_or_create(id_number=idn, name=name)


def relate(cust, *holders, type_code: str = "NEW_DEV", since: dt.date = dt.date(2026, 2, 1)):
    return relationship_create(actor="test", customer=cust, rel_type=RelationshipType.objects.get(pk=type_code),
                               shares=[Share(s, D(r)) for s, r in holders], effective_from=since,
                               source="test")


def metrics(*rows, name: str = "metrics.csv"):
    """rows: (date, id_number, assets, net_commission, turnover, trade_count[, transfer_in])."""
    lines = [[str(r[0]), r[1], *[str(v) for v in r[2:6]], str(r[6]) if len(r) > 6 else "0"] for r in rows]
    result = load_feed(actor="test", kind="metrics", content=csv_bytes(METRICS_HEADER, lines), filename=name)
    assert not result.errors, result.errors
    return result


def month_row(staff, type_code: str = "NEW_DEV", period: dt.date = MARCH) -> StaffPerformance:
    return StaffPerformance.objects.get(grain=Grain.MONTH, period=period, staff=staff, type_id=type_code)


def reported(row: StaffPerformance, days: int) -> dict:
    """The rounded figures of one month row, as the report and the export show them."""
    return {"assets": money(row.assets), "avg_daily_assets": money(row.asset_days / days),
            "net_commission": money(row.net_commission), "turnover": money(row.turnover)}


@pytest.fixture
def outlet():
    return OutletFactory()


@pytest.fixture
def trio(outlet):
    return StaffFactory(outlet=outlet), StaffFactory(outlet=outlet), StaffFactory(outlet=outlet)


@pytest.fixture
def hq_user():
    return RoleFactory(kind="hq", organisation=HQFactory()).user


def test_three_holders_share_each_day_by_ratio_and_a_single_holder_leaves_the_rest_unallocated(trio):
    """R-PERF-1: 0.5 / 0.3 / 0.2 of every figure; a 0.6 single holder gets 0.6 and 0.4 goes to no one."""
    x, y, z = trio
    idn_a, a = customer("甲")
    idn_b, b = customer("乙")
    relate(a, (x, "0.5"), (y, "0.3"), (z, "0.2"))
    relate(b, (x, "0.6"), type_code="MAINTENANCE")
    metrics(("2026-03-02", idn_a, "1000.00", "10.00", "5000.00", 4), ("2026-03-02", idn_b, "700.00", "3.00", "0", 1))
    compute_period(period=MARCH)

    assert month_row(x).assets == D("500") and month_row(y).assets == D("300") and month_row(z).assets == D("200")
    assert (month_row(x).net_commission, month_row(y).net_commission, month_row(z).net_commission) == (
        D("5"), D("3"), D("2"))
    assert (month_row(x).turnover, month_row(y).turnover, month_row(z).turnover) == (D("2500"), D("1500"), D("1000"))
    assert (month_row(x).trade_count, month_row(y).trade_count, month_row(z).trade_count) == (
        D("2"), D("1.2"), D("0.8"))
    single = month_row(x, "MAINTENANCE")
    assert single.assets == D("420") and single.net_commission == D("1.8") and single.trade_count == D("0.6")
    # Nothing else was credited: the 0.4 of customer 乙 stays with no one.
    credited = sum(r.assets for r in StaffPerformance.objects.filter(grain=Grain.MONTH))
    assert credited == D("1000") + D("420")
    # Day rows carry the same figures for the day.
    day = StaffPerformance.objects.get(grain=Grain.DAY, period=dt.date(2026, 3, 2), staff=y, type_id="NEW_DEV")
    assert day.assets == D("300") and day.month == MARCH


def test_share_changes_mid_month_credit_each_holder_for_his_days_only(trio):
    """R-PERF-3: a share counts on the days in [effective_from, effective_to): the old holder up to the day
    before the change, the new one from the change day; the relationship's own end stops both. R-PERF-2: a day
    without metrics (the 14th, 18th) carries the day before it; the divisor is 1–23 March, 23 calendar days."""
    x, y, _z = trio
    idn, cust = customer()
    rel = relate(cust, (x, "1"))
    RelationshipShare.objects.filter(relationship=rel, staff=x).update(effective_to=dt.date(2026, 3, 16))
    RelationshipShare.objects.create(relationship=rel, staff=y, ratio=D("0.7"), effective_from=dt.date(2026, 3, 16))
    rel.effective_to = dt.date(2026, 3, 20)
    rel.save(update_fields=["effective_to"])
    metrics(*[(f"2026-03-{d:02d}", idn, f"{d}00.00", "1.00", "0", 0) for d in (13, 15, 16, 17, 19, 20, 23)])
    compute_period(period=MARCH)

    assert month_row(x).asset_days == 2 * D("1300") + D("1500")              # 13th (and the 14th), 15th
    assert month_row(x).net_commission == D("2")
    assert month_row(y).asset_days == D("0.7") * (1600 + 2 * 1700 + 1900)  # 16th–19th, not the 20th
    assert month_row(y).net_commission == D("2.1")
    assert month_row(x).assets == 0 and month_row(y).assets == 0             # nobody held it on the 23rd
    facts = period_facts(Query(kind="month", day=MARCH))
    assert facts.days == 23
    assert reported(month_row(y), facts.days)["avg_daily_assets"] == money(D("4830") / 23)  # 210.00


def test_hand_computed_month_for_a_small_data_set(trio, outlet):
    """R-PERF-1/2, by hand: three reported days, a three-holder customer and a new single-holder customer."""
    x, y, z = trio
    idn_a, a = customer("甲")
    idn_b, b = customer("乙")
    relate(a, (x, "0.5"), (y, "0.3"), (z, "0.2"))                                    # since February
    relate(b, (x, "0.6"), type_code="MAINTENANCE", since=dt.date(2026, 3, 3))      # new in March
    metrics(("2026-03-02", idn_a, "1000.00", "10.00", "5000.00", 2),
            ("2026-03-02", idn_b, "500.00", "9.00", "900.00", 1),                 # before 乙's relationship
            ("2026-03-03", idn_a, "1100.00", "0", "0", 0),
            ("2026-03-03", idn_b, "500.00", "1.00", "0", 0),
            ("2026-03-04", idn_a, "1200.01", "3.33", "100.00", 1),
            ("2026-03-04", idn_b, "700.00", "2.00", "0", 0))
    compute_period(period=MARCH)
    days = 4   # R-PERF-2: calendar days 1–4 March (the 1st, a Sunday with nothing before it, carries nothing)

    # x, NEW_DEV: assets 0.5 × 1200.01 = 600.005 → 600.01; asset-days 0.5 × 3300.01 = 1650.005, ÷ 4 = 412.50125
    # net commission 0.5 × 13.33 = 6.665 → 6.67 (half-up, not half-even); turnover 0.5 × 5100 = 2550.
    assert reported(month_row(x), days) == {"assets": D("600.01"), "avg_daily_assets": D("412.50"),
                                            "net_commission": D("6.67"), "turnover": D("2550.00")}
    assert reported(month_row(y), days) == {"assets": D("360.00"), "avg_daily_assets": D("247.50"),
                                            "net_commission": D("4.00"), "turnover": D("1530.00")}
    assert reported(month_row(z), days) == {"assets": D("240.00"), "avg_daily_assets": D("165.00"),
                                            "net_commission": D("2.67"), "turnover": D("1020.00")}
    # x, MAINTENANCE: only the 3rd and 4th count: assets 420, asset-days 0.6 × 1200 = 720 ÷ 4 = 180, commission 1.80.
    assert reported(month_row(x, "MAINTENANCE"), days) == {"assets": D("420.00"), "avg_daily_assets": D("180.00"),
                                                           "net_commission": D("1.80"), "turnover": D("0.00")}
    # New effective customers: 乙 became effective in March (0.6 to x); 甲 did not.
    assert month_row(x, "MAINTENANCE").new_customers == D("0.6")
    assert month_row(x).new_customers == 0 and month_row(y).new_customers == 0
    assert ComputedPeriod.objects.get(period=MARCH).days == 3

    # The outlet's figures are the sum of the full-precision staff rows, rounded once:
    # net commission 6.665 + 3.999 + 2.666 + 1.8 = 15.13 (rounding each first would give 15.14).
    q = Query(kind="month", day=MARCH, level="outlet", metric="net_commission")
    facts = period_facts(q)
    [row] = report_rows(list(ranking(UserFactory(is_superuser=True), q, facts)), q, facts)
    assert row["net_commission"] == D("15.13")
    assert row["assets"] == D("1620.01")                      # 600.005 + 360.003 + 240.002 + 420 = 1620.010
    assert row["avg_daily_assets"] == D("1005.00")            # (1650.005 + 990.003 + 660.002 + 720) / 4
    assert row["new_customers"] == D("0.6")


def test_rounding_is_half_up_once_at_the_reported_aggregate(trio):
    """R-PERF-1: 0.3 × 0.05 = 0.015 → 0.02 (half-up); three such days 0.045 → 0.05, not 3 × 0.02 = 0.06."""
    _x, y, _z = trio
    idn, cust = customer()
    relate(cust, (y, "0.3"))
    metrics(*[(f"2026-03-0{d}", idn, "0.05", "0.05", "0.05", 0) for d in (2, 3, 4)])
    compute_period(period=MARCH)
    row = month_row(y)
    assert row.net_commission == D("0.045")                       # stored exact
    assert money(row.net_commission) == D("0.05")
    assert money(D("0.015")) == D("0.02") and money(D("2.345")) == D("2.35") and money(D("-2.345")) == D("-2.35")
    day = StaffPerformance.objects.get(grain=Grain.DAY, period=dt.date(2026, 3, 2), staff=y)
    assert money(day.net_commission) == D("0.02")


def test_new_customers_exclude_replacements_and_cancelled_relationships(trio):
    """R-PERF-2: a relationship that replaces an earlier one of the same customer and type is no new customer."""
    x, y, _z = trio
    _idn, cust = customer()
    old = relate(cust, (x, "1"), type_code="MAINTENANCE", since=dt.date(2026, 2, 10))
    old.effective_to = dt.date(2026, 3, 10)
    old.save(update_fields=["effective_to"])
    relate(cust, (y, "1"), type_code="MAINTENANCE", since=dt.date(2026, 3, 10))    # reassignment in March
    _idn2, fresh = customer()
    relate(fresh, (x, "0.5"), (y, "0.5"), since=dt.date(2026, 3, 12))
    compute_period(period=MARCH)
    assert not StaffPerformance.objects.filter(grain=Grain.MONTH, type_id="MAINTENANCE", new_customers__gt=0).exists()
    assert month_row(x).new_customers == D("0.5") and month_row(y).new_customers == D("0.5")
    day = StaffPerformance.objects.get(grain=Grain.DAY, period=dt.date(2026, 3, 12), staff=x, type_id="NEW_DEV")
    assert day.new_customers == D("0.5")
    compute_period(period=dt.date(2026, 2, 1))
    assert month_row(x, "MAINTENANCE", dt.date(2026, 2, 1)).new_customers == 1


def test_recomputing_an_open_month_replaces_its_rows(trio):
    x, _y, _z = trio
    idn, cust = customer()
    relate(cust, (x, "1"))
    metrics(("2026-03-02", idn, "100.00", "1.00", "0", 0))
    compute_period(period=MARCH)
    metrics(("2026-03-02", idn, "150.00", "1.00", "0", 0), name="correction.csv")   # a corrected line
    compute_period(period=MARCH)
    assert month_row(x).assets == D("150")
    assert StaffPerformance.objects.filter(month=MARCH, staff=x).count() == 2           # one day, one month


def test_a_locked_period_is_never_rewritten_and_corrections_show_in_the_open_period(trio, hq_user):
    """R-PERF-3: after HQ locks March, a retroactive share change leaves March as it was; April shows it."""
    x, y, _z = trio
    idn, cust = customer()
    rel = relate(cust, (x, "1"))
    metrics(("2026-03-30", idn, "1000.00", "5.00", "0", 1), ("2026-03-31", idn, "1000.00", "5.00", "0", 1))
    nightly("2026-03-31")
    lock = period_lock(actor=hq_user, period=MARCH)
    assert lock.locked_by == hq_user
    assert AuditEntry.objects.filter(action="performance.period_lock", target_id=str(lock.pk)).exists()
    before = {(r.grain, r.period, r.staff_id): (r.assets, r.asset_days, r.net_commission)
              for r in StaffPerformance.objects.filter(month=MARCH)}

    # A correction: y should have held the customer from 30 March.
    RelationshipShare.objects.filter(relationship=rel, staff=x).update(effective_to=dt.date(2026, 3, 30))
    RelationshipShare.objects.create(relationship=rel, staff=y, ratio=D("1"), effective_from=dt.date(2026, 3, 30))
    metrics(("2026-03-31", idn, "9999.00", "5.00", "0", 1), ("2026-04-01", idn, "2000.00", "0", "0", 0),
            name="april.csv")
    with pytest.raises(PeriodLocked):
        compute_period(period=MARCH)
    runs = nightly("2026-04-01")
    assert [r.counts for r in runs if r.stage == "performance"] == [
        {"periods_computed": 1, "periods_locked_skipped": 1, "performance_rows": 2}]

    after = {(r.grain, r.period, r.staff_id): (r.assets, r.asset_days, r.net_commission)
             for r in StaffPerformance.objects.filter(month=MARCH)}
    assert after == before and month_row(x).assets == D("1000")
    assert not StaffPerformance.objects.filter(month=MARCH, staff=y).exists()
    assert month_row(y, period=dt.date(2026, 4, 1)).assets == D("2000")
    assert not StaffPerformance.objects.filter(month=dt.date(2026, 4, 1), staff=x).exists()


def test_only_hq_locks_only_ended_months_and_only_once(trio, hq_user, outlet):
    branch_user = RoleFactory(kind="branch", organisation=outlet.branch).user
    with pytest.raises(PermissionDenied):
        period_lock(actor=branch_user, period=MARCH)
    with pytest.raises(PermissionDenied):
        period_lock(actor=trio[0].user, period=MARCH)
    with pytest.raises(ValidationError):
        period_lock(actor=hq_user, period=dt.date(2099, 1, 1))        # not ended yet
    lock = period_lock(actor=hq_user, period=dt.date(2026, 3, 17))    # any day of the month locks the month
    assert lock.period == MARCH and ComputedPeriod.objects.filter(period=MARCH).exists()  # computed first
    with pytest.raises(ValidationError):
        period_lock(actor=hq_user, period=MARCH)
    assert PeriodLock.objects.count() == 1


def test_nightly_stage_computes_open_months_up_to_the_business_date(trio):
    x, _y, _z = trio
    idn, cust = customer()
    relate(cust, (x, "0.25"))
    metrics(("2026-02-27", idn, "400.00", "0", "0", 0), ("2026-03-02", idn, "800.00", "0", "0", 0))
    runs = nightly("2026-03-02")
    stage = [r for r in runs if r.stage == "performance"][0]
    assert stage.status == "succeeded" and stage.counts["periods_computed"] == 2
    assert month_row(x, period=dt.date(2026, 2, 1)).assets == D("100")
    assert month_row(x).assets == D("200")
    again = [r for r in nightly("2026-03-02") if r.stage == "performance"][0]
    assert again.attempts == 1 and again.pk == stage.pk   # a succeeded stage is not run again (R-MATCH-7)


def test_month_end_asset_snapshot_is_each_customers_last_reported_day(trio):
    idn, cust = customer()
    idn2, cust2 = customer()
    metrics(("2026-03-30", idn, "10.00", "0", "0", 0), ("2026-03-31", idn, "20.00", "0", "0", 2, "1000.00"),
            ("2026-03-27", idn2, "5.00", "0", "0", 0), ("2026-04-01", idn2, "7.00", "0", "0", 0))
    snap = {r["customer_id"]: r for r in month_end_assets(MARCH)}
    assert snap[cust.pk]["date"] == dt.date(2026, 3, 31) and snap[cust.pk]["assets"] == D("20.00")
    assert snap[cust.pk]["transfer_in"] == D("1000.00") and snap[cust.pk]["trade_count"] == 2
    assert snap[cust2.pk]["date"] == dt.date(2026, 3, 27)


def test_year_figures_sum_months_and_take_the_last_months_assets(trio):
    x, _y, _z = trio
    idn, cust = customer()
    relate(cust, (x, "1"), since=dt.date(2026, 1, 5))
    metrics(("2026-01-30", idn, "100.00", "1.00", "0", 0), ("2026-02-27", idn, "300.00", "2.00", "0", 0))
    compute_period(period=dt.date(2026, 1, 1))
    compute_period(period=dt.date(2026, 2, 1))
    q = Query(kind="year", day=dt.date(2026, 6, 1), level="staff", metric="assets")
    facts = period_facts(q)
    # R-PERF-2: 1–30 January and 1–27 February (30 + 27 calendar days); 30 January carries into 1–26 February
    assert facts == PeriodFacts(days=57, last_month=dt.date(2026, 2, 1))
    [row] = report_rows(list(ranking(UserFactory(is_superuser=True), q, facts)), q, facts)
    assert row["assets"] == D("300.00") and row["avg_daily_assets"] == money(D(100 + 26 * 100 + 300) / 57)
    assert row["net_commission"] == D("3.00") and row["new_customers"] == D("1")
