"""Issue 19 in a real browser: irreversible actions ask first (with and without JavaScript), and every list
fits a phone's width."""
from __future__ import annotations

import pytest
from django.utils import timezone

from relationships.models import AuditEntry
from reservations.models import Reservation
from tests.e2e.conftest import login
from tests.factories import OutletFactory, StaffFactory, make_id_number
from tests.helpers import reserve

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def _withdraw_with_confirmation(page, reservation, reason: str) -> None:
    page.goto(f"/reservations/{reservation.pk}/")
    page.get_by_role("button", name="撤回该预约…").click()
    page.wait_for_url(f"**/reservations/{reservation.pk}/withdraw/")
    # The confirmation, before anything happened.
    assert "此操作无法撤销" in page.inner_text("main")
    reservation.refresh_from_db()
    assert reservation.status == "active" and not AuditEntry.objects.filter(action="reservation.withdraw").exists()
    page.get_by_label("原因（选填）").fill(reason)
    page.get_by_role("button", name="确认撤回").click()
    page.wait_for_url(f"**/reservations/{reservation.pk}/")
    reservation.refresh_from_db()
    assert reservation.status == "withdrawn"
    assert reason in page.locator("[aria-labelledby=history-heading]").inner_text()


def test_r_res_6_staff_see_the_confirmation_before_withdrawing_and_the_reason_in_the_history(page):
    staff = StaffFactory(outlet=OutletFactory())
    reservation = reserve(staff, id_number=make_id_number(), when=timezone.now())
    login(page, staff.staff_no)
    # "No, keep it" goes back and keeps the reservation.
    page.goto(f"/reservations/{reservation.pk}/")
    page.get_by_role("button", name="撤回该预约…").click()
    page.get_by_role("link", name="不，保留预约").click()
    page.wait_for_url(f"**/reservations/{reservation.pk}/")
    assert Reservation.objects.get(pk=reservation.pk).status == "active"
    _withdraw_with_confirmation(page, reservation, "客户改在他行开户")
    assert page.console_errors == []


def test_r_res_6_the_withdrawal_confirmation_works_without_javascript(browser, live_server):
    context = browser.new_context(locale="zh-CN", base_url=live_server.url, java_script_enabled=False)
    page = context.new_page()
    try:
        staff = StaffFactory(outlet=OutletFactory())
        reservation = reserve(staff, id_number=make_id_number(), when=timezone.now())
        login(page, staff.staff_no)
        _withdraw_with_confirmation(page, reservation, "重复登记")
    finally:
        context.close()
