"""R-PERF-1..3, issue 18: the nightly performance computes only the days that changed and rolls the month up from
its day rows; night by night it writes, to the last decimal, what a full recomputation of the open months writes."""
from __future__ import annotations

import datetime as dt
import json
import random
from decimal import Decimal

import pytest
from django.db import transaction

from performance.exports import section12_export
from performance.models import ComputedPeriod, StaffPerformance
from performance.nightly import compute_month_incremental, performance_night
from performance.services import compute_period, open_periods_through
from permissions.scoping import visible_staff_performance
from relationships.models import CreditChange, RelationshipShare, RelationshipType
from relationships.services import Share, relationship_create
from relationships.versions import relationship_end
from tests.integration.performance.test_performance import customer, metrics, relate
from tests.support.factories import HQFactory, OutletFactory, RoleFactory, StaffFactory

pytestmark = pytest.mark.django_db

D = Decimal
FEB, MARCH = dt.date(2026, 2, 1), dt.date(2026, 3, 1)
COLUMNS = ("grain", "period", "month", "staff_id", "type_id", "outlet_id", "asset_days", "assets", "net_commission",
           "turnover", "transfer_in", "trade_count", "new_customers")


def _rows() -> list[tuple]:
    return sorted(StaffPerformance.objects.values_list(*COLUMNS))


class _Rollback(Exception):
    pass


def _full_recompute(business_date: dt.date, *, export_as=None):
    """What recomputing every open month from scratch writes (rolled back); with `export_as`, the §12 export too."""
    out: list = []
    try:
        with transaction.atomic():
            todo, _locked = open_periods_through(business_date)
            for period in todo:
                compute_period(period=period)
            out = _rows() if export_as is None else _export(export_as)
            raise _Rollback
    except _Rollback:
        pass
    return out


def _export(user) -> list[list]:
    _header, rows = section12_export(visible_staff_performance(user), None)
    return list(rows)


def _reported_days() -> list[dt.date]:
    days, day = [], dt.date(2026, 2, 23)
    while day < dt.date(2026, 4, 1):
        if day.weekday() < 5:
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def test_r_perf_1_day_by_day_nights_with_corrections_equal_a_full_recomputation_to_the_cent():
    """Metrics a day at a time, a metrics correction of an earlier day, a retroactive share change, a relationship
    ended and one cancelled on its first day, a new relationship from a Sunday, a holder moving outlet, a
    re-run of a night: after every night the stored rows are those of a full recomputation."""
    rng = random.Random(18)
    outlet = OutletFactory()
    x, y, z = (StaffFactory(outlet=outlet) for _i in range(3))
    people = [customer(f"客户{i}") for i in range(8)]
    rels = [relate(c, (x, "0.6"), (y, "0.4")) if i % 2 else relate(c, (z, "1"), type_code="IB_SERVICE")
            for i, (_idn, c) in enumerate(people[:6])]
    late_idn, late_customer = people[6]
    v = StaffFactory(outlet=outlet)                       # holds one customer, whose metrics stop on 20 March
    quiet_idn, quiet = customer("静")
    relate(quiet, (v, "1"), type_code="IB_SERVICE")
    figures = {}
    for day in _reported_days():
        for idn, _c in people:
            figures[(day, idn)] = (day.isoformat(), idn, f"{rng.randint(0, 900000)}.{rng.randint(0, 99):02d}",
                                   f"{rng.randint(-50, 300)}.{rng.randint(0, 99):02d}", f"{rng.randint(0, 9999)}.13",
                                   rng.randint(0, 4), f"{rng.randint(0, 500)}.07")
    for day in _reported_days():
        quiet_rows = [(day.isoformat(), quiet_idn, "321.09", "1.00", "2.00", 1)] if day <= dt.date(2026, 3, 20) else []
        metrics(*[figures[(day, idn)] for idn, _c in people], *quiet_rows, name=f"m-{day}.csv")
        if day == dt.date(2026, 3, 5):   # a correction of 3 March (and of a February day: the open February too)
            metrics(("2026-03-03", people[1][0], "1.01", "-3.50", "0", 0), ("2026-02-26", people[3][0], "7.77",
                    "0", "0", 0), name="correction.csv")
        if day == dt.date(2026, 3, 10):  # x's share is z's from 4 March on, decided today
            share = RelationshipShare.objects.get(relationship=rels[1], staff=x)
            RelationshipShare.objects.filter(pk=share.pk).update(effective_to=dt.date(2026, 3, 4))
            RelationshipShare.objects.create(relationship=rels[1], staff=z, ratio=D("0.6"),
                                             effective_from=dt.date(2026, 3, 4))
        if day == dt.date(2026, 3, 16):  # a relationship effective from Sunday 15 March; one ended on the 12th
            relationship_create(actor="test", customer=late_customer,
                                rel_type=RelationshipType.objects.get(pk="NEW_DEV"), shares=[Share(z, D("0.5"))],
                                effective_from=dt.date(2026, 3, 15), source="test")
            relationship_end(actor="test", relationship_id=rels[2].pk, on=dt.date(2026, 3, 12), reason="test")
        if day == dt.date(2026, 3, 18):  # one cancelled on its first day: no new customer
            relationship_end(actor="test", relationship_id=rels[4].pk, on=rels[4].effective_from, reason="test")
        if day == dt.date(2026, 3, 20):  # y moves to another outlet
            y.outlet = OutletFactory(branch=outlet.branch)
            y.save(update_fields=["outlet"])
        performance_night(business_date=day)
        if day == dt.date(2026, 3, 11):
            performance_night(business_date=day)  # a re-run changes nothing
        assert _rows() == _full_recompute(day), day
        for computed in ComputedPeriod.objects.all():
            assert computed.rows == StaffPerformance.objects.filter(month=computed.period).count()
    assert not CreditChange.objects.exists()
    hq = RoleFactory(kind="hq", organisation=HQFactory()).user
    exported = _export(hq)
    assert len(exported) > 4 and exported == _full_recompute(dt.date(2026, 3, 31), export_as=hq)


