"""Issue 18 / R-REM-1: the inbox sorts every waiting step by how long it has waited, so one query sorts them (with
only the joins its filters need) and counts them in the same pass, and a second reads the page's rows with what the
table shows. Every step stays reachable, oldest first, 50 a page; the count is the number of waiting steps."""
from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from approvals.selectors import inbox_for
from approvals.waiting import with_waiting
from tests.support.approvals import branch_created_case, holder, make_branch

pytestmark = pytest.mark.django_db

INBOX = reverse("approvals:inbox")


def _links(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'href="/approvals/(\d+)/"', html)]


def _count(html: str) -> str:
    return re.search(r'id="steps-heading">.*?<span class="count"[^>]*>([^<]+)</span>', html, re.S).group(1)


def test_r_rem_1_fifty_three_waiting_steps_are_two_pages_oldest_first_counted_with_the_page(client):
    b = make_branch()
    cases = [branch_created_case(b, key=f"p{i}") for i in range(53)]
    client.force_login(holder("designated_person", b.branch, actor=b.head))
    with CaptureQueriesContext(connection) as captured:
        first = client.get(INBOX).content.decode()
    assert _links(first) == [c.pk for c in cases[:50]] and _count(first) == "53"
    steps_sql = [q["sql"] for q in captured.captured_queries if 'FROM "approvals_casestep"' in q["sql"]]
    assert any("COUNT(*) OVER ()" in sql for sql in steps_sql)
    assert not any(sql.startswith("SELECT COUNT(*)") for sql in steps_sql)  # no separate count of the steps
    second = client.get(INBOX, {"steps-page": 2}).content.decode()
    assert _links(second) == [c.pk for c in cases[50:]] and _count(second) == "53"
    beyond = client.get(INBOX, {"steps-page": 9}).content.decode()  # past the end: the last page, as every list
    assert _links(beyond) == [c.pk for c in cases[50:]]
    newest_first = client.get(INBOX, {"steps-sort": "-number"}).content.decode()
    assert _links(newest_first)[:3] == [c.pk for c in reversed(cases[-3:])]


def test_an_empty_inbox_says_none(client):
    b = make_branch()
    client.force_login(holder("designated_person", b.branch, actor=b.head))
    html = client.get(INBOX).content.decode()
    assert _links(html) == [] and _count(html) == "0"


def test_the_inbox_probes_its_steps_pending_cases_by_the_pending_case_index():
    """Issue 18: the holder's waiting steps are joined to their pending cases through `case_pending_by_id` (the
    columns the inbox tests and sorts on are in it), not by reading every case. Checked on the plan PostgreSQL would
    choose once the case table is large, as at a branch's scale (sequential scans priced out)."""
    b = make_branch()
    for i in range(3):
        branch_created_case(b, key=f"x{i}")
    holder_user = holder("designated_person", b.branch, actor=b.head)
    qs = with_waiting(inbox_for(holder_user).select_related(None)).order_by("waiting_since", "case_id", "order", "id")
    sql, params = qs.values_list("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "case_pending_by_id" in plan, plan
