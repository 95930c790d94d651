"""The flows branch staff walk every day, in a real browser (issue: browser-tested flows)."""
from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from relationships.models import Relationship
from reservations.models import Reservation
from tests.e2e.conftest import assert_fields_labelled, assert_keyboard_reachable, login
from tests.support.approvals_e2e import late_case_with_three_holders
from tests.support.factories import OutletFactory, StaffFactory, make_id_number
from tests.support.helpers import event_row, load_events, nightly

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_staff_registers_with_two_co_developers_fixes_a_ratio_error_and_the_night_matches_it(page):
    """R-RES-3/4 in the form, then R-MATCH-1 by the nightly run."""
    outlet = OutletFactory()
    staff = StaffFactory(outlet=outlet)
    a, b = StaffFactory(outlet=outlet), StaffFactory(outlet=outlet)
    idn = make_id_number()
    login(page, staff.staff_no)
    page.locator("a[href='/reservations/new/']").first.click()
    assert_fields_labelled(page)
    assert_keyboard_reachable(page, "form button[type=submit].primary")
    page.locator("input[name=customer_name]").fill("张三")
    page.locator("input[name=id_number]").fill(idn)
    page.locator("input[name=phone]").fill("13812345678")
    page.locator("input[name=own_ratio]").fill("0.6")
    page.locator("input[name='co-0-staff_no']").fill(a.staff_no)
    page.locator("input[name='co-0-ratio']").fill("0.3")
    page.locator("input[name='co-1-staff_no']").fill(b.staff_no)
    page.locator("input[name='co-1-ratio']").fill("0.2")
    expect(page.locator("#ratio-summary")).to_contain_text("1.1")  # shown live, via htmx, before submitting
    page.locator("form button[type=submit].primary").click()
    page.wait_for_load_state()
    assert page.locator(".errorlist").first.is_visible()
    assert "1.1" in page.inner_text("main")
    assert not Reservation.objects.exists()
    page.locator("input[name='co-1-ratio']").fill("0.1")
    page.locator("form button[type=submit].primary").click()
    page.wait_for_url("**/reservations/*/")
    reservation = Reservation.objects.get()
    assert sorted(str(p.ratio) for p in reservation.participants.all()) == ["0.1000", "0.3000", "0.6000"]

    opened = timezone.localtime(reservation.registered_at) + dt.timedelta(minutes=5)
    load_events([event_row(when=opened, id_number=idn, name="张三", outlet=outlet)])
    nightly(opened.date().isoformat())
    page.goto("/reservations/")
    assert "已匹配" in page.inner_text("main")
    assert Relationship.objects.count() == 1
    assert page.console_errors == []


def test_late_reservation_goes_through_three_approvals_by_three_users(page):
    """R-MATCH-4 → three-level chain (R-APR-2), each level by a different person (R-APR-3)."""
    case, holders = late_case_with_three_holders()
    for user in holders:
        login(page, user.username)
        page.locator("nav a[href='/approvals/']").click()
        page.locator(f"a[href='/approvals/{case.pk}/']").first.click()
        assert_fields_labelled(page)
        assert_keyboard_reachable(page, "form[action$='/decide/'] button[type=submit]")
        page.locator("select[name=decision]").select_option("approve")
        page.locator("form[action$='/decide/'] button[type=submit]").click()
        page.wait_for_load_state()
    case.refresh_from_db()
    assert case.status == "approved"
    assert Relationship.objects.filter(customer=case.customer).exists()
    assert page.console_errors == []


def test_hq_reviewer_sees_the_cross_region_inbox(page):
    """R-APR-6: HQ reviewers see every pending cross-region case across regions."""
    from tests.support.approvals_e2e import cross_region_case_and_hq_reviewer

    case, reviewer = cross_region_case_and_hq_reviewer()
    login(page, reviewer.username)
    page.locator("nav a[href='/approvals/']").click()
    assert page.locator(f"a[href='/approvals/{case.pk}/']").count() >= 1
    assert page.console_errors == []


def test_branch_admin_applies_an_approved_permission_change_in_the_admin(page):
    """R-PERM-2: filed, approved by the branch head, applied by the branch permission admin in the admin site."""
    from permissions.models import Role
    from permissions.services import application_approve, application_file, branch_admin_assign
    from tests.support.factories import HQFactory, RoleFactory, UserFactory

    hq = RoleFactory(kind="hq", organisation=HQFactory()).user
    outlet = OutletFactory()
    branch = outlet.branch
    admin_user = UserFactory()
    branch_admin_assign(actor=hq, user=admin_user, branch=branch, reason="分公司权限管理员")
    head = RoleFactory(kind="branch_head", organisation=branch).user
    subject = StaffFactory(outlet=outlet).user
    application = application_file(actor=admin_user, subject=subject, action="grant", reason="担任营业部负责人",
                                   signed_off=True, role_kind="outlet_head", organisation=outlet)
    application_approve(actor=head, application_id=application.pk)
    assert not Role.objects.filter(user=subject, kind="outlet_head").exists()

    login(page, admin_user.username)
    page.goto("/admin/permissions/permissionapplication/")
    page.locator(f"input[name=_selected_action][value='{application.pk}']").check()
    page.locator("select[name=action]").select_option("apply_selected")
    page.locator("button[name=index]").click()
    page.wait_for_load_state()
    assert Role.objects.filter(user=subject, kind="outlet_head", organisation=outlet).exists()
    assert page.console_errors == []


