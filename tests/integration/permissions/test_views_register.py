"""R-PERM-3 / R-PERM-4: the permission register page as a django-tables2 + django-filter list.

Entries are written by the services (branch admin assignment, attach permission), each with a distinct reason,
so the tests recognise rows by that reason (data, not UI text: the UI language is zh-hans by default).
"""
from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from permissions import services
from permissions.models import PermissionRegisterEntry, Role, RoleKind
from tests.support.factories import BranchFactory, HQFactory, OutletFactory, StaffFactory, UserFactory
from tests.support.helpers import queries_for

pytestmark = pytest.mark.django_db

PAGE = reverse("permissions:register")
FULL_CSV = reverse("permissions:register_csv")
FULL_XLSX = reverse("permissions:register_xlsx")

B1 = ["reason-b1-admin", "reason-b1-close", "reason-b1-open"]  # oldest first
B2 = ["reason-b2-admin", "reason-b2-close"]


@pytest.fixture
def org():
    """Two branches, each with its permission admin and one staff member whose attach permission changed."""
    hq = HQFactory()
    b1, b2 = BranchFactory(parent=hq), BranchFactory(parent=hq)
    hq_user = UserFactory(username="hq-office", is_staff=True)
    Role.objects.create(user=hq_user, kind=RoleKind.HQ, organisation=hq)
    admin1, admin2 = UserFactory(username="admin-b1"), UserFactory(username="admin-b2")
    services.branch_admin_assign(actor=hq_user, user=admin1, branch=b1, reason="reason-b1-admin")
    services.branch_admin_assign(actor=hq_user, user=admin2, branch=b2, reason="reason-b2-admin")
    s1 = StaffFactory(outlet=OutletFactory(parent=b1))
    s2 = StaffFactory(outlet=OutletFactory(parent=b2))
    services.attach_close(actor=admin1, staff=s1, reason="reason-b1-close")
    services.attach_open(actor=admin1, staff=s1, reason="reason-b1-open")
    services.attach_close(actor=admin2, staff=s2, reason="reason-b2-close")
    return dict(b1=b1, b2=b2, hq_user=hq_user, admin1=admin1, admin2=admin2, s1=s1, s2=s2)


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _text(response) -> str:
    """Page, CSV (streamed, with or without BOM) or workbook, as one string to search for reasons."""
    body = response.getvalue()
    if response["Content-Type"].startswith("application/vnd.openxmlformats"):
        sheet = load_workbook(io.BytesIO(body)).active
        rows = sheet.iter_rows(values_only=True)
        return "\n".join("\t".join("" if v is None else str(v) for v in row) for row in rows)
    return body.decode("utf-8-sig")


def _reasons(text: str, candidates=B1 + B2) -> list[str]:
    """The known reasons found in `text`, in the order they appear."""
    found = [(text.index(r), r) for r in candidates if r in text]
    return [r for _, r in sorted(found)]


def _csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.getvalue().decode("utf-8-sig"))))


EXPORTS = [(PAGE, {"_export": "csv"}), (PAGE, {"_export": "xlsx"}), (FULL_CSV, {}), (FULL_XLSX, {})]


# --- R-PERM-4: scope ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("url,params", [(PAGE, {})] + EXPORTS)
def test_r_perm_4_another_branchs_admin_sees_none_of_this_branchs_register(org, url, params):
    """The admin of branch 2 reads branch 2's entries only: not on the page, not in any export."""
    response = _client(org["admin2"]).get(url, params)
    assert response.status_code == 200
    assert set(_reasons(_text(response))) == set(B2)


@pytest.mark.parametrize("url,params", [(PAGE, {})] + EXPORTS)
def test_r_perm_4_a_forged_branch_filter_does_not_reach_another_branch(org, url, params):
    """A branch outside the user's scope is no valid choice; the rows stay those of his own scope."""
    response = _client(org["admin2"]).get(url, {**params, "branch": org["b1"].pk})
    assert set(_reasons(_text(response))) == set(B2)


def test_r_perm_4_the_branch_choices_are_the_branches_the_user_sees(org):
    admin_form = _client(org["admin2"]).get(PAGE).context["filters"].form
    assert list(admin_form.fields["branch"].queryset) == [org["b2"]]
    hq_form = _client(org["hq_user"]).get(PAGE).context["filters"].form
    assert set(hq_form.fields["branch"].queryset) == {org["b1"], org["b2"]}


def test_r_perm_3_hq_sees_the_whole_register(org):
    assert set(_reasons(_text(_client(org["hq_user"]).get(PAGE)))) == set(B1 + B2)


# --- R-PERM-3: filters, sorting ---------------------------------------------------------------------------

