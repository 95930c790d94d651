"""R-PERF-2 / R-PERF-3 / R-STAFF-1: the assets a day without a metrics row carries (a weekend, a holiday) are
credited to the holders of that calendar day — a reassignment effective on a Saturday gives Saturday's and
Sunday's carried assets to the new holder, not to Friday's."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from performance.models import Grain, StaffPerformance
from performance.nightly import performance_night
from performance.services import compute_period
from relationships.models import RelationshipShare
from tests.integration.performance.test_performance import customer, metrics, relate
from tests.integration.performance.test_performance_incremental import _full_recompute, _rows
from tests.support.factories import OutletFactory, StaffFactory

pytestmark = pytest.mark.django_db

D = Decimal
MARCH = dt.date(2026, 3, 1)
SATURDAY = dt.date(2026, 3, 7)


def test_a_reassignment_effective_on_a_saturday_credits_the_weekends_carried_assets_to_the_new_holder():
    """Loaded: Friday 27 February (1000), Monday 2 (2000), Friday 6 (6000), Monday 9 March (9000). x holds the
    customer until Saturday 7 March (exclusive), y from it. Calendar days: x has the 1st (1000, carried from
    February), the 2nd to the 5th (2000 each) and the 6th (6000) = 15000 asset-days; y has the 7th and 8th (6000
    carried from Friday) and the 9th (9000) = 21000."""
    x, y = StaffFactory(outlet=OutletFactory()), StaffFactory(outlet=OutletFactory())
    idn, cust = customer()
    rel = relate(cust, (x, "1"))
    metrics(*[(day, idn, assets, "0", "0", 0) for day, assets in (
        ("2026-02-27", "1000.00"), ("2026-03-02", "2000.00"), ("2026-03-06", "6000.00"), ("2026-03-09", "9000.00"))])
    RelationshipShare.objects.filter(relationship=rel, staff=x).update(effective_to=SATURDAY)
    RelationshipShare.objects.create(relationship=rel, staff=y, ratio=D("1"), effective_from=SATURDAY)

    compute_period(period=MARCH)

    month = {r.staff_id: r.asset_days for r in StaffPerformance.objects.filter(grain=Grain.MONTH, period=MARCH)}
    assert month == {x.pk: D("15000"), y.pk: D("21000")}


def test_the_night_gives_the_weekend_to_the_new_holder_of_a_reassignment_recorded_after_it_as_a_full_recompute():
    """R-PERF-2 / R-STAFF-1: night by night — the reassignment effective Saturday 7 March recorded on Tuesday the
    10th, after Friday and Monday were computed — the rows are those of a full recompute, and the weekend's
    assets are the new holder's."""
    x, y = StaffFactory(outlet=OutletFactory()), StaffFactory(outlet=OutletFactory())
    idn, cust = customer()
    rel = relate(cust, (x, "1"))
    feed = [("2026-02-27", "1000.00"), ("2026-03-02", "2000.00"), ("2026-03-06", "6000.00"),
            ("2026-03-09", "9000.00"), ("2026-03-10", "10000.00")]
    for day, assets in feed:
        metrics((day, idn, assets, "0", "0", 0), name=f"m-{day}.csv")
        when = dt.date.fromisoformat(day)
        if when == dt.date(2026, 3, 10):
            RelationshipShare.objects.filter(relationship=rel, staff=x).update(effective_to=SATURDAY)
            RelationshipShare.objects.create(relationship=rel, staff=y, ratio=D("1"), effective_from=SATURDAY)
        performance_night(business_date=when)
        assert _rows() == _full_recompute(when), day
    month = {r.staff_id: r.asset_days for r in StaffPerformance.objects.filter(grain=Grain.MONTH, period=MARCH)}
    assert month == {x.pk: D("15000"), y.pk: D("31000")}


def test_a_change_day_after_the_last_loaded_day_counts_once_the_next_day_is_loaded():
    """R-PERF-2: a share starting on Saturday 7 March is recorded on Friday the 6th's night (no rows yet: the 7th
    is after the last loaded day); when Monday the 9th is loaded, the weekend goes to the new holder."""
    x, y = StaffFactory(outlet=OutletFactory()), StaffFactory(outlet=OutletFactory())
    idn, cust = customer()
    rel = relate(cust, (x, "1"))
    for day, assets in (("2026-03-02", "2000.00"), ("2026-03-06", "6000.00"), ("2026-03-09", "9000.00")):
        metrics((day, idn, assets, "0", "0", 0), name=f"m-{day}.csv")
        when = dt.date.fromisoformat(day)
        if when == dt.date(2026, 3, 6):
            RelationshipShare.objects.filter(relationship=rel, staff=x).update(effective_to=SATURDAY)
            RelationshipShare.objects.create(relationship=rel, staff=y, ratio=D("1"), effective_from=SATURDAY)
        performance_night(business_date=when)
        assert _rows() == _full_recompute(when), day
    month = {r.staff_id: r.asset_days for r in StaffPerformance.objects.filter(grain=Grain.MONTH, period=MARCH)}
    assert month == {x.pk: D("14000"), y.pk: D("21000")}    # x: 2nd–5th at 2000, the 6th; y: 7th, 8th, 9th
