"""R-PERF-5 / R-PERF-3: a change reaching back into a locked period never rewrites it; the difference is posted as
adjustments (调整) into the first open period, shown and exported beside its figures. HQ may reopen a locked
period with a reason, written to the register, and lock it again."""
from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from approvals.models import ApprovalCase
from approvals.services import case_act
from performance.models import (
    AdjustmentSource,
    ComputedPeriod,
    PerformanceAdjustment,
    PeriodEvent,
    PeriodLock,
    PeriodRegisterEntry,
    StaffPerformance,
)
from performance.periods import period_lock, period_reopen
from performance.services import compute_period
from relationships.callbacks import callbacks_create_for_date
from relationships.models import AuditEntry, Callback, Relationship
from reservations.branch.requests import branch_relationship_end
from reservations.exchange.registry import load_feed
from reservations.reassign.disputes import callback_dispute_decide
from reservations.reassign.services import reassignment_file
from tests.support.approvals import holder, hq_admin, make_branch
from tests.support.factories import CustomerFactory, RelationshipFactory, StaffFactory, make_id_number
from tests.support.helpers import csv_bytes
from tests.support.secondary import branch_user

pytestmark = pytest.mark.django_db

D = Decimal
OCT, NOV, DEC = dt.date(2026, 10, 1), dt.date(2026, 11, 1), dt.date(2026, 12, 1)
OCT_20 = dt.date(2026, 10, 20)
METRICS_HEADER = ["date", "id_number", "assets", "net_commission", "turnover", "trade_count", "transfer_in"]


def _metrics(idns, first: dt.date, last: dt.date, assets="1000.00", commission="10.00"):
    days = [first + dt.timedelta(days=k) for k in range((last - first).days + 1)]
    lines = [[f"{d:%Y-%m-%d}", idn, assets, commission, "100.00", "1", "0"] for d in days for idn in idns]
    result = load_feed(actor="test", kind="metrics", filename=f"m-{first}.csv",
                       content=csv_bytes(METRICS_HEADER, lines))
    assert not result.errors, result.errors


def _figures(period: dt.date) -> dict:
    return {(r.grain, r.period, r.staff_id, r.type_id, r.outlet_id):
            (r.asset_days, r.assets, r.net_commission, r.turnover, r.transfer_in, r.trade_count, r.new_customers)
            for r in StaffPerformance.objects.filter(month=period)}


@pytest.fixture
def b():
    b = make_branch()
    b.third = StaffFactory(outlet=b.outlet)
    b.designated = holder("designated_person", b.branch, actor=b.head)
    b.hq, _hq = hq_admin()
    return b


def _locked_october(b, n=1):
    """`n` customers held by b.staff since September, with October's metrics; October computed and locked by HQ."""
    idns = [make_id_number() for _ in range(n)]
    rels = [RelationshipFactory(customer=CustomerFactory(id_number=idn), shares=[(b.staff, "1")],
                                effective_from=dt.date(2026, 9, 1)) for idn in idns]
    _metrics(idns, OCT, dt.date(2026, 10, 31))
    compute_period(period=OCT)
    period_lock(actor=b.hq, period=OCT)
    return idns, rels


def _reassign(b, rels, on=OCT_20, participants=None):
    filed = reassignment_file(actor=b.head, from_staff=b.staff, relationships=rels,
                              participants=participants or [(b.colleague, "1")], effective_from=on)
    assert filed.refused == {}
    case_act(actor=type(b.designated).objects.get(pk=b.designated.pk), case_id=filed.reassignment.case_id,
             decision="approve")
    return filed.reassignment


def _adjustments(**filters) -> dict:
    return {a.staff_id: a for a in PerformanceAdjustment.objects.filter(**filters)}


