"""A three-claimant cross-region conflict settled in a real browser (issue 13): the opening branch's final approver
edits the holders with the live total and the preview, both branches confirm, HQ's reviewer approves last — and
no page logs a console error."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from approvals.models import ApprovalCase, CaseStatus, StepKind
from approvals.services import case_act
from relationships.models import Relationship
from tests.e2e.conftest import login
from tests.integration.performance.test_performance import metrics
from tests.support.approvals import holder, hq_admin, make_branch
from tests.support.factories import BranchFactory, OutletFactory, StaffFactory, make_id_number
from tests.support.helpers import at, event_row, load_events, nightly, reserve

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def _decide(page) -> None:
    page.locator("select[name=decision]").select_option("approve")
    page.locator("form[action$='/decide/'] button[type=submit].primary").click()
    page.wait_for_load_state()


def test_r_match_3_and_5_hq_and_two_branches_settle_a_three_claimant_cross_region_conflict(page):
    b = make_branch()
    far = StaffFactory(outlet=OutletFactory(parent=BranchFactory()), name="远方员工")
    admin, hq = hq_admin()
    idn = make_id_number()
    # Three staff of two branches reserve the same customer on time: one conflict case (R-MATCH-3).
    for who, when in ((b.staff, "09:00"), (b.colleague, "10:00"), (far, "11:00")):
        reserve(who, id_number=idn, when=at(f"2026-03-02 {when}"))
    load_events([event_row(when=at("2026-03-04 10:00"), id_number=idn, name="张三", outlet=b.outlet)])
    nightly("2026-03-04")
    case = ApprovalCase.objects.get()
    assert case.claimants.count() == 3
    metrics(("2026-03-04", idn, "100000.00", "50.00", "20000.00", 1))

    opening_review, outlet_review, final = (holder(p, b.branch, actor=b.head) for p in
                                            ("account_opening_review", "outlet_review", "final_approval"))
    own_confirmer = holder("final_approval", b.branch, actor=b.head)
    far_confirmer = holder("final_approval", far.outlet.branch, actor=admin)
    reviewer = holder("hq", hq, actor=admin)
    for user in (opening_review, outlet_review):
        case_act(actor=user, case_id=case.pk, decision="approve")

    # The final approver sees every claimant side by side, edits the holders with a live total and the preview.
    login(page, final.username)
    page.goto(f"/approvals/{case.pk}/")
    for name in (b.staff.name, b.colleague.name, far.name):
        expect(page.locator("main")).to_contain_text(name)
    summary = page.locator("#holders-summary")
    page.locator("input[name='holders-0-ratio']").fill("0.7")
    expect(summary).to_contain_text("0.3000")                  # the remainder, live
    page.locator("button[data-formset-add='holders']").click()
    row = page.locator("#holders-rows tr").last
    row.locator("select").select_option(str(b.colleague.pk))
    row.locator("input").fill("0.3")
    expect(summary).to_contain_text("分成比例合计：1.0000")
    expect(summary.locator("section.preview")).to_contain_text("15.00")  # 50.00 × 0.3, the colleague's commission
    _decide(page)
    assert ApprovalCase.objects.get(pk=case.pk).status == CaseStatus.PENDING  # the confirmations and HQ still wait
    confirmations = case.steps.filter(kind=StepKind.CONFIRM)
    assert {s.organisation_id for s in confirmations} == {b.branch.pk, far.outlet.branch.pk}

    # Each branch confirms, in parallel; then HQ's reviewer approves in the browser.
    for user in (far_confirmer, own_confirmer):
        page.context.clear_cookies()
        login(page, user.username)
        page.goto(f"/approvals/{case.pk}/")
        _decide(page)
    page.context.clear_cookies()
    login(page, reviewer.username)
    page.goto("/approvals/")  # the reviewer's inbox lists the case (R-APR-6)
    expect(page.locator("main")).to_contain_text(str(case.pk))
    page.goto(f"/approvals/{case.pk}/")
    _decide(page)

    assert ApprovalCase.objects.get(pk=case.pk).status == CaseStatus.APPROVED
    rel = Relationship.objects.get(customer=case.customer)
    assert sorted((s.staff_id, str(s.ratio)) for s in rel.shares.all()) == sorted(
        [(b.staff.pk, "0.7000"), (b.colleague.pk, "0.3000")])
    assert page.console_errors == []
