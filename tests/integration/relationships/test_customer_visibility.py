"""Seeing a customer needs a real relationship (issue "The night never jams", item 5; R-PERM-4, R-PII-1).

A staff member could register a reservation for any ID number under a made-up name and then read the core
system's name on the customer page (404 before, 200 after), the customer list and its export. A customer and his
official name are visible only through a relationship, a pre-assignment, a case the user acts on, or a
reservation whose name the core system confirmed (`permissions.scoping.visible_history_customers`,
`visible_customers`); a reservation under another name shows only what its author typed."""
from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from approvals.models import ApprovalCase, CaseReason, CaseStep, Post, PostAssignment
from permissions.scoping import visible_customers, visible_history_customers
from relationships.models import Customer, RelationshipType
from relationships.services import Share, customer_get_or_create, relationship_create
from reservations.services import reservation_withdraw
from tests.support.factories import OutletFactory, RoleFactory, StaffFactory, make_id_number
from tests.support.helpers import at, reserve

pytestmark = pytest.mark.django_db

OFFICIAL = "王五"
MADE_UP = "假名"


@pytest.fixture
def world():
    """A customer of another branch (held there), and a staff member who has nothing to do with him."""
    far = StaffFactory(outlet=OutletFactory())
    id_number = make_id_number()
    customer = customer_get_or_create(id_number=id_number, name=OFFICIAL)
    relationship_create(actor="test", customer=customer, rel_type=RelationshipType.objects.get(pk="MAINTENANCE"),
                        shares=[Share(far, Decimal("1"))], effective_from=dt.date(2026, 1, 5), source="branch")
    snooper = StaffFactory(outlet=OutletFactory())
    return {"customer": customer, "id_number": id_number, "snooper": snooper, "far": far}


def _pages(user, customer: Customer) -> dict:
    client = Client()
    client.force_login(user)
    page = client.get(reverse("work:customer", args=[customer.pk]))
    listing = client.get(reverse("relationships:customers")).content.decode()
    export = client.get(reverse("relationships:customers"), {"_export": "csv"}).getvalue().decode("utf-8-sig")
    return {"page": page.status_code, "listed": OFFICIAL in listing, "exported": OFFICIAL in export,
            "rows": len(list(csv.reader(io.StringIO(export)))) - 1, "client": client}


def test_r_perm_4_a_reservation_under_a_made_up_name_does_not_open_the_customer(world):
    snooper, customer = world["snooper"], world["customer"]
    before = _pages(snooper.user, customer)
    assert (before["page"], before["listed"], before["exported"]) == (404, False, False)

    reservation = reserve(snooper, id_number=world["id_number"], name=MADE_UP, when=at("2026-03-02 09:00"))
    after = _pages(snooper.user, customer)
    assert (after["page"], after["listed"], after["exported"], after["rows"]) == (404, False, False, 0)
    # His reservation shows what he typed, and neither the official name nor a way to the customer's page.
    page = after["client"].get(reverse("reservations:detail", args=[reservation.pk])).content.decode()
    assert MADE_UP in page and OFFICIAL not in page
    assert reverse("work:customer", args=[customer.pk]) not in page
    assert not visible_customers(snooper.user).filter(pk=customer.pk).exists()
    # Nor does his outlet's head or his branch see the customer through it.
    for kind, org in (("outlet_head", snooper.outlet), ("branch", snooper.outlet.branch)):
        user = RoleFactory(kind=kind, organisation=org).user
        assert _pages(user, customer)["page"] == 404
        assert not visible_customers(user).filter(pk=customer.pk).exists()
    # Withdrawn, it leaves nothing behind either.
    reservation_withdraw(actor=snooper.user, reservation_id=reservation.pk, staff=snooper)
    assert _pages(snooper.user, customer)["page"] == 404


