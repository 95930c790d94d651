"""R-STAFF-1 in a real browser: the branch reassigns a leaver's customers to two colleagues with a live total, the
designated person approves, and the customers' new versions start on the effective date — no console errors."""
from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from permissions.staff_changes import staff_leave
from relationships.models import Relationship, RelationshipShare
from tests.e2e.conftest import assert_fields_labelled, login
from tests.support.approvals import holder, hq_admin, make_branch
from tests.support.factories import RelationshipFactory, StaffFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_a_branch_reassigns_a_leavers_customers_to_two_colleagues_and_the_approver_approves(page):
    b = make_branch()
    third = StaffFactory(outlet=b.outlet, name="孙同事")
    designated = holder("designated_person", b.branch, actor=b.head)
    rels = [RelationshipFactory(shares=[(b.staff, "1")], effective_from=dt.date(2026, 3, 2)) for _ in range(2)]
    staff_leave(actor=hq_admin()[0], staff=b.staff, on=timezone.localdate(), reason="离职")

    login(page, b.head.username)
    page.goto("/work/reassignments/awaiting/")
    expect(page.locator("main")).to_contain_text(b.staff.name)
    page.locator("main a", has_text="重新分配客户关系").first.click()
    page.wait_for_load_state()
    assert_fields_labelled(page)
    page.locator("input[name=effective_from]").fill("2026-11-10")
    page.locator("select[name='holders-0-staff']").select_option(str(b.colleague.pk))
    page.locator("input[name='holders-0-ratio']").fill("0.5")
    summary = page.locator("#holders-summary")
    expect(summary).to_contain_text("0.5000")  # the remainder, live
    page.locator("select[name='holders-1-staff']").select_option(str(third.pk))
    page.locator("input[name='holders-1-ratio']").fill("0.5")
    expect(summary).to_contain_text("1.0000")
    page.locator("button[type=submit].primary").click()
    page.wait_for_url(lambda url: "/approvals/" in url)
    expect(page.locator("main")).to_contain_text(rels[0].customer.name)

    case_url = page.url
    login(page, designated.username)
    page.goto(case_url)
    page.locator("select[name=decision]").select_option("approve")
    page.locator("form[action$='/decide/'] button[type=submit].primary").click()
    page.wait_for_load_state()
    for rel in rels:
        new = Relationship.objects.get(customer=rel.customer, effective_to__isnull=True)
        assert new.effective_from == dt.date(2026, 11, 10)
        assert sorted(RelationshipShare.objects.filter(relationship=new).values_list("staff_id", flat=True)) == sorted(
            [b.colleague.pk, third.pk])
    assert page.console_errors == []
