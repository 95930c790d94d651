"""The "All cases" list (/approvals/cases/) and the inbox as django-tables2 tables: scoping (R-PERM-4), masked
IDs only (R-PII-1), filters, sorting, CSV/Excel export, paging of the inbox (R-APR-6 for the HQ table) and
query counts that do not grow with the rows."""
from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation
from django_fsm import ConcurrentTransition
from openpyxl import load_workbook

from approvals.models import ApprovalCase, CaseReason, CaseStatus
from approvals.services import case_open
from approvals.tables import CaseTable
from relationships.models import RelationshipType
from relationships.services import customer_get_or_create
from tests.support.approvals import branch_created_case, holder, hq_admin, make_branch
from tests.support.factories import StaffFactory, make_id_number
from tests.support.helpers import ID18, queries_for

pytestmark = pytest.mark.django_db

CASES = reverse("approvals:cases")
INBOX = reverse("approvals:inbox")
FORMATS = ["csv", "xlsx"]


@pytest.fixture
def b():
    return make_branch()


@pytest.fixture
def head_client(client, b):
    """The branch head: every case of his branch is in scope (R-PERM-4)."""
    client.force_login(b.head)
    return client


def _case(b, *, name: str = "王五", id_number: str | None = None, key: str | None = None) -> ApprovalCase:
    """A branch-created case (R-BR-1) for a customer whose full ID number the test knows."""
    customer = customer_get_or_create(id_number=id_number or make_id_number(), name=name)
    return case_open(actor=b.head, reason=CaseReason.BRANCH_CREATED,
                     rel_type=RelationshipType.objects.get(code="EXISTING_DEV"), customer=customer,
                     proposed_shares=[{"staff_id": b.staff.pk, "ratio": "1.0000"}],
                     dedupe_key=key or f"list:{customer.pk}", branch=b.branch, applicant=b.staff)


def _set(case: ApprovalCase, **fields) -> None:
    """Status is a protected FSM field: tests place a case in a state with a plain UPDATE."""
    ApprovalCase.objects.filter(pk=case.pk).update(**fields)


def _at(text: str) -> dt.datetime:
    return timezone.make_aware(dt.datetime.fromisoformat(text))


def _links(html: str) -> list[str]:
    """Case numbers linked from the page, in order (each row links its case once)."""
    return re.findall(r'href="/approvals/(\d+)/"', html)


def _export_rows(body: bytes, fmt: str) -> list[list[str]]:
    """The cells of an export (`body` is `response.getvalue()`: a streamed response is read once)."""
    if fmt == "csv":
        return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    sheet = load_workbook(io.BytesIO(body)).active
    return [["" if c is None else str(c) for c in row] for row in sheet.iter_rows(values_only=True)]


def _export_text(body: bytes, fmt: str) -> str:
    return "\n".join(" ".join(row) for row in _export_rows(body, fmt))


# --- scoping and masking ------------------------------------------------------------------------------------

def test_r_perm_4_case_list_shows_only_cases_in_scope(client, b):
    """R-PERM-4: the branch head sees his branch's case; a branch head and a staff member of another branch
    see neither the row nor its customer."""
    case = _case(b, name="王五")
    client.force_login(b.head)
    html = client.get(CASES).content.decode()
    assert _links(html) == [str(case.pk)] and "王五" in html
    other = make_branch()
    for user in (other.head, other.staff.user, StaffFactory().user):
        client.force_login(user)
        response = client.get(CASES)
        assert response.status_code == 200
        html = response.content.decode()
        assert _links(html) == [] and "王五" not in html


def test_r_perm_4_applicant_sees_his_own_case(client, b):
    """R-PERM-4: the applicant sees the case he applied for, not a colleague's."""
    own = _case(b)
    client.force_login(b.staff.user)
    assert _links(client.get(CASES).content.decode()) == [str(own.pk)]
    client.force_login(b.colleague.user)
    assert _links(client.get(CASES).content.decode()) == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_r_perm_4_export_of_another_branch_contains_none_of_its_cases(client, b, fmt):
    """R-PERM-4: the export is the scoped list, never more."""
    _case(b, name="王五")
    other = make_branch()
    for user in (other.head, other.staff.user):
        client.force_login(user)
        response = client.get(CASES, {"_export": fmt})
        assert response.status_code == 200
        body = response.getvalue()
        assert "王五" not in _export_text(body, fmt)
        assert len(_export_rows(body, fmt)) == 1  # the header only


def test_r_pii_1_case_list_shows_the_masked_id_only(head_client, b):
    """R-PII-1: the page shows `customer.id_masked`, never the full number."""
    idn = make_id_number(seq=777)
    case = _case(b, id_number=idn)
    html = head_client.get(CASES).content.decode()
    assert case.customer.id_masked in html
    assert idn not in html and not ID18.search(html)