def test_back_dated_reassignment_into_a_locked_period_leaves_it_unchanged_to_the_cent_and_posts_the_difference_into_the_open_one(b):  # noqa: E501
    """R-PERF-5 / R-PERF-3: reassigned from 20 October (locked), October's rows stay as they were; November gets
    the 12 days (20–31 October) as adjustments: −b.staff, +colleague, with their source and October."""
    _idns, rels = _locked_october(b)
    locked = _figures(OCT)
    ra = _reassign(b, rels)

    assert _figures(OCT) == locked                       # to the cent: nothing in October moved
    adj = _adjustments(belongs_to=OCT)
    assert set(adj) == {b.staff.pk, b.colleague.pk}
    old, new = adj[b.staff.pk], adj[b.colleague.pk]
    for a in (old, new):
        assert (a.posted_in, a.source, a.reassignment_id, a.outlet_id, a.type_id) == (
            NOV, AdjustmentSource.REASSIGNMENT, ra.pk, b.outlet.pk, rels[0].type_id)
        assert a.case_id == ra.case_id and a.created_by == b.designated
    assert (old.net_commission, old.turnover, old.trade_count, old.asset_days, old.assets) == (
        D("-120"), D("-1200"), D("-12"), D("-12000"), D("-1000"))
    assert (new.net_commission, new.turnover, new.trade_count, new.asset_days, new.assets) == (
        D("120"), D("1200"), D("12"), D("12000"), D("1000"))
    assert old.new_customers == new.new_customers == 0   # a reassignment continues the relationship
    assert AuditEntry.objects.filter(action="performance.adjust").count() == 1
    # November itself is open: it credits the new holder as usual, beside the adjustments.
    _metrics(_idns, NOV, dt.date(2026, 11, 2))
    compute_period(period=NOV)
    assert StaffPerformance.objects.get(grain="month", period=NOV, staff=b.colleague).net_commission == D("20")


def test_a_reassignment_within_the_open_period_posts_no_adjustment(b):
    """R-PERF-5: only a locked period is adjusted; an open one is recomputed as usual."""
    _idns, rels = _locked_october(b)
    _reassign(b, rels, on=dt.date(2026, 11, 10))
    assert not PerformanceAdjustment.objects.exists()


def test_a_back_dated_reassignment_stays_a_constant_number_of_statements(b):
    """Set-based: capturing a locked month before and after takes as many statements for 10 customers as for 2."""
    _locked_october(b)

    def approve(n):
        leaver = StaffFactory(outlet=b.outlet)
        rels = [RelationshipFactory(shares=[(leaver, "1")], effective_from=dt.date(2026, 9, 1)) for _ in range(n)]
        filed = reassignment_file(actor=b.head, from_staff=leaver, relationships=rels,
                                  participants=[(b.colleague, "0.5"), (b.third, "0.5")], effective_from=OCT_20)
        actor = type(b.designated).objects.get(pk=b.designated.pk)
        with CaptureQueriesContext(connection) as ctx:
            case_act(actor=actor, case_id=filed.reassignment.case_id, decision="approve")
        return len(ctx.captured_queries)

    assert approve(2) == approve(10)


def test_dispute_ending_a_relationship_back_dated_into_a_locked_period_posts_an_adjustment(b):
    """R-PERF-5 / R-CB-1: the branch ends a disputed relationship from 20 October (locked): October stays, November
    gets −12 days of the holder's credit, with the source `dispute` and the relationship."""
    _idns, rels = _locked_october(b)
    rel = rels[0]
    Relationship.objects.filter(pk=rel.pk).update(outlet=b.outlet)
    callbacks_create_for_date(business_date=dt.date(2026, 9, 2))
    cb = Callback.objects.get(relationship=rel)
    Callback.objects.filter(pk=cb.pk).update(status="disputed", reason="客户不认识这位经理")
    locked = _figures(OCT)

    callback_dispute_decide(actor=branch_user(b.branch), callback_id=cb.pk, decision="ended", note="客户否认",
                            end_on=OCT_20)

    rel.refresh_from_db()
    assert rel.effective_to == OCT_20 and _figures(OCT) == locked
    [adj] = PerformanceAdjustment.objects.all()
    assert (adj.staff_id, adj.belongs_to, adj.posted_in, adj.source, adj.relationship_id) == (
        b.staff.pk, OCT, NOV, AdjustmentSource.DISPUTE, rel.pk)
    assert (adj.net_commission, adj.assets) == (D("-120"), D("-1000"))


def test_adjustments_are_append_only(b):
    """R-PERF-5: the database refuses to change or remove an adjustment, whoever asks."""
    _idns, rels = _locked_october(b)
    _reassign(b, rels)
    with pytest.raises(DatabaseError), transaction.atomic():
        PerformanceAdjustment.objects.update(net_commission=0)
    with pytest.raises(DatabaseError), transaction.atomic():
        PeriodRegisterEntry.objects.all().delete()


