"""R-STAFF-1 / R-PERF-3 / R-PERF-5: a staff member's move recorded in the Django admin goes through the same service
as the staff feed — membership rows, a credit change from the move's day, audit rows — so the night recomputes the
days it touches, to the figures of a full recompute; a move from a day in a locked month leaves that month as it
was and posts the credit it takes from the old outlet to the new one as adjustments into the first open month."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from performance.models import AdjustmentSource, PerformanceAdjustment, StaffPerformance
from performance.nightly import performance_night
from performance.periods import period_lock
from performance.services import compute_period
from relationships.membership import staff_outlets_on
from relationships.models import AuditEntry, CreditChange, StaffMembership
from reservations.exchange.registry import load_feed
from tests.integration.performance.test_performance_incremental import _full_recompute, _rows
from tests.support.approvals import hq_admin
from tests.support.factories import (
    BranchFactory,
    CustomerFactory,
    OutletFactory,
    RelationshipFactory,
    StaffFactory,
    make_id_number,
)
from tests.support.helpers import csv_bytes

pytestmark = pytest.mark.django_db

D = Decimal
OCT, NOV = dt.date(2026, 10, 1), dt.date(2026, 11, 1)
OCT_20, NOV_5, NOV_10 = dt.date(2026, 10, 20), dt.date(2026, 11, 5), dt.date(2026, 11, 10)
METRICS_HEADER = ["date", "id_number", "assets", "net_commission", "turnover", "trade_count", "transfer_in"]
STAFF_HEADER = ["staff_no", "name", "outlet_code", "kind", "parent_staff_no", "qualifications", "attach_open",
                "effective_from", "leaving_date"]


def _metrics(idn, first: dt.date, last: dt.date):
    days = [first + dt.timedelta(days=k) for k in range((last - first).days + 1)]
    result = load_feed(actor="test", kind="metrics", filename=f"m-{first}.csv", content=csv_bytes(
        METRICS_HEADER, [[f"{d:%Y-%m-%d}", idn, "1000.00", "10.00", "100.00", "1", "0"] for d in days]))
    assert not result.errors, result.errors


def _figures(period: dt.date) -> dict:
    return {(r.grain, r.period, r.staff_id, r.type_id, r.outlet_id):
            (r.asset_days, r.assets, r.net_commission, r.turnover, r.transfer_in, r.trade_count, r.new_customers)
            for r in StaffPerformance.objects.filter(month=period)}


@pytest.fixture
def w():
    """Staff member x at `old` holding one customer since September; metrics for October and 1–10 November; the
    night of 10 November computed; HQ's office as an admin-site user."""
    branch = BranchFactory()
    old, new = OutletFactory(parent=branch), OutletFactory(parent=branch)
    x = StaffFactory(outlet=old)
    idn = make_id_number()
    rel = RelationshipFactory(customer=CustomerFactory(id_number=idn), shares=[(x, "1")],
                              effective_from=dt.date(2026, 9, 1))
    _metrics(idn, OCT, NOV_10)
    hq, _org = hq_admin()
    type(hq).objects.filter(pk=hq.pk).update(is_staff=True)
    client = Client()
    client.force_login(hq)
    return type("W", (), dict(old=old, new=new, x=x, idn=idn, rel=rel, hq=hq, client=client))


def _admin_move(w, on: dt.date):
    url = reverse("admin:relationships_staff_changelist")
    response = w.client.post(url, {"action": "record_move", "_selected_action": [w.x.pk], "confirm": "yes",
                                   "outlet": w.new.pk, "on": on.isoformat(), "reason": "调岗"})
    assert response.status_code == 302, response.content.decode()[:3000]
    w.x.refresh_from_db()
    assert w.x.outlet == w.new


