"""R-APR-10 in a real browser: the branch head designates a delegate for final approval with an end date on his page;
the delegate approves a case; after the end date the same action is refused."""
from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from approvals.models import ApprovalCase, CaseReason, CaseStatus
from approvals.services import case_act, case_open
from relationships.models import RelationshipType
from relationships.services import customer_get_or_create
from tests.e2e.conftest import assert_fields_labelled, login
from tests.support.approvals_e2e import late_case_with_three_holders
from tests.support.factories import RoleFactory, StaffFactory, make_id_number

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def _another_case_at_final_approval(first: ApprovalCase, holders) -> ApprovalCase:
    """A second late case of the same branch, its first two steps approved."""
    customer = customer_get_or_create(id_number=make_id_number(), name="李四")
    case = case_open(actor="test", reason=CaseReason.LATE, rel_type=RelationshipType.objects.get(code="NEW_DEV"),
                     customer=customer, proposed_shares=first.proposed_shares, dedupe_key=f"e2e:{customer.pk}",
                     branch=first.branch, applicant=first.applicant, opening_outlet=first.opening_outlet,
                     opening_date=first.opening_date)
    for user in holders[:2]:
        case_act(actor=user, case_id=case.pk, decision="approve")
    return case


def _approve_in_browser(page, case) -> None:
    page.goto(f"/approvals/{case.pk}/")
    page.locator("select[name=decision]").select_option("approve")
    page.locator("form[action$='/decide/'] button[type=submit]").click()
    page.wait_for_load_state()


def test_a_delegate_designated_with_an_end_date_approves_then_is_refused_after_it(page, monkeypatch):
    case, holders = late_case_with_three_holders()
    final = holders[2].assignment
    branch = final.organisation
    head = RoleFactory(kind="branch_head", organisation=branch).user
    delegate = StaffFactory(outlet=case.opening_outlet).user
    for user in holders[:2]:
        case_act(actor=user, case_id=case.pk, decision="approve")
    later = _another_case_at_final_approval(ApprovalCase.objects.get(pk=case.pk), holders)
    today = timezone.localdate()
    end = today + dt.timedelta(days=3)

    login(page, head.username)
    page.goto("/approvals/designations/")
    assert_fields_labelled(page)
    form = page.locator("#designation-form")
    form.locator("select[name=post]").select_option("final_approval")
    form.locator("select[name=organisation]").select_option(str(branch.pk))
    form.locator("input[name=username]").fill(delegate.username)
    form.locator("input[name=valid_from]").fill(today.isoformat())
    form.locator("input[name=valid_to]").fill(end.isoformat())
    form.locator("select[name=delegate_for]").select_option(str(final.pk))
    form.locator("input[name=reason]").fill("休假期间代为审批")
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert delegate.username in page.inner_text("#current-heading + table")

    login(page, delegate.username)
    _approve_in_browser(page, case)
    assert ApprovalCase.objects.get(pk=case.pk).status == CaseStatus.APPROVED

    # The day after the end date the same action is refused: the delegate's decision on the second case (its page
    # opened while he still held the delegation) is not taken, and the case still waits at final approval.
    page.goto(f"/approvals/{later.pk}/")
    page.locator("select[name=decision]").select_option("approve")
    real = timezone.localdate
    monkeypatch.setattr(timezone, "localdate",
                        lambda value=None, tz=None: end + dt.timedelta(days=1) if value is None else real(value, tz))
    with page.expect_response(lambda r: r.url.endswith(f"/approvals/{later.pk}/decide/")) as answer:
        page.locator("form[action$='/decide/'] button[type=submit]").click()
    assert answer.value.status in (400, 403, 404)
    assert ApprovalCase.objects.get(pk=later.pk).status == CaseStatus.PENDING
    assert later.steps.filter(state="pending", post="final_approval").exists()