def test_reopen_writes_a_register_row_and_requires_a_reason(b):
    """R-PERF-5: HQ reopens a locked period only with a reason; the register has the lock and the reopen; the
    reopened month is an open month again (the night computes it whole)."""
    _locked_october(b)
    with pytest.raises(ValidationError):
        period_reopen(actor=b.hq, period=OCT, reason="  ")
    assert PeriodLock.objects.filter(period=OCT).exists()

    entry = period_reopen(actor=b.hq, period=OCT, reason="十月份数据源更正")
    assert (entry.event, entry.period, entry.reason, entry.actor) == (PeriodEvent.REOPEN, OCT, "十月份数据源更正", b.hq)
    assert not PeriodLock.objects.filter(period=OCT).exists()
    assert not ComputedPeriod.objects.filter(period=OCT).exists()   # recomputed whole by the next night
    assert list(PeriodRegisterEntry.objects.order_by("at", "id").values_list("event", flat=True)) == [
        PeriodEvent.LOCK, PeriodEvent.REOPEN]
    assert AuditEntry.objects.filter(action="performance.period_reopen").exists()
    with pytest.raises(ValidationError):
        period_reopen(actor=b.hq, period=OCT, reason="again")          # not locked any more


def test_only_hq_may_reopen(b):
    _locked_october(b)
    for user in (b.head, branch_user(b.branch), b.staff.user):
        with pytest.raises(PermissionDenied):
            period_reopen(actor=user, period=OCT, reason="想改")
    assert PeriodLock.objects.filter(period=OCT).exists()


def test_relock_writes_a_register_row_and_computes_the_reopened_month_first(b):
    """R-PERF-5: locking again after a reopen is a relock in the register, and locks the month as it stands."""
    _locked_october(b)
    period_reopen(actor=b.hq, period=OCT, reason="更正")
    period_lock(actor=b.hq, period=OCT)
    assert list(PeriodRegisterEntry.objects.order_by("at", "id").values_list("event", flat=True)) == [
        PeriodEvent.LOCK, PeriodEvent.REOPEN, PeriodEvent.RELOCK]
    assert ComputedPeriod.objects.filter(period=OCT).exists()


def test_reopening_reverses_the_periods_adjustments_into_the_first_open_period_so_nothing_counts_twice(b):
    """R-PERF-5: reopened, October is recomputed with the reassignment; its adjustments are reversed by
    counter-rows in November, so October + November's adjustments add up to the change once."""
    _idns, rels = _locked_october(b)
    _reassign(b, rels)
    period_reopen(actor=b.hq, period=OCT, reason="重新计算十月")
    reversals = _adjustments(source=AdjustmentSource.REVERSAL)
    originals = _adjustments(source=AdjustmentSource.REASSIGNMENT)
    assert set(reversals) == set(originals) == {b.staff.pk, b.colleague.pk}
    for staff_id, rev in reversals.items():
        assert rev.reverses_id == originals[staff_id].pk and rev.posted_in == NOV and rev.belongs_to == OCT
        assert rev.net_commission == -originals[staff_id].net_commission
    compute_period(period=OCT)
    assert StaffPerformance.objects.get(grain="month", period=OCT, staff=b.colleague).net_commission == D("120")
    period_lock(actor=b.hq, period=OCT)
    period_reopen(actor=b.hq, period=OCT, reason="再次")
    assert PerformanceAdjustment.objects.filter(source=AdjustmentSource.REVERSAL).count() == 2  # never twice


REPORT = reverse("performance:report")


