"""R-STAFF-1: a leaver's relationships are reassigned as one case through the branch's 1-level chain; on approval
the old versions end and the new ones start on the effective date, with callbacks and audit rows."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from approvals.models import ApprovalCase, CaseReason
from approvals.services import case_act
from performance.models import Grain, StaffPerformance
from performance.services import compute_period
from relationships.models import (
    AuditEntry,
    Callback,
    Reassignment,
    ReassignmentLine,
    Relationship,
    RelationshipShare,
)
from reservations.exchange.registry import load_feed
from reservations.reassign.services import reassignment_file
from tests.support.approvals import holder, hq_admin, make_branch
from tests.support.factories import (
    BranchFactory,
    CustomerFactory,
    OutletFactory,
    RelationshipFactory,
    RoleFactory,
    StaffFactory,
    make_id_number,
)
from tests.support.helpers import csv_bytes

pytestmark = pytest.mark.django_db

TENTH = dt.date(2026, 11, 10)


@pytest.fixture
def b():
    b = make_branch()
    b.third = StaffFactory(outlet=b.outlet)
    b.designated = holder("designated_person", b.branch, actor=b.head)
    return b


def _shares(rel) -> list[tuple[int, Decimal, dt.date, dt.date | None]]:
    return sorted(RelationshipShare.objects.filter(relationship=rel)
                  .values_list("staff_id", "ratio", "effective_from", "effective_to"))


def _file(b, rels, participants, on=TENTH):
    return reassignment_file(actor=b.head, from_staff=b.staff, relationships=rels, participants=participants,
                             effective_from=on)


def test_a_reassignment_effective_on_the_10th_ends_old_shares_on_the_9th_and_starts_new_on_the_10th(b):
    """R-STAFF-1: old versions and shares end on the 10th (exclusive: the 9th is their last day), new versions start
    on the 10th with the new holders; every version is kept; callbacks for the new holders; audit rows."""
    rels = [RelationshipFactory(shares=[(b.staff, "1")], effective_from=dt.date(2026, 3, 2)) for _ in range(3)]
    filed = _file(b, rels, [(b.colleague, "0.6"), (b.third, "0.4")])
    assert filed.refused == {}
    case = ApprovalCase.objects.get(pk=filed.reassignment.case_id)
    assert case.reason == CaseReason.REASSIGNMENT and case.chain.code == "reassignment"
    assert list(case.steps.values_list("post", "organisation")) == [("designated_person", b.branch.pk)]
    assert all(r.effective_to is None for r in Relationship.objects.filter(pk__in=[r.pk for r in rels]))

    case_act(actor=b.designated, case_id=case.pk, decision="approve")

    for old in rels:
        old.refresh_from_db()
        assert old.effective_to == TENTH
        assert _shares(old) == [(b.staff.pk, Decimal("1.0000"), dt.date(2026, 3, 2), TENTH)]
        new = Relationship.objects.get(customer=old.customer, type=old.type, effective_to__isnull=True)
        assert new.effective_from == TENTH and new.source == "reassignment" and new.outlet_id == old.outlet_id
        assert _shares(new) == sorted([(b.colleague.pk, Decimal("0.6000"), TENTH, None),
                                       (b.third.pk, Decimal("0.4000"), TENTH, None)])
        assert Callback.objects.filter(relationship=new, status="pending").exists()
    assert AuditEntry.objects.filter(action="relationship.reassign").count() == 3
    assert AuditEntry.objects.filter(action="reassignment.approved").count() == 1
    assert Reassignment.objects.get().status == "approved"
    assert set(ReassignmentLine.objects.values_list("status", flat=True)) == {"applied"}


def test_an_ineligible_new_holder_refuses_that_line_and_nothing_else(b):
    """R-ATT-1: a new holder without the futures qualification cannot take the IB service line; the others go."""
    securities_only = StaffFactory(outlet=b.outlet, qualifications=["securities"])
    new_dev = RelationshipFactory(shares=[(b.staff, "1")])
    ib = RelationshipFactory(type_code="IB_SERVICE", shares=[(b.staff, "1")])
    filed = _file(b, [new_dev, ib], [(securities_only, "1")])
    assert list(filed.refused) == [ib.pk]
    assert "期货" in filed.refused[ib.pk] or "futures" in filed.refused[ib.pk]
    assert list(ReassignmentLine.objects.values_list("relationship_id", flat=True)) == [new_dev.pk]


def test_a_line_before_the_relationship_started_or_already_waiting_is_refused(b):
    rel = RelationshipFactory(shares=[(b.staff, "1")], effective_from=dt.date(2026, 3, 2))
    early = _file(b, [rel], [(b.colleague, "1")], on=dt.date(2026, 3, 1))
    assert early.reassignment is None and list(early.refused) == [rel.pk]
    assert _file(b, [rel], [(b.colleague, "1")]).reassignment is not None
    again = _file(b, [rel], [(b.third, "1")])
    assert again.reassignment is None and rel.pk in again.refused


def test_the_cross_branch_takeover_chain_adds_the_other_branchs_confirmation_and_hq(b):
    """R-STAFF-1 / R-MATCH-5: staff of another branch take over → the designated person, both branches confirm,
    then HQ approves; only then are the relationships reassigned."""
    far_branch = BranchFactory()
    far = StaffFactory(outlet=OutletFactory(parent=far_branch))
    far_head = StaffFactory(outlet=far.outlet).user  # any user of the far branch's to designate
    RoleFactory(user=far_head, kind="branch_head", organisation=far_branch)
    admin, hq = hq_admin()
    rel = RelationshipFactory(shares=[(b.staff, "1")])
    filed = _file(b, [rel], [(far, "1")])
    case = ApprovalCase.objects.get(pk=filed.reassignment.case_id)
    assert sorted(case.steps.values_list("order", "post", "organisation")) == sorted([
        (1, "designated_person", b.branch.pk), (2, "final_approval", b.branch.pk),
        (2, "final_approval", far_branch.pk), (3, "hq", hq.pk)])
    case_act(actor=b.designated, case_id=case.pk, decision="approve")
    case_act(actor=holder("final_approval", far_branch, actor=far_head), case_id=case.pk, decision="approve")
    case_act(actor=holder("final_approval", b.branch, actor=b.head), case_id=case.pk, decision="approve")
    rel.refresh_from_db()
    assert rel.effective_to is None  # HQ has not approved yet
    case_act(actor=holder("hq", hq, actor=admin), case_id=case.pk, decision="approve")
    rel.refresh_from_db()
    assert rel.effective_to == TENTH
    new = Relationship.objects.get(customer=rel.customer, effective_to__isnull=True)
    assert [s[0] for s in _shares(new)] == [far.pk]


def test_a_rejected_reassignment_changes_nothing_and_frees_its_relationships(b):
    rel = RelationshipFactory(shares=[(b.staff, "1")])
    filed = _file(b, [rel], [(b.colleague, "1")])
    case_act(actor=b.designated, case_id=filed.reassignment.case_id, decision="reject", reason="名单有误")
    rel.refresh_from_db()
    assert rel.effective_to is None and Relationship.objects.count() == 1
    assert Reassignment.objects.get().status == "rejected"
    assert _file(b, [rel], [(b.colleague, "1")]).reassignment is not None


def test_approval_runs_in_a_constant_number_of_statements_whatever_the_batch_size(b):
    """Set-based: ten relationships take as many statements as two."""
    def approve(n):
        leaver = StaffFactory(outlet=b.outlet)
        rels = [RelationshipFactory(shares=[(leaver, "1")]) for _ in range(n)]
        filed = reassignment_file(actor=b.head, from_staff=leaver, relationships=rels,
                                  participants=[(b.colleague, "0.5"), (b.third, "0.5")], effective_from=TENTH)
        # A fresh user object, as each approval's own request has: roles and staff are read once per user object.
        actor = type(b.designated).objects.get(pk=b.designated.pk)
        with CaptureQueriesContext(connection) as ctx:
            case_act(actor=actor, case_id=filed.reassignment.case_id, decision="approve")
        return len(ctx.captured_queries)

    assert approve(2) == approve(10)


def test_a_reassignment_effective_on_the_10th_credits_old_holders_days_1_to_9_and_new_holders_from_the_10th(b):
    """R-STAFF-1 / R-PERF-3: the month's credit follows the versions' dates (the nightly performance SQL)."""
    idn = make_id_number()
    rel = RelationshipFactory(customer=CustomerFactory(id_number=idn), shares=[(b.staff, "1")],
                              effective_from=dt.date(2026, 3, 2))
    filed = _file(b, [rel], [(b.colleague, "1")])
    case_act(actor=b.designated, case_id=filed.reassignment.case_id, decision="approve")
    lines = [[f"2026-11-{d:02d}", idn, "1000", "10", "0", "1", "0"] for d in range(1, 31)]
    assert not load_feed(actor="test", kind="metrics", filename="m.csv", content=csv_bytes(
        ["date", "id_number", "assets", "net_commission", "turnover", "trade_count", "transfer_in"], lines)).errors
    compute_period(period=dt.date(2026, 11, 1))
    month = {r.staff_id: r for r in StaffPerformance.objects.filter(grain=Grain.MONTH, period=dt.date(2026, 11, 1))}
    assert month[b.staff.pk].net_commission == Decimal("90")      # days 1–9
    assert month[b.colleague.pk].net_commission == Decimal("210")  # days 10–30