@pytest.mark.parametrize("fmt", FORMATS)
def test_r_pii_1_export_has_the_filtered_rows_with_masked_ids_only(head_client, b, fmt):
    """R-PII-1, R-PERM-4: the export holds exactly the filtered rows, with the masked ID and never the full one."""
    idn = make_id_number(seq=778)
    approved = _case(b, name="王五", id_number=idn)
    _set(approved, status=CaseStatus.APPROVED)
    _case(b, name="赵六")
    response = head_client.get(CASES, {"_export": fmt, "status": CaseStatus.APPROVED},
                               HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    body = response.getvalue()
    text = _export_text(body, fmt)
    assert "王五" in text and "赵六" not in text
    assert approved.customer.id_masked in text
    assert idn not in text and not ID18.search(text)
    rows = _export_rows(body, fmt)
    with translation.override("en"):
        header = [str(c.verbose_name) for c in CaseTable.base_columns.values()]
        id_column = rows[0].index(str(CaseTable.base_columns["id_masked"].verbose_name))
    assert sorted(rows[0]) == sorted(header)
    assert len(rows) == 2 and rows[1][id_column] == approved.customer.id_masked


# --- filters and sorting ----------------------------------------------------------------------------------------

def test_filters_narrow_by_status_reason_and_opened_range(head_client, b):
    early = _case(b, name="王五")
    late = _case(b, name="赵六")
    _set(early, created_at=_at("2026-01-05 12:00"), reason=CaseReason.LATE)
    _set(late, created_at=_at("2026-04-05 12:00"), status=CaseStatus.REJECTED)

    def shown(**params) -> list[str]:
        return _links(head_client.get(CASES, params).content.decode())
    assert shown(status=CaseStatus.REJECTED) == [str(late.pk)]
    assert shown(status=CaseStatus.PENDING) == [str(early.pk)]
    assert shown(reason=CaseReason.LATE) == [str(early.pk)]
    assert shown(reason=CaseReason.BRANCH_CREATED) == [str(late.pk)]
    assert shown(opened_after="2026-03-01") == [str(late.pk)]
    assert shown(opened_before="2026-03-01") == [str(early.pk)]
    # "on or before" includes the whole day; "on or after" the whole first day
    assert shown(opened_before="2026-01-05") == [str(early.pk)]
    assert shown(opened_after="2026-04-05") == [str(late.pk)]
    assert shown(opened_after="2026-01-01", opened_before="2026-12-31") == [str(late.pk), str(early.pk)]
    assert shown(customer_name="赵") == [str(late.pk)]
    assert shown(type="EXISTING_DEV", status=CaseStatus.APPROVED) == []
    assert head_client.get(CASES, {"status": "bogus", "opened_after": "x"}).status_code == 200


def test_r_perm_4_branch_filter_offers_only_visible_branches(client, b):
    """R-PERM-4: the branch filter lists the user's branches only; naming another branch shows nothing more."""
    mine = _case(b)
    other = make_branch()
    theirs = _case(other)
    client.force_login(b.head)
    html = client.get(CASES).content.decode()
    assert f'value="{b.branch.pk}"' in html and f'value="{other.branch.pk}"' not in html
    assert _links(client.get(CASES, {"branch": b.branch.pk}).content.decode()) == [str(mine.pk)]
    assert str(theirs.pk) not in _links(client.get(CASES, {"branch": other.branch.pk}).content.decode())
    admin, _hq = hq_admin()
    client.force_login(admin)
    assert _links(client.get(CASES, {"branch": other.branch.pk}).content.decode()) == [str(theirs.pk)]


def test_sort_param_orders_rows_newest_first_by_default(head_client, b):
    cases = [_case(b) for _ in range(3)]
    _set(cases[0], created_at=_at("2026-02-01 09:00"), status=CaseStatus.REJECTED)
    _set(cases[1], created_at=_at("2026-03-01 09:00"), status=CaseStatus.APPROVED)
    _set(cases[2], created_at=_at("2026-01-01 09:00"))
    a, b_, c = (str(case.pk) for case in cases)

    def shown(**params) -> list[str]:
        return _links(head_client.get(CASES, params).content.decode())
    assert shown() == [b_, a, c]
    assert shown(sort="opened") == [c, a, b_]
    assert shown(sort="-opened") == [b_, a, c]
    assert shown(sort="number") == sorted([a, b_, c], key=int)
    assert shown(sort="-number") == sorted([a, b_, c], key=int, reverse=True)
    assert shown(sort="status") == [b_, c, a]  # approved, pending, rejected


def test_case_list_paginates_50_a_page(head_client, b):
    cases = [_case(b) for _ in range(51)]
    first = _links(head_client.get(CASES).content.decode())
    second = _links(head_client.get(CASES, {"page": 2}).content.decode())
    assert len(first) == 50 and len(second) == 1
    assert set(first) | set(second) == {str(c.pk) for c in cases}


@pytest.mark.parametrize("params", [{}, {"_export": "csv"}, {"_export": "xlsx"}])
def test_case_list_and_export_query_counts_constant(head_client, b, django_assert_max_num_queries, params):
    """No query per row: 3 and 30 cases cost the same, for the page and for each export."""
    for _ in range(3):
        _case(b)
    few = queries_for(head_client, CASES, params)
    for _ in range(27):
        _case(b)
    with django_assert_max_num_queries(few):
        head_client.get(CASES, params).getvalue()
    body = head_client.get(CASES, params).getvalue()
    if params:
        assert len(_export_rows(body, params["_export"])) == 31
    else:
        assert len(_links(body.decode())) == 30


# --- the inbox ------------------------------------------------------------------------------------------------

def test_inbox_links_to_all_cases(client, b):
    client.force_login(holder("designated_person", b.branch, actor=b.head))
    assert f'href="{CASES}"' in client.get(INBOX).content.decode()


def test_inbox_steps_paginate_50_a_page_with_their_own_page_param(client, b):
    """R-REM-1: every waiting step is reachable, 50 a page; the page parameter is the table's (`steps-page`)."""
    cases = [branch_created_case(b, key=f"p{i}") for i in range(51)]
    client.force_login(holder("designated_person", b.branch, actor=b.head))
    first = client.get(INBOX).content.decode()
    second = client.get(INBOX, {"steps-page": 2}).content.decode()
    assert _links(first) == [str(c.pk) for c in cases[:50]]  # oldest first
    assert _links(second) == [str(cases[50].pk)]
    assert "steps-page=2" in first
    assert _links(client.get(INBOX, {"page": 2}).content.decode()) == _links(first)  # not its parameter


def test_inbox_steps_sort_with_their_own_sort_param(client, b):
    cases = [branch_created_case(b, key=f"s{i}") for i in range(3)]
    client.force_login(holder("designated_person", b.branch, actor=b.head))
    assert _links(client.get(INBOX).content.decode()) == [str(c.pk) for c in cases]
    assert _links(client.get(INBOX, {"steps-sort": "-opened"}).content.decode()) == \
        [str(c.pk) for c in reversed(cases)]


def test_inbox_keeps_its_empty_texts(client, b):
    admin, _hq = hq_admin()
    client.force_login(admin)
    html = client.get(INBOX, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Nothing is waiting for you." in html and "No pending cases." in html


def _special_new_case(b, n: int) -> ApprovalCase:
    return case_open(actor="test", reason=CaseReason.SPECIAL_NEW, rel_type=RelationshipType.objects.get(
        code="NEW_DEV"), customer=customer_get_or_create(id_number=make_id_number(), name="钱七"),
        proposed_shares=[{"staff_id": b.staff.pk, "ratio": "1"}], dedupe_key=f"special-{n}",
        branch=b.branch, applicant=b.staff)


def test_r_apr_6_hq_inbox_pages_apart_from_the_steps_table(client, b):
    """R-APR-6: the HQ reviewer's table of pending special-new cases pages with `hq-page`, 50 a page,
    oldest first, without moving the steps table."""
    cases = [_special_new_case(b, n) for n in range(51)]
    admin, hq = hq_admin()
    client.force_login(holder("hq", hq, actor=admin))
    first = client.get(INBOX).content.decode()
    assert "hq-page=2" in first and "steps-page=2" not in first
    assert [pk for pk in _links(first) if int(pk) in {c.pk for c in cases}][:50] == [str(c.pk) for c in cases[:50]]
    second = _links(client.get(INBOX, {"hq-page": 2}).content.decode())
    assert str(cases[50].pk) in second and str(cases[0].pk) not in second


def test_r_apr_6_hq_table_is_only_for_hq_reviewers(client, b):
    """R-APR-6: the branch head's inbox has no HQ table, so no special-new case of the HQ queue."""
    case = _special_new_case(b, 1)
    client.force_login(b.head)
    assert "hq-" not in client.get(INBOX).content.decode()
    admin, hq = hq_admin()
    client.force_login(holder("hq", hq, actor=admin))
    assert str(case.pk) in _links(client.get(INBOX).content.decode())


def test_inbox_query_count_does_not_grow_with_steps(client, b, django_assert_max_num_queries):
    """R-REM-1: the inbox costs the same for 3 and 30 waiting steps."""
    for i in range(3):
        branch_created_case(b, key=f"q{i}")
    client.force_login(holder("designated_person", b.branch, actor=b.head))
    with CaptureQueriesContext(connection) as few:
        assert len(_links(client.get(INBOX).content.decode())) == 3
    for i in range(27):
        branch_created_case(b, key=f"r{i}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(_links(client.get(INBOX).content.decode())) == 30


def test_a_case_finds_its_state_field_once_per_class_and_still_refuses_a_stale_save(b):
    """Issue 18: django-fsm walked every field of the model for each case a list builds; the state fields are
    found once per class. Its optimistic lock still holds: a case read before another decided it is not saved."""
    case = _case(b)
    first, stale = ApprovalCase.objects.get(pk=case.pk), ApprovalCase.objects.get(pk=case.pk)
    assert [field.name for field in first.state_fields] == ["status"]
    assert first.state_fields is stale.state_fields
    _set(case, status=CaseStatus.APPROVED)
    stale.current_step = 2
    with pytest.raises(ConcurrentTransition), transaction.atomic():
        stale.save()
    assert ApprovalCase.objects.get(pk=case.pk).current_step == case.current_step