def test_an_admin_move_writes_a_credit_change_from_its_day_and_the_night_equals_a_full_recompute(w):
    """R-STAFF-1: the admin's move from 5 November (recorded on 10 November, after the night computed the month)
    writes the membership rows, a credit change from the 5th and its audit rows; the next night credits the 5th on
    to the new outlet, exactly as recomputing the open months from scratch does."""
    performance_night(business_date=NOV_10)
    assert not CreditChange.objects.exists()

    _admin_move(w, NOV_5)

    assert list(CreditChange.objects.values_list("from_day", flat=True)) == [NOV_5]
    assert list(StaffMembership.objects.filter(staff=w.x).values_list("outlet_id", "valid_to")) == [
        (w.old.pk, NOV_5), (w.new.pk, None)]
    actions = set(AuditEntry.objects.filter(target_id=str(w.x.pk)).values_list("action", flat=True))
    assert {"staff.move", "staff.outlet"} <= actions
    assert staff_outlets_on([w.x.pk], dt.date(2026, 11, 4)) == {w.x.pk: w.old.pk}

    performance_night(business_date=NOV_10)
    assert _rows() == _full_recompute(NOV_10)
    month = {r.outlet_id: r.net_commission for r in StaffPerformance.objects.filter(grain="month", period=NOV,
                                                                                   staff=w.x)}
    assert month == {w.old.pk: D("40"), w.new.pk: D("60")}        # 1–4 November, 5–10 November
    assert not PerformanceAdjustment.objects.exists()             # November is open


def _assert_moved_in_october(w):
    """October's 12 days from the 20th move from the old outlet to the new one, as `move` adjustments."""
    adjustments = {a.outlet_id: a for a in PerformanceAdjustment.objects.all()}
    assert set(adjustments) == {w.old.pk, w.new.pk}
    for outlet_id, sign in ((w.old.pk, -1), (w.new.pk, 1)):
        a = adjustments[outlet_id]
        assert (a.staff_id, a.belongs_to, a.posted_in, a.source, a.type_id) == (
            w.x.pk, OCT, NOV, AdjustmentSource.MOVE, w.rel.type_id)
        assert (a.net_commission, a.turnover, a.trade_count, a.asset_days, a.assets, a.new_customers) == (
            sign * D("120"), sign * D("1200"), sign * D("12"), sign * D("12000"), sign * D("1000"), 0)
    assert AuditEntry.objects.filter(action="performance.adjust").count() == 1


def test_an_admin_move_from_a_day_in_a_locked_month_leaves_it_unchanged_and_posts_adjustments(w):
    """R-PERF-5 / R-STAFF-1: moved in the admin from 20 October while October is locked: October's rows stay to
    the cent; November gets −12 days at the old outlet and +12 days at the new one; the night then credits
    November to the new outlet, as a full recompute does."""
    compute_period(period=OCT)
    period_lock(actor=w.hq, period=OCT)
    performance_night(business_date=NOV_10)
    locked = _figures(OCT)

    _admin_move(w, OCT_20)

    assert _figures(OCT) == locked
    _assert_moved_in_october(w)
    assert list(CreditChange.objects.values_list("from_day", flat=True)) == [OCT_20]
    performance_night(business_date=NOV_10)
    assert _figures(OCT) == locked and _rows() == _full_recompute(NOV_10)
    assert set(StaffPerformance.objects.filter(grain="month", period=NOV, staff=w.x)
               .values_list("outlet_id", flat=True)) == {w.new.pk}


def test_a_staff_feed_move_from_a_day_in_a_locked_month_posts_the_same_adjustments(w):
    """R-PERF-5 / R-STAFF-1: the staff feed's effective_from in locked October posts as the admin does."""
    compute_period(period=OCT)
    period_lock(actor=w.hq, period=OCT)
    locked = _figures(OCT)
    result = load_feed(actor="test", kind="staff", filename="staff.csv", content=csv_bytes(STAFF_HEADER, [[
        w.x.staff_no, w.x.name, w.new.code, w.x.kind, "", "securities;futures;consulting;broker", "true",
        OCT_20.isoformat(), ""]]))
    assert result.errors == []
    assert _figures(OCT) == locked
    _assert_moved_in_october(w)


def test_a_leaving_changes_no_outlet_credited_and_posts_nothing(w):
    """R-STAFF-1 / R-ATT-2: a leaver's relationships stay, credited to his last outlet: nothing to adjust."""
    compute_period(period=OCT)
    period_lock(actor=w.hq, period=OCT)
    url = reverse("admin:relationships_staff_changelist")
    w.client.post(url, {"action": "record_leaving", "_selected_action": [w.x.pk], "confirm": "yes",
                        "on": OCT_20.isoformat(), "reason": "离职"})
    w.x.refresh_from_db()
    assert w.x.left_on == OCT_20
    assert not PerformanceAdjustment.objects.exists()
    performance_night(business_date=NOV_10)
    assert _rows() == _full_recompute(NOV_10)
