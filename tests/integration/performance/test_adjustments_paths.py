"""R-PERF-5 / R-PERF-3 on every path that starts a relationship from a date: a relationship approved (a late case,
R-MATCH-4; a branch-created one, R-BR-1) or matched (R-MATCH-1) with a start date inside a locked month leaves that
month unchanged to the cent, and posts the difference — the new holders' credit from the start date, and their new
effective customers — as adjustment rows into the first open month, with their source, case and relationship."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from approvals.models import ApprovalCase
from approvals.services import case_act
from performance.models import AdjustmentSource, PerformanceAdjustment
from performance.periods import period_lock
from performance.services import compute_period
from relationships.models import AuditEntry, Relationship
from reservations.branch.requests import BranchRequestInput, branch_request_create
from tests.integration.performance.test_adjustments import _figures, _metrics
from tests.support.approvals import holder, hq_admin, make_branch
from tests.support.factories import CustomerFactory, RelationshipFactory, make_id_number
from tests.support.helpers import at, event_row, nightly, record_events, reserve
from tests.support.secondary import branch_user, open_account

pytestmark = pytest.mark.django_db

D = Decimal
OCT, NOV = dt.date(2026, 10, 1), dt.date(2026, 11, 1)
OCT_20, OCT_31 = dt.date(2026, 10, 20), dt.date(2026, 10, 31)
@pytest.fixture
def b():
    b = make_branch()
    b.hq, _hq = hq_admin()
    b.three = [holder(p, b.branch, actor=b.head) for p in ("account_opening_review", "outlet_review",
                                                            "final_approval")]
    b.designated = holder("designated_person", b.branch, actor=b.head)
    # Someone October credits already: his figures show that the locked month is left as it was.
    b.held_idn = make_id_number()
    RelationshipFactory(customer=CustomerFactory(id_number=b.held_idn), shares=[(b.colleague, "1")],
                        effective_from=dt.date(2026, 9, 1))
    return b


def _lock_october(b, idns):
    _metrics([b.held_idn, *idns], OCT, OCT_31)
    compute_period(period=OCT)
    period_lock(actor=b.hq, period=OCT)
    return _figures(OCT)


def _assert_posted(b, *, source, case_id, rel, ratios: dict):
    """The new holders' 12 days (20–31 October) and their new customer, as `source` rows posted into November."""
    adjustments = {a.staff_id: a for a in PerformanceAdjustment.objects.all()}
    assert set(adjustments) == set(ratios)
    for staff_id, ratio in ratios.items():
        a = adjustments[staff_id]
        assert (a.belongs_to, a.posted_in, a.source, a.case_id, a.relationship_id, a.type_id, a.outlet_id) == (
            OCT, NOV, source, case_id, rel.pk, rel.type_id, b.outlet.pk)
        assert (a.net_commission, a.turnover, a.trade_count, a.asset_days, a.assets, a.new_customers) == (
            120 * ratio, 1200 * ratio, 12 * ratio, 12000 * ratio, 1000 * ratio, ratio)
    assert AuditEntry.objects.filter(action="performance.adjust").count() == 1


def test_a_late_case_approved_after_its_opening_month_was_locked_posts_the_new_holders_credit_as_adjustments(b):
    """R-PERF-5 / R-MATCH-4: opened on 20 October, reserved a day late, approved in November after HQ locked
    October: the relationship starts on 20 October, October stays to the cent, November gets the 0.6/0.4 holders'
    12 days and new customer as `approval` adjustments of the case and relationship."""
    idn = make_id_number()
    record_events([event_row(when=at("2026-10-20 10:00"), id_number=idn, name="张三", outlet=b.outlet)])
    reserve(b.staff, id_number=idn, when=at("2026-10-21 09:00"), participants=[(b.staff, "0.6"),
                                                                               (b.colleague, "0.4")])
    nightly("2026-10-21")
    case = ApprovalCase.objects.get(reason="late")
    locked = _lock_october(b, [idn])

    for user in b.three:
        case_act(actor=user, case_id=case.pk, decision="approve")

    rel = Relationship.objects.get(source="approval")
    assert rel.effective_from == OCT_20
    assert _figures(OCT) == locked
    _assert_posted(b, source=AdjustmentSource.APPROVAL, case_id=case.pk, rel=rel,
                   ratios={b.staff.pk: D("0.6"), b.colleague.pk: D("0.4")})


def test_a_branch_created_relationship_approved_from_a_date_in_a_locked_month_posts_adjustments(b):
    """R-PERF-5 / R-BR-1: a branch-created relationship from 20 October, approved once October is locked."""
    idn = open_account(b.outlet)
    locked = _lock_october(b, [idn])
    req = branch_request_create(actor=branch_user(b.branch), branch=b.branch, data=BranchRequestInput(
        id_number=idn, type_code="MAINTENANCE", participants=[(b.staff, "1")], effective_from=OCT_20))
    case = ApprovalCase.objects.get(dedupe_key=f"branch_request:{req.pk}")

    case_act(actor=b.designated, case_id=case.pk, decision="approve")

    rel = Relationship.objects.get(type_id="MAINTENANCE")
    assert rel.effective_from == OCT_20 and _figures(OCT) == locked
    _assert_posted(b, source=AdjustmentSource.APPROVAL, case_id=case.pk, rel=rel, ratios={b.staff.pk: D("1")})


def test_a_case_approved_from_a_date_in_an_open_month_posts_no_adjustment(b):
    """R-PERF-5: only a locked month is adjusted; an open one is recomputed by the night as usual."""
    idn = open_account(b.outlet)
    _lock_october(b, [idn])
    req = branch_request_create(actor=branch_user(b.branch), branch=b.branch, data=BranchRequestInput(
        id_number=idn, type_code="MAINTENANCE", participants=[(b.staff, "1")], effective_from=NOV))
    case_act(actor=b.designated, case_id=ApprovalCase.objects.get(dedupe_key=f"branch_request:{req.pk}").pk,
             decision="approve")
    assert Relationship.objects.filter(type_id="MAINTENANCE", effective_from=NOV).exists()
    assert not PerformanceAdjustment.objects.exists()


def test_an_opening_in_a_locked_month_matched_later_posts_the_holders_credit_as_match_adjustments(b):
    """R-PERF-5 / R-MATCH-1: reserved on 19 October, the account opened on the 20th, but the opening reached the
    platform only after HQ locked October; the night of 3 November matches it from the 20th: October stays to the
    cent and November gets the holder's 12 days and new customer as `match` adjustments."""
    idn = make_id_number()
    reserve(b.staff, id_number=idn, when=at("2026-10-19 09:00"), participants=[(b.staff, "1")])
    locked = _lock_october(b, [])
    record_events([event_row(when=at("2026-10-20 10:00"), id_number=idn, name="张三", outlet=b.outlet)])
    _metrics([idn], OCT_20, OCT_31)     # loaded with the late opening: the locked month's figures stay as they were

    nightly("2026-11-03")

    rel = Relationship.objects.get(source="reservation")
    assert rel.effective_from == OCT_20 and _figures(OCT) == locked
    adjustments = {a.staff_id: a for a in PerformanceAdjustment.objects.all()}
    assert set(adjustments) == {b.staff.pk}
    a = adjustments[b.staff.pk]
    assert (a.belongs_to, a.posted_in, a.source, a.type_id, a.outlet_id) == (
        OCT, NOV, AdjustmentSource.MATCH, rel.type_id, b.outlet.pk)
    assert (a.net_commission, a.asset_days, a.assets, a.new_customers) == (D("120"), D("12000"), D("1000"), D("1"))
