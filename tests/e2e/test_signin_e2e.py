"""R-SEC-AUTH-1 / R-SEC-AUTH-2 in a real browser: enrolling the second factor and signing in with it; the lockout
page a colleague never sees."""
from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import assert_fields_labelled, assert_keyboard_reachable
from tests.support.helpers import totp_code

pytestmark = [pytest.mark.e2e, pytest.mark.second_factor,
              pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def _password_step(page, username: str, password: str = "pw-12345678") -> None:
    page.goto("/accounts/login/")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(password)
    with page.expect_navigation():
        page.keyboard.press("Enter")


def test_hq_enrols_totp_signs_out_and_signs_in_again_with_the_code(page):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from tests.support.factories import HQFactory, RoleFactory

    hq = RoleFactory(kind="hq", organisation=HQFactory(), user__is_staff=True).user
    _password_step(page, hq.username)
    # Only the enrolment page: the QR code, the key to type instead, the code field.
    page.wait_for_url(lambda url: "/accounts/second-factor/enrol/" in url)
    expect(page.locator("h1")).to_have_text("设置双重验证")
    expect(page.locator(".qr svg")).to_be_visible()
    expect(page.locator("nav.main")).to_have_count(0)
    assert_fields_labelled(page)
    secret = page.locator("#otp-secret").get_attribute("data-secret")
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    assert page.locator("#otp-secret").inner_text().replace(" ", "") == secret
    page.goto("/reservations/")
    page.wait_for_url(lambda url: "/accounts/second-factor/enrol/" in url)  # nothing else is reachable yet
    assert_keyboard_reachable(page, "input[name=otp_token]")
    enrolled_at = time.time()
    page.locator("input[name=otp_token]").fill(totp_code(secret, at_time=enrolled_at))
    page.locator("input[name=otp_token]").press("Enter")
    expect(page.locator("h1")).to_have_text("恢复码")
    codes = page.locator("ul.recovery-codes code").all_inner_texts()
    assert len(codes) == 10 and all(re.fullmatch(r"[a-z2-7]{8}", c) for c in codes)
    page.locator("a.button.primary").click()
    expect(page.locator("nav.main")).to_be_visible()
    # Sign out, then in again: the password, then the code computed from the secret shown at enrolment.
    page.locator("form[action='/accounts/logout/'] button").click()
    page.wait_for_url("**/accounts/login/**")
    _password_step(page, hq.username)
    page.wait_for_url(lambda url: "/accounts/second-factor/?next=" in url)
    expect(page.locator("h1")).to_have_text("双重验证")
    # A code is taken once: within the enrolment's 30-second step, the next step's code (within the allowed drift).
    now = time.time()
    page.locator("input[name=otp_token]").fill(
        totp_code(secret, at_time=now if now // 30 > enrolled_at // 30 else now + 30))
    page.locator("input[name=otp_token]").press("Enter")
    page.wait_for_url(lambda url: "/accounts/" not in url)
    expect(page.locator("nav.main")).to_be_visible()
    page.goto("/admin/")
    expect(page.locator("#site-name")).to_be_visible()
    assert TOTPDevice.objects.get(user=hq).confirmed
    assert page.console_errors == []


def test_a_locked_colleague_does_not_lock_the_next_person_at_the_same_browser(page):
    from tests.support.factories import StaffFactory

    locked, colleague = StaffFactory(), StaffFactory()
    for _ in range(5):
        _password_step(page, locked.staff_no, "wrong-password")
    expect(page.locator("h1")).to_have_text("账户已锁定")
    expect(page.locator("[role=alert]")).to_contain_text(f"账户 {locked.staff_no} 已锁定至")
    page.console_errors.clear()  # the lockout page answers 429, as it should
    _password_step(page, colleague.staff_no)
    page.wait_for_url(lambda url: "/accounts/" not in url)
    expect(page.locator("nav.main")).to_be_visible()