def test_r_perf_2_a_night_computes_only_the_new_day_whatever_the_day_of_the_month():
    outlet = OutletFactory()
    x = StaffFactory(outlet=outlet)
    idn, cust = customer()
    relate(cust, (x, "1"))
    computed = {}
    for day in _reported_days():
        if day < MARCH:
            continue
        metrics((day.isoformat(), idn, "100.00", "1.00", "0", 1), name=f"m-{day}.csv")
        computed[day] = compute_month_incremental(period=MARCH)["days_computed"]
    assert computed[dt.date(2026, 3, 2)] == 2 - 1 and computed[dt.date(2026, 3, 23)] == 1   # day 2 and day 22
    assert set(computed.values()) == {1}
    assert compute_month_incremental(period=MARCH)["days_computed"] == 0               # nothing new: nothing done
    metrics(("2026-03-04", idn, "300.00", "1.00", "0", 1), name="correction.csv")
    assert compute_month_incremental(period=MARCH)["days_computed"] == 1               # the corrected day only


def test_r_perf_3_a_change_of_shares_recomputes_the_open_months_from_the_day_it_touches():
    outlet = OutletFactory()
    x, y, w = StaffFactory(outlet=outlet), StaffFactory(outlet=outlet), StaffFactory(outlet=outlet)
    idn, cust = customer()
    other_idn, other = customer()
    rel = relate(cust, (x, "1"))
    only = relate(other, (w, "1"), type_code="IB_SERVICE")
    for day in _reported_days():
        metrics((day.isoformat(), idn, "100.00", "1.00", "0", 1), (day.isoformat(), other_idn, "5.00", "0", "0", 0),
                name=f"m-{day}.csv")
    performance_night(business_date=dt.date(2026, 3, 31))
    RelationshipShare.objects.filter(relationship=rel, staff=x).update(effective_to=dt.date(2026, 3, 25))
    RelationshipShare.objects.create(relationship=rel, staff=y, ratio=D("1"), effective_from=dt.date(2026, 3, 25))
    assert min(CreditChange.objects.values_list("from_day", flat=True)) == dt.date(2026, 3, 25)
    february = compute_month_incremental(period=FEB, changed_from=dt.date(2026, 3, 25))
    march = compute_month_incremental(period=MARCH, changed_from=dt.date(2026, 3, 25))
    assert (february["days_computed"], march["days_computed"]) == (0, 5)   # 25, 26, 27, 30, 31 March
    assert _rows() == _full_recompute(dt.date(2026, 3, 31))
    # w's only relationship is cancelled on its first day: his rows of both months go, month rows included.
    assert StaffPerformance.objects.filter(staff=w, grain="month").count() == 2
    relationship_end(actor="test", relationship_id=only.pk, on=only.effective_from, reason="test")
    counts = performance_night(business_date=dt.date(2026, 3, 31))
    assert json.loads(json.dumps(counts)) == counts    # the run ledger stores them as JSON
    assert not StaffPerformance.objects.filter(staff=w).exists()
    assert _rows() == _full_recompute(dt.date(2026, 3, 31))
    for computed in ComputedPeriod.objects.all():
        assert computed.rows == StaffPerformance.objects.filter(month=computed.period).count()