@pytest.mark.parametrize("params,expected", [
    ({"event": "attach_opened"}, ["reason-b1-open"]),
    ({"event": "branch_admin_assigned"}, ["reason-b1-admin", "reason-b2-admin"]),
    ({"branch": "b2"}, B2),
    ({"who": "s1"}, ["reason-b1-close", "reason-b1-open"]),
    ({"date_from": "today", "date_to": "today"}, B1 + B2),
    ({"date_from": "tomorrow"}, []),
    ({"date_to": "yesterday"}, []),
])
def test_r_perm_3_register_filters_narrow_the_page_and_every_export(org, params, expected):
    today = timezone.localdate()
    days = {"today": today, "tomorrow": today + dt.timedelta(days=1), "yesterday": today - dt.timedelta(days=1)}
    values = {"branch": lambda v: org[v].pk, "who": lambda v: org[v].staff_no,
              "date_from": lambda v: days[v].isoformat(), "date_to": lambda v: days[v].isoformat()}
    query = {k: values.get(k, lambda v: v)(v) for k, v in params.items()}
    client = _client(org["hq_user"])
    for url, extra in [(PAGE, {})] + EXPORTS:
        assert sorted(_reasons(_text(client.get(url, {**query, **extra})))) == sorted(expected), (url, extra)


@pytest.mark.parametrize("sort,expected", [
    (None, B1[::-1]),  # newest first by default
    ("at", B1),
    ("-at", B1[::-1]),
    ("event", ["reason-b1-close", "reason-b1-open", "reason-b1-admin"]),  # attach_closed < attach_opened < branch_…
])
def test_r_perm_3_register_sort_param_orders_the_page_and_its_table_export(org, sort, expected):
    client = _client(org["admin1"])
    params = {"sort": sort} if sort else {}
    assert _reasons(_text(client.get(PAGE, params))) == expected
    assert _reasons(_text(client.get(PAGE, {**params, "_export": "csv"}))) == expected


def test_r_perm_3_register_only_time_and_event_sort(org):
    table = _client(org["admin1"]).get(PAGE).context["table"]
    assert {c.name for c in table.columns if c.orderable} == {"at", "event"}


# --- R-PERM-3: exports --------------------------------------------------------------------------------------

def test_r_perm_3_table_export_has_the_pages_columns_and_only_the_filtered_scoped_rows(org):
    response = _client(org["admin1"]).get(PAGE, {"event": "attach_closed", "_export": "csv"})
    assert response.streaming and response["Content-Type"].startswith("text/csv")
    rows = _csv_rows(response)
    table = _client(org["admin1"]).get(PAGE).context["table"]
    assert rows[0] == [str(c.header) for c in table.columns]
    assert len(rows) == 2 and "reason-b1-close" in rows[1]
    assert rows[1][2] == org["b1"].name and rows[1][0].startswith(timezone.localdate().isoformat())


def test_r_perm_3_full_register_exports_apply_the_same_filter_and_scope(org):
    client = _client(org["admin1"])
    rows = _csv_rows(client.get(FULL_CSV, {"event": "attach_closed"}))
    entry = PermissionRegisterEntry.objects.get(reason="reason-b1-close")
    assert [int(r[0]) for r in rows[1:]] == [entry.pk]  # the entry's number, then time, event, branch company
    assert rows[1][3] == org["b1"].name
    sheet = load_workbook(io.BytesIO(client.get(FULL_XLSX, {"who": org["s1"].staff_no}).getvalue())).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][0] == "序号"  # for people: headers in the reader's language (issue 19)
    assert [v[0] for v in values[1:]] == list(PermissionRegisterEntry.objects.filter(
        reason__in=["reason-b1-close", "reason-b1-open"]).order_by("at", "id").values_list("id", flat=True))


def test_r_perm_3_the_page_links_both_exports_with_the_current_filter(org):
    html = _client(org["admin1"]).get(PAGE, {"event": "attach_opened", "page": "1"}).content.decode()
    assert f'href="{FULL_CSV}?event=attach_opened"' in html
    assert f'href="{FULL_XLSX}?event=attach_opened"' in html
    assert 'href="?event=attach_opened&amp;_export=csv"' in html
    assert 'href="?event=attach_opened&amp;_export=xlsx"' in html


# --- R-PERM-3: query counts ---------------------------------------------------------------------------------

@pytest.mark.parametrize("url,params", [(PAGE, {})] + EXPORTS)
def test_r_perm_3_register_page_and_export_query_counts_constant(org, url, params, django_assert_max_num_queries):
    """The page and its exports cost the same number of queries for 3 entries as for 30 (no query per row)."""
    client = _client(org["admin1"])
    allowed = queries_for(client, url, params)
    s1 = org["s1"]
    for n in range(27):
        (services.attach_close if n % 2 == 0 else services.attach_open)(actor=org["admin1"], staff=s1,
                                                                        reason=f"toggle {n}")
    assert client.get(PAGE).context["page_obj"].paginator.count == 30
    with django_assert_max_num_queries(allowed):
        client.get(url, params).getvalue()
