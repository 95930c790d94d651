"""Issue 19 in a real browser: the English UI is English all through — a case page, the run ledger, a night's
report and an upload result — although the rows behind them were written while the site spoke Chinese (the night
ran and the feed was uploaded by a Chinese-speaking colleague).

What counts as "not English": any Han character, CJK punctuation or full-width form in what the reader sees (the
text of the page, its title and the `title`, `alt`, `placeholder` and `aria-label` attributes), once two things are
set aside:

- **proper names from the data** — the names of the customers, staff members, organisations and regions the page
  shows are whatever the core system and HQ call them (张三 is 张三 in English too); they are read from the
  database, not guessed from the page;
- **the language switcher**, which names each language in its own tongue (中文) on purpose.
"""
from __future__ import annotations

import re

import pytest
from django.utils import translation

from relationships.models import Customer, Organisation, Region, Staff
from tests.e2e.conftest import ARTIFACTS, login
from tests.support.approvals_e2e import late_case_with_three_holders
from tests.support.factories import HQFactory, RoleFactory
from tests.support.helpers import csv_bytes

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

NOT_ENGLISH = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]+")

# The visible text of the page without the language switcher, and the attributes a reader meets.
_VISIBLE = """() => {
  const body = document.body.cloneNode(true);
  body.querySelectorAll("script, style, form[action$='/i18n/setlang/']").forEach(el => el.remove());
  const attrs = [...document.querySelectorAll('[title], [alt], [placeholder], [aria-label]')]
    .filter(el => !el.closest("form[action$='/i18n/setlang/']"))
    .flatMap(el => ['title', 'alt', 'placeholder', 'aria-label'].map(a => el.getAttribute(a) || ''));
  return [document.title, body.innerText, ...attrs].join('\\n');
}"""


def _proper_names() -> list[str]:
    names = [*Customer.objects.values_list("name", flat=True), *Staff.objects.values_list("name", flat=True),
             *Organisation.objects.values_list("name", flat=True), *Region.objects.values_list("name", flat=True)]
    return sorted({n for n in names if n}, key=len, reverse=True)  # longest first: 张三丰 before 张三


def _not_english(page) -> list[str]:
    text = page.evaluate(_VISIBLE)
    for name in _proper_names():
        text = text.replace(name, " ")
    found = []
    for line in text.splitlines():
        if NOT_ENGLISH.search(line):
            found.append(line.strip()[:120])
    return found


def _read_in_english(page, url: str, shot: str) -> str:
    response = page.goto(url)
    assert response is not None and response.status == 200, (url, response and response.status)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"english-{shot}.png"), full_page=True)
    assert _not_english(page) == [], url
    return page.inner_text("main")


def test_the_english_ui_shows_a_case_the_run_ledger_and_an_upload_result_entirely_in_english(browser, live_server,
                                                                                             tmp_path):
    with translation.override("zh-hans"):  # the night runs, and the case is filed, while the site speaks Chinese
        case, _holders = late_case_with_three_holders()
    hq = RoleFactory(kind="hq", organisation=HQFactory()).user

    # A Chinese-speaking colleague uploads a file with one good line and one refused line.
    feed = tmp_path / "org.csv"
    feed.write_bytes(csv_bytes(["code", "name", "kind", "parent_code", "region"], [
        ["SZ", "Shenzhen branch", "branch", "HQ", "South"], ["XX", "Bad line", "planet", "HQ", ""]]))
    chinese = browser.new_context(locale="zh-CN", base_url=live_server.url)
    try:
        page = chinese.new_page()
        login(page, hq.username)
        page.goto("/reservations/feeds/")
        page.locator("select[name=kind]").select_option("org")
        page.locator("input[name=file]").set_input_files(str(feed))
        page.locator("form[enctype] button[type=submit]").click()
        page.wait_for_url("**/reservations/feeds/uploads/*/")
        page.locator("#upload-progress a[href$='/errors.csv']").wait_for()
        upload_url = page.url
        assert "拒绝" in page.inner_text("#upload-progress")  # she read it in Chinese
    finally:
        chinese.close()

    english = browser.new_context(locale="en-US", base_url=live_server.url)
    try:
        page = english.new_page()
        login(page, hq.username)
        case_text = _read_in_english(page, f"/approvals/{case.pk}/", "case")
        assert "Late reservation" in case_text or "late" in case_text.lower()
        ledger = _read_in_english(page, "/reservations/runs/", "run-ledger")
        assert "2026-09-30" in ledger
        _read_in_english(page, "/reservations/runs/2026-09-30/", "night-report")
        page.goto(upload_url)
        page.locator("#upload-progress a[href$='/errors.csv']").wait_for()
        result = _read_in_english(page, upload_url, "upload-result")
        assert "planet" in result and "refused" in result.lower()
    finally:
        english.close()
