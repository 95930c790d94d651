"""Issue 18, list pages: counts and pages driven by indexes. A staff member's customer list is the set of ids of
his scope (R-PERM-4), joined to the customers by primary key, never a test of every customer; the case list's
scope tests only the case's own columns and id lists hashed once. The rows are those of the scoping rule, and the
query count does not grow with them."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.db.models import QuerySet
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from permissions.scoping import visible_history_customers
from relationships.models import PreAssignment
from tests.integration.approvals.test_views_case_list import _case
from tests.integration.relationships.test_views_customers import _class, _customer, _links, _relationship
from tests.support.approvals import make_branch
from tests.support.factories import StaffFactory, make_id_number
from tests.support.helpers import queries_for, reserve

pytestmark = pytest.mark.django_db

CUSTOMERS = reverse("relationships:customers")
CASES = reverse("approvals:cases")


def _customers_queries(client, params=None) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(CUSTOMERS, params or {}).status_code == 200
    return [q["sql"] for q in captured.captured_queries if 'FROM "relationships_customer"' in q["sql"]]


def test_r_perm_4_a_staff_members_customer_list_is_the_id_set_of_his_scope(staff_client, staff):
    """His relationships, his pre-assignment and his confirmed reservation open a customer; a colleague's do
    not. The count and the page read that id set (a UNION ALL of index scans), not every customer."""
    colleague = StaffFactory(outlet=staff.outlet)
    held = [_customer(name=f"持有{i}") for i in range(3)]
    for customer in held:
        _relationship(customer, staff)
    others = _customer(name="别人")
    _relationship(others, colleague)
    assigned = _customer(name="预分配")
    PreAssignment.objects.create(customer=assigned, classification=_class(assigned, staff.outlet), staff=staff,
                                 branch=staff.outlet.branch, assigned_at=timezone.now())
    confirmed_id = make_id_number(seq=777)
    confirmed = _customer(name="王确认", id_number=confirmed_id)
    reserve(staff, id_number=confirmed_id, name="王确认", when=timezone.now() - dt.timedelta(days=1))
    unconfirmed_id = make_id_number(seq=778)
    _customer(name="李真名", id_number=unconfirmed_id)
    reserve(staff, id_number=unconfirmed_id, name="假名字", when=timezone.now() - dt.timedelta(days=1))

    expected = {c.pk for c in [*held, assigned, confirmed]}
    assert set(visible_history_customers(staff.user).values_list("pk", flat=True)) == expected
    html = staff_client.get(CUSTOMERS).content.decode()
    assert {int(pk) for pk in _links(html)} == expected
    sqls = _customers_queries(staff_client)
    count = [sql for sql in sqls if "COUNT(" in sql.upper()]
    page = [sql for sql in sqls if '"relationships_customer"."created_at" DESC' in sql and "COUNT(" not in sql]
    assert count and page
    assert all(" UNION " in sql and "LIMIT 10001" in sql for sql in count)  # the ids each once, no customer read
    assert all("UNION ALL" in sql and "EXISTS" not in sql.split(" IN ", 1)[0] for sql in page)


def test_a_staff_members_customer_list_costs_the_same_queries_for_3_or_30_customers(staff_client, staff):
    for _ in range(3):
        _relationship(_customer(), staff)
    queries_for(staff_client, CUSTOMERS)  # the process's type choices are read once a minute, not per page
    few = queries_for(staff_client, CUSTOMERS)
    for _ in range(27):
        _relationship(_customer(), staff)
    assert queries_for(staff_client, CUSTOMERS) == few
    assert len(_links(staff_client.get(CUSTOMERS).content.decode())) == 30


def _clones(client, url, monkeypatch) -> int:
    """How many querysets a page's request clones (a filter, a slice, a prefetch's per-row manager)."""
    made = []
    original = QuerySet._clone

    def counted(self):
        made.append(1)
        return original(self)

    monkeypatch.setattr(QuerySet, "_clone", counted)
    try:
        assert client.get(url).status_code == 200
    finally:
        monkeypatch.setattr(QuerySet, "_clone", original)
    return len(made)


def test_a_list_page_clones_no_queryset_per_row_for_its_holders(staff_client, staff, monkeypatch):
    """Issue 18: the relationship and customer lists read each row's holders from a prefetched list, not through
    the `shares` manager (whose prefetch clones and filters a queryset for every row: 50 a page)."""
    relationships = reverse("relationships:list")
    for _ in range(3):
        _relationship(_customer(), staff)
    for url in (CUSTOMERS, relationships):
        _clones(staff_client, url, monkeypatch)  # the process's type choices are read once a minute
    few = {url: _clones(staff_client, url, monkeypatch) for url in (CUSTOMERS, relationships)}
    for _ in range(27):
        _relationship(_customer(), staff)
    assert {url: _clones(staff_client, url, monkeypatch) for url in (CUSTOMERS, relationships)} == few
    assert len(_links(staff_client.get(CUSTOMERS).content.decode())) == 30


def test_r_perm_4_a_customer_outside_the_staff_scope_answers_404(staff_client, staff):
    mine, theirs = _customer(name="我的"), _customer(name="他的")
    _relationship(mine, staff)
    _relationship(theirs, StaffFactory())
    assert staff_client.get(reverse("work:customer", args=[mine.pk])).status_code == 200
    assert staff_client.get(reverse("work:customer", args=[theirs.pk])).status_code == 404


def test_the_case_list_count_reads_only_the_cases_and_hashed_id_lists(client):
    """The applicant is tested through his staff ids (hashed once), not a join per case."""
    b = make_branch()
    for i in range(3):
        _case(b, name=f"王{i}", id_number=make_id_number(seq=600 + i))
    client.force_login(b.head)
    with CaptureQueriesContext(connection) as captured:
        html = client.get(CASES).content.decode()
    counts = [q["sql"] for q in captured.captured_queries
              if "COUNT(" in q["sql"].upper() and "approvals_approvalcase" in q["sql"]]
    assert counts and all("JOIN" not in sql.upper() and "LIMIT 10001" in sql for sql in counts)
    assert len(re.findall(r">#\d+</a>", html)) == 3


def test_a_branchs_unfiltered_customer_list_counts_the_id_set_of_its_scope_not_every_customer(client):
    """Issue 18: a branch's customers are counted as the ids of its relationships, pre-assignments, classes and
    confirmed reservations (a UNION of index scans, capped), not by testing customer after customer; the pages
    still walk the newest-first index. The count is the rows of R-PERM-4, and a filtered list counts its rows."""
    b = make_branch()
    mine = [_customer(name=f"分公司{i}") for i in range(3)]
    for customer in mine:
        _relationship(customer, b.staff)
    _relationship(mine[0], b.colleague, type_code="MAINTENANCE")  # two relationships, one customer
    _relationship(_customer(name="别处"), StaffFactory())
    client.force_login(b.head)
    for params in ({}, {"page": "1", "sort": "name"}):
        with CaptureQueriesContext(connection) as captured:
            response = client.get(CUSTOMERS, params)
        assert response.context["page_obj"].paginator.count == 3
        assert {int(pk) for pk in _links(response.content.decode())} == {c.pk for c in mine}
        counts = [q["sql"] for q in captured.captured_queries if "COUNT(" in q["sql"].upper()]
        assert counts and all(" UNION " in sql and "LIMIT 10001" in sql for sql in counts)
        assert not any('"relationships_customer"."id")) LIMIT 1' in sql for sql in counts)  # no per-customer test
    filtered = client.get(CUSTOMERS, {"name": "分公司1"})
    assert filtered.context["page_obj"].paginator.count == 1
    assert client.get(CUSTOMERS, {"id_number": "not a number"}).context["page_obj"].paginator.count == 0