def test_hq_uploads_a_feed_and_sees_its_summary_and_refused_lines(page, tmp_path):
    """Issue 7: a feed uploaded in the browser ends with what was loaded and refused, downloadable."""
    from tests.support.factories import HQFactory, RoleFactory
    from tests.support.helpers import csv_bytes

    hq = RoleFactory(kind="hq", organisation=HQFactory()).user
    feed = tmp_path / "org.csv"
    feed.write_bytes(csv_bytes(["code", "name", "kind", "parent_code", "region"], [
        ["SH", "上海分公司", "branch", "HQ", "华东"], ["XX", "坏行", "planet", "HQ", ""]]))
    login(page, hq.username)
    page.locator("nav a[href='/reservations/feeds/']").click()
    assert_fields_labelled(page)
    page.locator("select[name=kind]").select_option("org")
    page.locator("input[name=file]").set_input_files(str(feed))
    assert_keyboard_reachable(page, "form[enctype] button[type=submit]")
    page.locator("form[enctype] button[type=submit]").click()
    page.wait_for_url("**/reservations/feeds/uploads/*/")
    panel = page.locator("#upload-progress")
    expect(panel).to_contain_text("org.csv")
    expect(panel.locator("a[href$='/errors.csv']")).to_be_visible()
    expect(panel).to_contain_text("planet")
    assert page.console_errors == []


def test_lists_filter_sort_and_offer_exports_with_every_field_labelled(page):
    """Issue 7: the customer and case lists are filterable, sortable and exportable; filters are labelled."""
    from tests.support.approvals_e2e import late_case_with_three_holders

    case, holders = late_case_with_three_holders()
    login(page, holders[0].username)
    for url in ("/relationships/customers/", "/approvals/cases/", "/reservations/", "/relationships/"):
        page.goto(url)
        assert_fields_labelled(page)
        expect(page.locator("a[href*='_export=csv']")).to_be_visible()
        expect(page.locator("a[href*='_export=xlsx']")).to_be_visible()
    page.goto("/approvals/cases/")
    expect(page.locator(f"a[href='/approvals/{case.pk}/']")).to_be_visible()
    page.locator("select[name=status]").select_option("approved")
    page.locator("form.actions button[type=submit]").click()
    page.wait_for_load_state()
    expect(page.locator(f"a[href='/approvals/{case.pk}/']")).to_have_count(0)
    assert page.console_errors == []


def test_staff_registers_with_co_developers_without_javascript(browser, live_server):
    """Issue 7: the dynamic rows work without JavaScript — recalculate shows the total and adds rows."""
    context = browser.new_context(locale="zh-CN", base_url=live_server.url, java_script_enabled=False)
    page = context.new_page()
    try:
        outlet = OutletFactory()
        staff = StaffFactory(outlet=outlet)
        colleagues = [StaffFactory(outlet=outlet) for _ in range(4)]
        page.goto("/accounts/login/")
        page.locator("input[name=username]").fill(staff.staff_no)
        page.locator("input[name=password]").fill("pw-12345678")
        page.locator("button[type=submit].primary").click()
        page.wait_for_url(lambda url: "/accounts/login/" not in url)
        page.goto("/reservations/new/")
        expect(page.locator("#ratio-summary")).to_contain_text("1.0000")
        page.locator("input[name=customer_name]").fill("李四")
        page.locator("input[name=id_number]").fill(make_id_number())
        page.locator("input[name=phone]").fill("13812345678")
        page.locator("input[name=own_ratio]").fill("0.2")
        for i, colleague in enumerate(colleagues[:3]):
            page.locator(f"input[name='co-{i}-staff_no']").fill(colleague.staff_no)
            page.locator(f"input[name='co-{i}-ratio']").fill("0.2")
        page.locator("#recalculate").click()
        expect(page.locator("#ratio-summary")).to_contain_text("0.8000")
        assert not Reservation.objects.exists()
        page.locator("input[name='co-3-staff_no']").fill(colleagues[3].staff_no)  # a row added by the server
        page.locator("input[name='co-3-ratio']").fill("0.2")
        page.locator("form button[type=submit].primary").click()
        page.wait_for_url("**/reservations/*/")
        assert Reservation.objects.get().participants.count() == 5
    finally:
        context.close()
