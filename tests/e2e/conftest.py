"""Real-browser tests: Playwright driving Debian's headless Chromium against the live test server.

Run on their own with `./dev test -m e2e` (CI installs Chromium and runs them after the main suite).
A failing test leaves a screenshot in test-artifacts/.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; the ORM calls of the test are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install chromium (CI does this)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, request, live_server):
    context = browser.new_context(locale="zh-CN", base_url=live_server.url)
    pg = context.new_page()
    errors: list[str] = []
    # The browser asks for /favicon.ico on its own (Django's admin pages name none): not the page's error.
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error"
          and "favicon" not in (m.location or {}).get("url", "") else None)
    pg.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400
          and not r.url.endswith("/favicon.ico") else None)
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.console_errors = errors
    yield pg
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def login(page, username: str, password: str = "pw-12345678") -> None:
    page.context.clear_cookies()
    page.goto("/accounts/login/")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(password)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def assert_fields_labelled(page) -> None:
    """Accessibility basics: every visible input, select and textarea has a label."""
    unlabelled = page.evaluate("""() => [...document.querySelectorAll('input, select, textarea')]
        .filter(el => el.type !== 'hidden' && el.offsetParent !== null)
        .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                      && !el.getAttribute('aria-labelledby'))
        .map(el => el.name || el.id)""")
    assert unlabelled == [], f"fields without a label: {unlabelled}"


def assert_keyboard_reachable(page, selector: str, max_tabs: int = 60) -> None:
    """Accessibility basics: the action can be reached with the Tab key alone, from the top of the page."""
    page.locator("body").focus()
    for _ in range(max_tabs):
        page.keyboard.press("Tab")
        if page.evaluate("(sel) => document.activeElement && document.activeElement.matches(sel)", selector):
            return
    raise AssertionError(f"{selector} is not reachable with the keyboard in {max_tabs} tabs")
