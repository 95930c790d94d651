"""R-STAFF-1, R-PERF-2, R-PERF-3: each credited day goes to the outlet the staff member belonged to on that day,
and a share counts from its effective date on — by `compute_period` and by the nightly path alike."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from performance.models import Grain, StaffPerformance
from performance.nightly import performance_night
from performance.selectors import Query, period_facts, ranking, report_rows
from performance.services import compute_period
from relationships.membership import Move, memberships_change
from relationships.models import RelationshipShare
from tests.integration.performance.test_performance import customer, metrics, relate
from tests.integration.performance.test_performance_incremental import _full_recompute, _rows
from tests.support.factories import BranchFactory, OutletFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

D = Decimal
MARCH = dt.date(2026, 3, 1)
DAYS = {dt.date(2026, 3, 2): ("1000.00", "10.00"), dt.date(2026, 3, 13): ("2000.00", "20.00"),
        dt.date(2026, 3, 16): ("3000.00", "30.00"), dt.date(2026, 3, 17): ("4000.00", "40.00")}


def _load(idn, day):
    assets, commission = DAYS[day]
    metrics((day.isoformat(), idn, assets, commission, "0", 1), name=f"m-{day}.csv")


def _day_rows(staff) -> list[tuple]:
    return sorted(StaffPerformance.objects.filter(grain=Grain.DAY, staff=staff)
                  .values_list("period", "outlet_id", "assets", "net_commission", "trade_count"))


def _month_rows(staff) -> dict[int, tuple]:
    return {r[0]: r[1:] for r in StaffPerformance.objects.filter(grain=Grain.MONTH, staff=staff, period=MARCH)
            .values_list("outlet_id", "assets", "net_commission", "trade_count", "new_customers")}


def _assert_split(x, old, new):
    assert _day_rows(x) == [
        (dt.date(2026, 3, 2), old.pk, D("1000.000000"), D("10.000000"), D("1.0000")),
        (dt.date(2026, 3, 13), old.pk, D("2000.000000"), D("20.000000"), D("1.0000")),
        # Sunday the 15th, the move's day: Friday's assets carried to the new outlet (R-PERF-2), a day of its own
        (dt.date(2026, 3, 15), new.pk, D("2000.000000"), D("0"), D("0")),
        (dt.date(2026, 3, 16), new.pk, D("3000.000000"), D("30.000000"), D("1.0000")),
        (dt.date(2026, 3, 17), new.pk, D("4000.000000"), D("40.000000"), D("1.0000"))]
    # one month row per outlet; month-end assets are the last reported day's, at the outlet of that day
    assert _month_rows(x) == {old.pk: (D("0"), D("30.000000"), D("2.0000"), D("1.0000")),
                              new.pk: (D("4000.000000"), D("70.000000"), D("2.0000"), D("0.0000"))}
    # calendar days (R-PERF-2): the old outlet has the 2nd–12th at 1000 and the 13th–14th at 2000; the new one the
    # 15th (carried from the 13th), the 16th and the 17th
    assert dict(StaffPerformance.objects.filter(grain=Grain.MONTH, staff=x, period=MARCH)
                .values_list("outlet_id", "asset_days")) == {old.pk: D("15000"), new.pk: D("9000")}
    su = UserFactory(is_superuser=True)
    for level, old_key, new_key in (("branch", old.branch_id, new.branch_id),
                                    ("region", old.branch.region_id, new.branch.region_id)):
        q = Query(kind="month", day=MARCH, level=level, metric="net_commission")
        facts = period_facts(q)
        by_key = {r["key"]: r for r in report_rows(list(ranking(su, q, facts)), q, facts)}
        assert by_key[old_key]["net_commission"] == D("30.00") and by_key[new_key]["net_commission"] == D("70.00")
        assert by_key[new_key]["assets"] == D("4000.00") and by_key[old_key]["assets"] == D("0.00")
    # the staff ranking sums the staff member's rows of both outlets
    q = Query(kind="month", day=MARCH, level="staff", metric="net_commission")
    facts = period_facts(q)
    [row] = [r for r in report_rows(list(ranking(su, q, facts)), q, facts) if r["key"] == x.pk]
    assert row["net_commission"] == D("100.00") and row["assets"] == D("4000.00")


def _move(x, outlet, on):
    assert memberships_change(actor="test", moves=[Move(key=1, staff=x, outlet_id=outlet.pk, on=on)],
                              today=dt.date(2026, 3, 31)) == {}
    x.outlet = outlet
    x.save(update_fields=["outlet"])


def test_move_on_the_fifteenth_splits_the_months_credits_between_outlets():
    """R-STAFF-1: a move to another branch's outlet on Sunday 15 March credits days 1–14 to the old outlet, branch
    and region and the days from the 15th to the new ones — via compute_period and via the nightly path (the move
    recorded after the old outlet's days were computed), to the same rows."""
    old = OutletFactory()
    new = OutletFactory(parent=BranchFactory())          # another branch, another region
    assert new.branch.region_id != old.branch.region_id
    x = StaffFactory(outlet=old)
    idn, cust = customer()
    relate(cust, (x, "1"), since=dt.date(2026, 3, 2))
    for day in DAYS:
        _load(idn, day)
        if day == dt.date(2026, 3, 16):
            _move(x, new, dt.date(2026, 3, 15))
        performance_night(business_date=day)
        assert _rows() == _full_recompute(day), day
    _assert_split(x, old, new)
    compute_period(period=MARCH)
    _assert_split(x, old, new)


def test_reassignment_effective_on_the_tenth_credits_old_holders_days_1_to_9_and_new_holders_from_the_10th():
    """R-PERF-3, R-STAFF-1: the old share ends on the 10th (exclusive) and the new holder's starts on it; the old
    holder is credited for his days 1–9, the new one from the 10th, each at his own outlet — by the nightly path
    (the reassignment decided on the 11th) and by compute_period alike."""
    old_outlet, new_outlet = OutletFactory(), OutletFactory()
    leaver, taker = StaffFactory(outlet=old_outlet), StaffFactory(outlet=new_outlet)
    idn, cust = customer()
    rel = relate(cust, (leaver, "1"), since=dt.date(2026, 3, 2))
    days = {dt.date(2026, 3, 9): "900.00", dt.date(2026, 3, 10): "1000.00", dt.date(2026, 3, 11): "1100.00"}
    for day, assets in days.items():
        metrics((day.isoformat(), idn, assets, "1.00", "0", 0), name=f"m-{day}.csv")
        if day == dt.date(2026, 3, 11):
            RelationshipShare.objects.filter(relationship=rel, staff=leaver).update(effective_to=dt.date(2026, 3, 10))
            RelationshipShare.objects.create(relationship=rel, staff=taker, ratio=D("1"),
                                             effective_from=dt.date(2026, 3, 10))
        performance_night(business_date=day)
        assert _rows() == _full_recompute(day), day
    compute_period(period=MARCH)
    assert _day_rows(leaver) == [(dt.date(2026, 3, 2), old_outlet.pk, D("0"), D("0"), D("0")),   # the new customer
                                 (dt.date(2026, 3, 9), old_outlet.pk, D("900.000000"), D("1.000000"), D("0"))]
    assert _day_rows(taker) == [
        (dt.date(2026, 3, 10), new_outlet.pk, D("1000.000000"), D("1.000000"), D("0")),
        (dt.date(2026, 3, 11), new_outlet.pk, D("1100.000000"), D("1.000000"), D("0"))]
    assert _month_rows(leaver) == {old_outlet.pk: (D("0"), D("1.000000"), D("0"), D("1.0000"))}
    assert _month_rows(taker) == {new_outlet.pk: (D("1100.000000"), D("2.000000"), D("0"), D("0"))}
