"""Issue 19 in a real browser: irreversible actions ask first (with and without JavaScript), and every list
fits a phone's width."""
from __future__ import annotations

import pytest
from django.utils import timezone

from relationships.models import AuditEntry
from reservations.models import Reservation
from tests.e2e.conftest import login
from tests.support.factories import OutletFactory, StaffFactory, make_id_number
from tests.support.helpers import reserve

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


# --- phones (390 px) ------------------------------------------------------------------------------------------

PHONE = {"width": 390, "height": 844}
LISTS_HQ = ["/", "/reservations/", "/relationships/", "/relationships/customers/", "/performance/",
            "/approvals/", "/approvals/cases/", "/work/secondary/", "/work/branch/", "/work/core/",
            "/work/callbacks/", "/permissions/applications/", "/permissions/register/", "/reservations/runs/",
            "/reservations/feeds/"]
LISTS_STAFF = ["/", "/reservations/", "/reservations/new/", "/relationships/", "/work/secondary/mine/",
               "/performance/"]


def _overflow(page) -> dict:
    """What sticks out of the page's width, and any aria-describedby pointing at no element."""
    return page.evaluate("""() => ({
        scroll: document.documentElement.scrollWidth, width: window.innerWidth,
        wide: [...document.querySelectorAll('body *')].filter(el => {
            const r = el.getBoundingClientRect();
            return r.right > window.innerWidth + 1
                && !el.closest('.table-container, .table-scroll, .chart-scroll, table');
        }).slice(0, 5).map(el => el.tagName + '.' + el.className),
        missing: [...document.querySelectorAll('[aria-describedby]')].flatMap(el =>
            el.getAttribute('aria-describedby').split(/\\s+/)
              .filter(id => id && !document.getElementById(id))),
    })""")


def _walk_at_phone_width(browser, live_server, user, urls, shots: dict[str, str]):
    from tests.e2e.conftest import ARTIFACTS

    ARTIFACTS.mkdir(exist_ok=True)
    for lang, locale in (("zh", "zh-CN"), ("en", "en-US")):
        context = browser.new_context(locale=locale, base_url=live_server.url, viewport=PHONE)
        page = context.new_page()
        try:
            login(page, user.username)
            if lang == "en":
                page.select_option("#language-select", "en")
                page.locator("#language-select + button").click()
                page.wait_for_load_state()
            for url in urls:
                response = page.goto(url)
                assert response is not None and response.status == 200, (url, response and response.status)
                found = _overflow(page)
                assert found["scroll"] <= found["width"], (lang, url, found)
                assert found["missing"] == [], (lang, url, found["missing"])
                if url in shots:
                    page.screenshot(path=str(ARTIFACTS / f"phone-{shots[url]}-{lang}.png"), full_page=True)
            # The navigation is a menu: closed it takes one line, opened it lists the pages.
            page.goto("/")
            menu = page.locator("details.menu")
            assert menu.locator("summary").is_visible() and not menu.locator("nav a").first.is_visible()
            menu.locator("summary").click()
            assert menu.locator("nav a").first.is_visible()
        finally:
            context.close()


def test_every_list_page_fits_a_phone_in_both_languages(browser, live_server):
    """Issue 19: at 390 px no page scrolls sideways (tables scroll inside their box), the navigation is a menu,
    and every aria-describedby names an element of the page. Screenshots go to test-artifacts/."""
    from tests.support.approvals_e2e import late_case_with_three_holders
    from tests.support.factories import HQFactory, RoleFactory

    case, holders = late_case_with_three_holders()
    staff = StaffFactory(outlet=OutletFactory())
    for n in range(3):
        reserve(staff, id_number=make_id_number(seq=900 + n), when=timezone.now(),
                name="欧阳" + "娜" * (n + 2))
    hq = RoleFactory(kind="hq", organisation=HQFactory()).user
    _walk_at_phone_width(browser, live_server, hq, LISTS_HQ + [f"/approvals/{case.pk}/"],
                         {"/": "home", "/approvals/cases/": "cases-list", "/performance/": "performance",
                          f"/approvals/{case.pk}/": "case"})
    _walk_at_phone_width(browser, live_server, staff.user, LISTS_STAFF, {"/reservations/": "reservations-list"})


def test_the_menu_stays_open_on_a_wide_screen_without_a_button(page):
    staff = StaffFactory(outlet=OutletFactory())
    login(page, staff.staff_no)
    assert page.locator("nav.main a[href='/reservations/']").is_visible()
    assert not page.locator("details.menu > summary").is_visible()
