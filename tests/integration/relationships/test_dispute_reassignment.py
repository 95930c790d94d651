"""R-CB-1 / R-STAFF-1: a disputed callback can be resolved by reassignment — the same case, for that one
relationship; the dispute is decided when the case is approved."""
from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from approvals.models import ApprovalCase
from approvals.services import case_act
from relationships.callbacks import callbacks_create_for_date
from relationships.models import Callback, Relationship, RelationshipShare
from reservations.reassign.disputes import callback_dispute_reassign
from tests.support.approvals import holder, make_branch
from tests.support.factories import RelationshipFactory, RoleFactory
from tests.support.secondary import branch_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def disputed():
    b = make_branch()
    b.designated = holder("designated_person", b.branch, actor=b.head)
    rel = RelationshipFactory(shares=[(b.staff, "1")], effective_from=dt.date(2026, 3, 2))
    Relationship.objects.filter(pk=rel.pk).update(outlet=b.outlet)
    callbacks_create_for_date(business_date=dt.date(2026, 3, 3))
    cb = Callback.objects.get(relationship=rel)
    Callback.objects.filter(pk=cb.pk).update(status="disputed", reason="客户说是另一位经理")
    b.rel, b.cb = rel, cb
    return b


def test_a_disputed_callback_is_resolved_by_reassigning_the_relationship_to_the_right_holder(disputed):
    b = disputed
    filed = callback_dispute_reassign(actor=branch_user(b.branch), callback_id=b.cb.pk,
                                      participants=[(b.colleague, "1")], effective_from=dt.date(2026, 3, 2),
                                      note="客户确认由同事开发")
    case = ApprovalCase.objects.get(pk=filed.reassignment.case_id)
    b.cb.refresh_from_db()
    assert b.cb.resolution == ""  # decided with the case
    case_act(actor=b.designated, case_id=case.pk, decision="approve")
    b.cb.refresh_from_db()
    assert b.cb.resolution == "reassigned"
    new = Relationship.objects.get(customer=b.rel.customer, effective_to__isnull=True)
    assert list(RelationshipShare.objects.filter(relationship=new).values_list("staff_id", flat=True)) == [
        b.colleague.pk]
    assert Callback.objects.filter(relationship=new, status="pending").exists()  # the right holder's callback


def test_the_callback_page_links_to_the_reassignment_and_files_it(disputed, client):
    b = disputed
    client.force_login(branch_user(b.branch))
    detail = client.get(reverse("work:callback", args=[b.cb.pk])).content.decode()
    url = reverse("work:dispute_reassign", args=[b.cb.pk])
    assert url in detail
    assert client.get(url).status_code == 200
    response = client.post(url, {
        "effective_from": "2026-03-02", "note": "改由同事", "holders-TOTAL_FORMS": "1", "holders-INITIAL_FORMS": "0",
        "holders-MIN_NUM_FORMS": "0", "holders-MAX_NUM_FORMS": "20", "holders-0-staff": str(b.colleague.pk),
        "holders-0-ratio": "1"})
    assert response.status_code == 302
    client.force_login(RoleFactory(kind="outlet_ops").user)
    assert client.get(url).status_code == 404
