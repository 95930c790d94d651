"""Issue 19: every page and export, as every demo role, in both languages, in the reader's words.

The demo data set (`manage.py load_demo`) is loaded once for the module, inside one transaction that is rolled
back at the end (the tests themselves run in savepoints inside it). For each demo login of the README a client
signs in (force_login), and for zh-hans and en (the language cookie and Accept-Language) walks the site from the
home page: GET only, same-site links, never sign-out, the language switch or the static files; at most
`PER_NAME` URLs per resolved URL name and set of query parameters (a list's filters and pages are one pattern),
the export links (?_export=csv / xlsx: the CSV's text, the workbook's cells) and, for the roles that may use it,
the admin site.

What is read is what a person reads: the text of the page without <script>/<style>, the attributes title, alt,
placeholder and aria-label, the value of buttons, <option> text; every cell of an export. What is found:

(a) a rule ID (`R-[A-Z]+-\\d+`): rule IDs are for the spec and the code, not for readers;
(b) an internal code: a snake_case token (`[a-z]+_[a-z_]+`), or a text that is exactly one of the known codes
    (KNOWN_CODES: a post, a step decision, a classification count, a feed kind, a status) — whole text only,
    and on Chinese pages only: on an English page "active" or "approve" alone is also the English label of
    that code, so there only a snake_case token tells a code from a word;
(c) on a Chinese page, an English word of three letters or more, except ALLOWED_LATIN — format, protocol and product
    names a Chinese reader knows by their Latin names (CSV, Excel), and the unit-free abbreviations the
    Chinese text uses on purpose (ID, IB, TOTP: the authenticator standard);
(d) on an English page, a CJK character.

Demo data are not words of the site: the names of people, customers, organisations and regions, the user
names of the demo, a type's English name, the reasons people typed (a register entry's reason, a withdrawal's
note) and file names (DemoNames) are removed from the text before (b), (c) and (d) are looked for. Text in
<code> is literal file format (the feed columns a file must carry, as README's feed tables) and the feed
sample files are that format, so neither is read. That is the
principle — data someone typed is shown as they typed it, in whichever script; the site's own words are
in the reader's language — and it is why no CJK is allowed merely for sitting in a table cell: a type name,
a chain name or a notification stored in Chinese is the site's word and must be shown in the reader's
language (approvals.templatetags.chain_words). Text marked with another `lang` attribute (the language
switcher's options name each language in itself) is not the page's language and is skipped.

Every finding is reported as (role, language, url, snippet); the test fails if there is any.
"""
from __future__ import annotations

import csv
import io
import re
from collections import defaultdict, deque
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from django.urls import Resolver404, resolve
from openpyxl import load_workbook

from permissions.models import PermissionRegisterEntry
from relationships.models import Customer, Organisation, Region, RelationshipType, Staff
from reservations.models import Reservation
from tests.support.words import Text

# In the default run; `./dev test -m words_walk` runs it alone and prints every finding.
pytestmark = [pytest.mark.django_db, pytest.mark.words_walk]

# The demo logins of README "Demo logins" (one of each kind; `E10001` front staff, `J20001` a broker).
ROLES = ["admin", "hq", "padmin_SH", "branch_SH", "head_SH", "outlet_SH01", "E10001", "J20001"]
LANGS = ["zh-hans", "en"]
PER_NAME = 2
MAX_PAGES = 120  # per role and language: enough for every page kind twice
SKIP_PREFIXES = ("/reservations/feeds/samples/", "/accounts/logout/", "/i18n/", "/static/", "/media/", "/healthz/",
                 "/admin/logout/", "/admin/jsi18n/", "/accounts/second-factor/")
# Admin pages that change something on GET or only repeat another page (the password form, the history).
SKIP_NAME_PARTS = ("password_change", "_delete", "_history", "autocomplete", "view_on_site")

FILE_NAME = re.compile(r"[\w.-]+\.(?:csv|xlsx)\b")  # a file's name is data (the feed files, the export files)
RULE_ID = re.compile(r"R-[A-Z]+-\d+")
SNAKE = re.compile(r"(?<![A-Za-z0-9_])[a-z]+_[a-z_]*[a-z](?![A-Za-z0-9_])")
LATIN_WORD = re.compile(r"(?<![A-Za-z0-9_])[A-Za-z]{3,}(?![A-Za-z0-9_])")
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]")
KNOWN_CODES = {
    "account_opening_review", "outlet_review", "final_approval", "designated_person", "outlet_head",
    "approve", "reject", "return", "new_lost", "silent_judged", "ended_dormant", "reservation", "manual",
    "account_events", "metrics", "org", "staff", "reservations", "calendar", "core_list", "late", "active",
    "expired", "withdrawn", "refused", "matched", "pending", "succeeded", "failed", "broker", "advisor",
    "other_front", "securities", "futures", "consulting", "hq", "branch", "outlet",
}
# (c): the Latin words a Chinese page may carry — formats and standards known by their Latin names (LDAP: the
# directory protocol, named so in Django's own Chinese help text of the user form).
ALLOWED_LATIN = {"CSV", "Excel", "xlsx", "csv", "TOTP", "IB", "ID", "PDF", "URL", "LDAP"}