def test_r_perm_4_show_full_id_of_the_customer_answers_404_through_an_unconfirmed_reservation(world):
    branch_user = RoleFactory(kind="branch", organisation=world["snooper"].outlet.branch).user
    reserve(world["snooper"], id_number=world["id_number"], name=MADE_UP, when=at("2026-03-02 09:00"))
    client = Client()
    client.force_login(branch_user)
    response = client.post(reverse("permissions:unmask_customer", args=[world["customer"].pk]), {"back": "/"})
    assert response.status_code == 404


@pytest.mark.parametrize("typed", [OFFICIAL, "王 五", " 王五 "])
def test_r_match_2_a_reservation_under_the_customers_own_name_opens_him(world, typed):
    """The core system confirms the name: the same after R-MATCH-2's folding (spaces, full-width forms)."""
    reserve(world["snooper"], id_number=world["id_number"], name=typed, when=at("2026-03-02 09:00"))
    seen = _pages(world["snooper"].user, world["customer"])
    assert (seen["page"], seen["listed"], seen["exported"]) == (200, True, True)
    assert visible_customers(world["snooper"].user).filter(pk=world["customer"].pk).exists()


def test_r_perm_4_a_full_width_latin_name_is_confirmed_like_the_batch_confirms_it(world):
    customer = customer_get_or_create(id_number=(idn := make_id_number()), name="John Smith")
    reserve(world["snooper"], id_number=idn, name="ＪＯＨＮ ＳＭＩＴＨ", when=at("2026-03-02 09:00"))
    assert visible_history_customers(world["snooper"].user).filter(pk=customer.pk).exists()


def test_r_perm_4_a_matched_reservation_opens_the_customer(world):
    reservation = reserve(world["snooper"], id_number=world["id_number"], name=MADE_UP, when=at("2026-03-02 09:00"))
    reservation.status = "matched"  # the batch compared the names (R-MATCH-1/2) and created the relationship
    reservation.save(update_fields=["status"])
    assert visible_history_customers(world["snooper"].user).filter(pk=world["customer"].pk).exists()


def test_r_perm_4_a_case_the_user_acts_on_opens_the_customer_its_applicant_alone_does_not(world):
    """A post holder of one of the case's steps sees the customer; the staff member who filed it does not."""
    customer, snooper = world["customer"], world["snooper"]
    approver = RoleFactory(kind="branch", organisation=OutletFactory().branch).user
    org = world["far"].outlet.branch
    case = ApprovalCase.objects.create(reason=CaseReason.LATE, type_id="NEW_DEV", customer=customer,
                                       branch=org, applicant=snooper, filed_by=snooper.user, proposed_shares=[],
                                       dedupe_key="test:visibility")
    CaseStep.objects.create(case=case, order=1, post=Post.FINAL_APPROVAL, organisation=org)
    assert not visible_history_customers(approver).filter(pk=customer.pk).exists()
    PostAssignment.objects.create(post=Post.FINAL_APPROVAL, organisation=org, user=approver,
                                  valid_from=dt.date(2020, 1, 1))
    approver = type(approver).objects.get(pk=approver.pk)  # a new request
    assert visible_history_customers(approver).filter(pk=customer.pk).exists()
    assert visible_customers(approver).filter(pk=customer.pk).exists()
    assert not visible_history_customers(snooper.user).filter(pk=customer.pk).exists()


def test_r_perm_4_a_pre_assignment_opens_the_customer_to_its_assignee(world):
    from relationships.models import CustomerClass, PreAssignment

    customer, snooper = world["customer"], world["snooper"]
    cls = CustomerClass.objects.create(customer=customer, kind="dormant", since=dt.date(2026, 1, 10),
                                       outlet=world["far"].outlet, detected_on=dt.date(2026, 1, 11))
    PreAssignment.objects.create(customer=customer, classification=cls, staff=snooper,
                                 branch=snooper.outlet.branch, assigned_at=at("2026-01-20 09:00"))
    assert _pages(snooper.user, customer)["page"] == 200
    assert visible_customers(snooper.user).filter(pk=customer.pk).exists()
