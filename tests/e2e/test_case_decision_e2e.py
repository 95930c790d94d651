"""The final approver in a real browser (issue 13): holder rows with a live total, the preview, a decision
confirmed before a rejection, and the message saying what happened — without console errors."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from approvals.models import ApprovalCase
from approvals.services import case_act
from relationships.models import Relationship
from tests.e2e.conftest import assert_fields_labelled, login
from tests.integration.performance.test_performance import metrics
from tests.support.approvals_e2e import late_case_with_three_holders
from tests.support.factories import StaffFactory, make_id_number

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_final_approver_edits_holders_sees_the_preview_and_decides_with_confirmation(page):
    """R-APR-4 within R-RES-4 and R-ATT-1; the preview by the nightly crediting (R-PERF-1)."""
    idn = make_id_number()
    case, holders = late_case_with_three_holders(id_number=idn)
    claimant = case.applicant
    colleague = StaffFactory(outlet=claimant.outlet, name="钱同事")
    metrics(("2026-09-30", idn, "200000.00", "88.88", "30000.00", 2))
    for user in holders[:2]:
        case_act(actor=user, case_id=case.pk, decision="approve")

    login(page, holders[2].username)
    page.goto(f"/approvals/{case.pk}/")
    assert_fields_labelled(page)
    summary = page.locator("#holders-summary")
    expect(summary).to_contain_text("1.0000")
    # The claimant keeps 0.6, a colleague is added (a row added by the button) with 0.4.
    page.locator("input[name='holders-0-ratio']").fill("0.6")
    expect(summary).to_contain_text("0.4000")               # remainder, live
    page.locator("button[data-formset-add='holders']").click()
    new_row = page.locator("#holders-rows tr").last
    new_row.locator("select").select_option(str(colleague.pk))
    new_row.locator("input").fill("abc")
    expect(summary).to_contain_text("无法计算")               # an invalid ratio is named, not summed as 0
    new_row.locator("input").fill("0.4")
    expect(summary).to_contain_text("分成比例合计：1.0000")
    preview = summary.locator("section.preview")
    expect(preview).to_contain_text("钱同事")
    expect(preview).to_contain_text("35.55")                 # 88.88 × 0.4, the colleague's edited commission
    expect(preview).to_contain_text("53.33")                 # 88.88 × 0.6, the claimant's

    # A rejection asks for confirmation; going back decides nothing.
    page.locator("select[name=decision]").select_option("reject")
    page.locator("textarea[name=reason]").fill("核对中")
    page.locator("form[action$='/decide/'] button[type=submit].primary").click()
    page.wait_for_load_state()
    expect(page.locator("main")).to_contain_text("您即将驳回审批案件")
    page.locator("main a", has_text="不，返回案件").click()
    page.wait_for_load_state()
    assert ApprovalCase.objects.get(pk=case.pk).status == "pending"

    # Approving with the edited rows.
    page.locator("input[name='holders-0-ratio']").fill("0.6")
    page.locator("button[data-formset-add='holders']").click()
    row = page.locator("#holders-rows tr").last
    row.locator("select").select_option(str(colleague.pk))
    row.locator("input").fill("0.4")
    page.locator("select[name=decision]").select_option("approve")
    page.locator("form[action$='/decide/'] button[type=submit].primary").click()
    page.wait_for_load_state()
    expect(page.locator("main")).to_contain_text("已通过，审批完成，客户关系已建立")
    rel = Relationship.objects.get(customer=case.customer)
    assert sorted((s.staff_id, str(s.ratio)) for s in rel.shares.all()) == sorted(
        [(claimant.pk, "0.6000"), (colleague.pk, "0.4000")])
    assert page.console_errors == []

