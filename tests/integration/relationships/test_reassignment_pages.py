"""R-STAFF-1 pages: the branch's awaiting-reassignment list (scoped, constant queries) and the reassignment form."""
from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from approvals.models import ApprovalCase
from approvals.services import case_act
from permissions.staff_changes import staff_leave
from relationships.models import ReassignmentLine
from reservations.reassign.services import reassignment_file
from tests.support.approvals import holder, hq_admin, make_branch
from tests.support.factories import RelationshipFactory, StaffFactory
from tests.support.helpers import queries_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def b():
    b = make_branch()
    b.admin = hq_admin()[0]
    b.designated = holder("designated_person", b.branch, actor=b.head)
    return b


def _leave(b, staff, on=None):
    staff_leave(actor=b.admin, staff=staff, on=on or timezone.localdate(), reason="离职")


def test_a_leavers_relationships_are_listed_to_his_branch_only_with_constant_queries(b, client):
    """R-STAFF-1 / R-PERM-4: the branch sees its leaver's relationships; another branch sees none."""
    RelationshipFactory(shares=[(b.staff, "1")])
    _leave(b, b.staff)
    client.force_login(b.head)
    url = reverse("work:awaiting")
    few = queries_for(client, url)
    for _ in range(5):
        RelationshipFactory(shares=[(b.staff, "1")])
    assert queries_for(client, url) <= few
    page = client.get(url).content.decode()
    assert b.staff.name in page and reverse("work:reassign", args=[b.staff.pk]) in page
    other = make_branch()
    client.force_login(other.head)
    assert b.staff.name not in client.get(url).content.decode()
    assert client.get(reverse("work:reassign", args=[b.staff.pk])).status_code == 404


def test_the_branch_reassigns_a_leavers_customers_to_two_colleagues_from_the_page(b, client):
    rels = [RelationshipFactory(shares=[(b.staff, "1")]) for _ in range(2)]
    _leave(b, b.staff)
    third = StaffFactory(outlet=b.outlet)
    client.force_login(b.head)
    url = reverse("work:reassign", args=[b.staff.pk])
    page = client.get(url)
    assert page.status_code == 200 and rels[0].customer.name in page.content.decode()
    response = client.post(url, {
        "effective_from": "2026-11-10", "scope": "chosen", "rel": [str(r.pk) for r in rels], "note": "",
        "holders-TOTAL_FORMS": "2", "holders-INITIAL_FORMS": "0", "holders-MIN_NUM_FORMS": "0",
        "holders-MAX_NUM_FORMS": "20", "holders-0-staff": str(b.colleague.pk), "holders-0-ratio": "0.5",
        "holders-1-staff": str(third.pk), "holders-1-ratio": "0.5"})
    case = ApprovalCase.objects.get(reason="reassignment")
    assert response.status_code == 302 and response["Location"] == reverse("approvals:case", args=[case.pk])
    assert ReassignmentLine.objects.count() == 2
    assert client.get(reverse("work:awaiting")).content.decode().count(rels[0].customer.name) == 0


def test_a_ratio_total_over_one_is_refused_on_the_holder_rows_and_nothing_is_filed(b, client):
    rel = RelationshipFactory(shares=[(b.staff, "1")])
    client.force_login(b.head)
    response = client.post(reverse("work:reassign", args=[b.staff.pk]), {
        "effective_from": dt.date(2026, 11, 10).isoformat(), "scope": "all",
        "holders-TOTAL_FORMS": "2", "holders-INITIAL_FORMS": "0", "holders-MIN_NUM_FORMS": "0",
        "holders-MAX_NUM_FORMS": "20", "holders-0-staff": str(b.colleague.pk), "holders-0-ratio": "0.7",
        "holders-1-staff": str(StaffFactory(outlet=b.outlet).pk), "holders-1-ratio": "0.6"})
    assert response.status_code == 200 and not ApprovalCase.objects.exists()
    assert rel.customer.name in response.content.decode()


def test_the_case_page_lists_the_reassigned_relationships_for_the_approver(b, client):
    rels = [RelationshipFactory(shares=[(b.staff, "1")]) for _ in range(2)]
    filed = reassignment_file(actor=b.head, from_staff=b.staff, relationships=rels, participants=[(b.colleague, "1")],
                              effective_from=dt.date(2026, 11, 10))
    client.force_login(b.designated)
    page = client.get(reverse("approvals:case", args=[filed.reassignment.case_id])).content.decode()
    assert all(r.customer.name in page for r in rels)
    assert 'name="decision"' in page


def test_the_customer_and_staff_pages_show_the_holders_over_time(b, client):
    """R-STAFF-1: after the reassignment both versions show, each holder with his dates."""
    rel = RelationshipFactory(shares=[(b.staff, "1")], effective_from=dt.date(2026, 3, 2))
    filed = reassignment_file(actor=b.head, from_staff=b.staff, relationships=[rel], participants=[(b.colleague, "1")],
                              effective_from=dt.date(2026, 11, 10))
    case_act(actor=b.designated, case_id=filed.reassignment.case_id, decision="approve")
    client.force_login(b.head)
    customer_page = client.get(reverse("work:customer", args=[rel.customer_id])).content.decode()
    assert b.staff.name in customer_page and b.colleague.name in customer_page and "2026-11-10" in customer_page
    url = reverse("work:staff", args=[b.staff.pk])
    staff_page = client.get(url).content.decode()
    assert rel.customer.name in staff_page and "2026-03-02" in staff_page and "2026-11-10" in staff_page
    few = queries_for(client, url)
    for _ in range(4):
        RelationshipFactory(shares=[(b.staff, "1")])
    assert queries_for(client, url) <= few
    client.force_login(make_branch().head)
    assert client.get(url).status_code == 404