class DemoNames:
    """Data, not words: the demo's proper names and user names, longest first, removed before (c) and (d)."""

    def __init__(self):
        names = set(Customer.objects.values_list("name", flat=True))
        names |= set(Staff.objects.values_list("name", flat=True))
        names |= set(Organisation.objects.values_list("name", flat=True))
        names |= set(Region.objects.values_list("name", flat=True))
        names |= set(RelationshipType.objects.values_list("name_en", flat=True))  # the row's English name
        # Reasons are typed by people (the demo types them too): free text, shown as typed.
        names |= set(PermissionRegisterEntry.objects.values_list("reason", flat=True))
        names |= set(Reservation.objects.filter(status="withdrawn").values_list("status_note", flat=True))
        names |= set(Reservation.objects.values_list("customer_name", flat=True))
        for username, first, last in get_user_model().objects.values_list("username", "first_name", "last_name"):
            names |= {username, first, last}
        names = sorted((n for n in names if n and len(n) > 1), key=len, reverse=True)
        self.pattern = re.compile("|".join(re.escape(n) for n in names))

    def strip(self, text: str) -> str:
        return FILE_NAME.sub(" ", self.pattern.sub(" ", text))


def findings_in(parts: list[str], *, lang: str, names: DemoNames) -> list[str]:
    found = []
    for part in parts:
        if RULE_ID.search(part):
            found.append(f"rule ID: {part[:120]}")
        plain = names.strip(part)
        if lang == "zh-hans" and plain.strip() in KNOWN_CODES:
            found.append(f"code: {plain.strip()}")
        for token in SNAKE.findall(plain):
            found.append(f"code: {token} in {part[:120]}")
        if lang == "zh-hans":
            words = [w for w in LATIN_WORD.findall(plain) if w not in ALLOWED_LATIN]
            if words:
                found.append(f"English {words[:5]}: {part[:120]}")
        elif CJK.search(plain):
            found.append(f"CJK: {part[:120]}")
    return found


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def export_parts(response) -> list[str]:
    kind, content = response.get("Content-Type", ""), body(response)
    if "csv" in kind:
        text = content.decode("utf-8-sig")
        return [cell for row in csv.reader(io.StringIO(text)) for cell in row if cell.strip()]
    book = load_workbook(io.BytesIO(content), read_only=True)
    parts = [sheet.title for sheet in book.worksheets]
    for sheet in book.worksheets:
        for row in sheet.iter_rows(values_only=True):
            parts.extend(str(v) for v in row if isinstance(v, str) and v.strip())
    return parts


def pattern_of(path: str, query: str) -> str | None:
    try:
        match = resolve(path)
    except Resolver404:
        return None
    name = match.view_name or match.func.__module__ + "." + getattr(match.func, "__name__", "")
    if any(part in name for part in SKIP_NAME_PARTS):
        return None
    return name + "?" + ",".join(sorted({k for k, _v in parse_qsl(query, keep_blank_values=True)}))


def walk(client: Client, *, start: list[str], lang: str, names: DemoNames) -> tuple[list[tuple[str, str]], int]:
    seen_urls, per_pattern = set(start), defaultdict(int)
    queue, findings, pages = deque(start), [], 0
    while queue and pages < MAX_PAGES:
        url = queue.popleft()
        response = client.get(url, HTTP_ACCEPT_LANGUAGE=lang)
        pages += 1
        if response.status_code in (301, 302):
            target = response["Location"]
            if target.startswith("/") and target not in seen_urls:
                seen_urls.add(target)
                queue.appendleft(target)
            continue
        if response.status_code != 200:
            findings.append((url, f"status {response.status_code}"))
            continue
        kind = response.get("Content-Type", "")
        if "html" not in kind:
            if "csv" in kind or "spreadsheet" in kind:
                findings.extend((url, f) for f in findings_in(export_parts(response), lang=lang, names=names))
            continue
        parser = Text(lang)
        parser.feed(body(response).decode())
        findings.extend((url, f) for f in findings_in(parser.parts, lang=lang, names=names))
        for href in parser.links:
            parts = urlsplit(href)
            if parts.scheme or parts.netloc or href.startswith("#"):
                continue
            path = parts.path or urlsplit(url).path
            if not path.startswith("/") or path.startswith(SKIP_PREFIXES):
                continue
            target = path + ("?" + parts.query if parts.query else "")
            if target in seen_urls:
                continue
            seen_urls.add(target)
            key = pattern_of(path, parts.query)
            if key is None or per_pattern[key] >= PER_NAME:
                continue
            per_pattern[key] += 1
            queue.append(target)
    return findings, pages


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """The demo data set, once for the module, rolled back after it."""
    with django_db_blocker.unblock():
        with transaction.atomic():
            call_command("load_demo", "--demo-site", stdout=io.StringIO(), stderr=io.StringIO())
            yield DemoNames()
            transaction.set_rollback(True)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("role", ROLES)
def test_issue_19_every_page_and_export_is_in_the_readers_words_for_every_demo_role(demo, client, role, lang):
    user = get_user_model().objects.get(username=role)
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = lang
    findings, pages = walk(client, start=["/", "/admin/"] if user.is_staff else ["/"], lang=lang, names=demo)
    assert pages > 1, f"{role} reached no page beyond the home page"
    assert not findings, f"{len(findings)} findings on {pages} pages:\n{report(role, lang, findings)}"


def report(role: str, lang: str, findings: list[tuple[str, str]]) -> str:
    """One line per distinct snippet: (role, lang, the first url, snippet) and on how many pages it was seen."""
    first, count = {}, defaultdict(int)
    for url, snippet in findings:
        first.setdefault(snippet, url)
        count[snippet] += 1
    return "\n".join(f"({role}, {lang}, {first[s]}, {s}) ×{count[s]}" for s in sorted(first, key=lambda s: -count[s]))