def test_report_and_export_show_adjustments_beside_the_periods_figures(b, client, django_assert_max_num_queries):
    """R-PERF-5 / R-PERF-4: November's page and its CSV and Excel exports list the adjustments posted into it, with
    their source in words and the period they belong to; the page's queries do not grow with their number."""
    _idns, rels = _locked_october(b)
    client.force_login(b.hq)
    client.get(REPORT, {"period": "2026-11"})                        # warm the session
    with CaptureQueriesContext(connection) as few:
        client.get(REPORT, {"period": "2026-11"}, HTTP_ACCEPT_LANGUAGE="en")
    _reassign(b, rels[:1], participants=[(b.colleague, "0.5"), (b.third, "0.5")])
    more = [RelationshipFactory(shares=[(b.staff, "1")], effective_from=dt.date(2026, 9, 1)) for _ in range(3)]
    _reassign(b, more)
    with django_assert_max_num_queries(len(few.captured_queries)):
        html = client.get(REPORT, {"period": "2026-11"}, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert html.count('class="adjustment"') == 3                     # staff, colleague, third
    assert "Adjustments posted into 2026-11" in html and "reassignment" in html and "2026-10" in html
    assert "-1000.00" in html or "-1,000.00" in html                 # b.staff's month-end assets of October
    zh = client.get(REPORT, {"period": "2026-11"}, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    section = zh[zh.index("记入2026-11的调整"):]
    assert "重新分配" in section and "reassignment" not in section and "Adjustments" not in section
    assert 'class="adjustment"' not in client.get(REPORT, {"period": "2026-10"}).content.decode()

    response = client.get(reverse("performance:export", args=["csv"]), {"period": "2026-11", "level": "staff"},
                          HTTP_ACCEPT_LANGUAGE="en")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    blank = rows.index([])
    assert rows[blank + 1][:3] == ["posted in", "belongs to period", "source"]
    adjusted = {r[3]: r for r in rows[blank + 2:]}
    assert set(adjusted) == {b.staff.staff_no, b.colleague.staff_no, b.third.staff_no}
    assert adjusted[b.staff.staff_no][:3] == ["2026-11", "2026-10", "reassignment"]
    assert adjusted[b.staff.staff_no][8] == "-120.00"                 # net commission of 20–31 October
    assert adjusted[b.third.staff_no][8] == "60.00"                   # 0.5 of one customer's 12 days (120)
    response = client.get(reverse("performance:export", args=["xlsx"]), {"period": "2026-11", "level": "outlet"},
                          HTTP_ACCEPT_LANGUAGE="en")
    book = load_workbook(io.BytesIO(response.content))
    sheet = book.worksheets[1]
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0][:3] == ["posted in", "belongs to period", "source"] and len(values) == 2   # one outlet
    assert Decimal(str(values[1][8])) == Decimal("0")                 # moved within the outlet: nets out


def test_the_reopen_page_asks_for_a_reason_and_only_hq_sees_the_register(b, client):
    """R-PERF-5: the report's reopen button brings a confirmation page with the reason; without one nothing is
    reopened; HQ reads the register, others are refused."""
    _locked_october(b)
    client.force_login(b.head)
    assert client.post(reverse("performance:reopen"), {"period": "2026-10", "confirm": "yes",
                                                       "reason": "x"}).status_code == 403
    assert client.get(reverse("performance:register")).status_code == 403
    client.force_login(b.hq)
    html = client.get(REPORT, {"period": "2026-10"}, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert reverse("performance:reopen") in html and reverse("performance:register") in html
    asked = client.post(reverse("performance:reopen"), {"period": "2026-10"}, HTTP_ACCEPT_LANGUAGE="en")
    assert asked.status_code == 200 and 'name="reason"' in asked.content.decode()
    assert PeriodLock.objects.filter(period=OCT).exists()
    refused = client.post(reverse("performance:reopen"), {"period": "2026-10", "confirm": "yes", "reason": " "})
    assert refused.status_code == 200 and "errorlist" in refused.content.decode()
    assert PeriodLock.objects.filter(period=OCT).exists()
    done = client.post(reverse("performance:reopen"), {"period": "2026-10", "confirm": "yes", "reason": "核对十月"})
    assert done.status_code == 302 and not PeriodLock.objects.filter(period=OCT).exists()
    register = client.get(reverse("performance:register"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "核对十月" in register and "2026-10" in register and "重新开放" in register


def test_a_correction_ending_a_relationship_back_dated_into_a_locked_period_posts_an_adjustment(b):
    """R-PERF-5 / R-BR-1: the branch's end of a relationship from 20 October, approved after October was locked,
    leaves October as it was and posts the holder's 12 days as a `correction` adjustment into November."""
    idn = make_id_number()
    rel = RelationshipFactory(customer=CustomerFactory(id_number=idn), type_code="MAINTENANCE",
                              shares=[(b.staff, "1")], effective_from=dt.date(2026, 9, 1))
    Relationship.objects.filter(pk=rel.pk).update(outlet=b.outlet)
    _metrics([idn], OCT, dt.date(2026, 10, 31))
    compute_period(period=OCT)
    period_lock(actor=b.hq, period=OCT)
    locked = _figures(OCT)
    req = branch_relationship_end(actor=branch_user(b.branch), relationship_id=rel.pk, on=OCT_20, reason="录入有误")
    case = ApprovalCase.objects.get(dedupe_key=f"branch_request:{req.pk}")
    case_act(actor=b.designated, case_id=case.pk, decision="approve")

    rel.refresh_from_db()
    assert rel.effective_to == OCT_20 and _figures(OCT) == locked
    [adj] = PerformanceAdjustment.objects.all()
    assert (adj.staff_id, adj.type_id, adj.belongs_to, adj.posted_in, adj.source, adj.case_id,
            adj.relationship_id) == (b.staff.pk, "MAINTENANCE", OCT, NOV, AdjustmentSource.CORRECTION, case.pk,
                                     rel.pk)
    assert (adj.net_commission, adj.asset_days) == (D("-120"), D("-12000"))
