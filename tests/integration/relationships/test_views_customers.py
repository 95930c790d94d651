"""The customer list (`relationships:customers`): scoped like the customer history page (R-PERM-4), masked IDs
only on the page and in CSV/Excel exports (R-PII-1), filters, sorting, constant query counts."""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from relationships.models import Customer, CustomerClass, Relationship, RelationshipType
from relationships.services import Share, customer_get_or_create, relationship_create
from tests.support.factories import OutletFactory, RoleFactory, StaffFactory, make_id_number
from tests.support.helpers import ID18, queries_for

pytestmark = pytest.mark.django_db

CUSTOMERS = reverse("relationships:customers")
EXPORTS = ["csv", "xlsx"]


@pytest.fixture
def branch_user(outlet):
    """A branch user of the outlet's branch: sees every customer of the branch."""
    return RoleFactory(kind="branch", organisation=outlet.branch).user


@pytest.fixture
def branch_client(client, branch_user):
    client.force_login(branch_user)
    return client


def _customer(name="张三", id_number=None) -> Customer:
    return customer_get_or_create(id_number=id_number or make_id_number(), name=name)


def _relationship(customer, staff, *, type_code="NEW_DEV", effective_from=dt.date(2026, 3, 5)) -> Relationship:
    return relationship_create(actor="test", customer=customer, rel_type=RelationshipType.objects.get(pk=type_code),
                               shares=[Share(staff, Decimal("1"))], effective_from=effective_from,
                               source="reservation")


def _class(customer, outlet, kind="dormant", *, ended_on=None) -> CustomerClass:
    return CustomerClass.objects.create(customer=customer, kind=kind, since=dt.date(2026, 1, 10), outlet=outlet,
                                        detected_on=dt.date(2026, 1, 11), ended_on=ended_on)


def _links(html: str) -> list[str]:
    """Customer ids in row order: every row links to the customer's history page."""
    return re.findall(r'href="/work/customers/(\d+)/"', html)


def _tbody(html: str) -> str:
    """The table rows only (the filter form lists every relationship type by name)."""
    return html.split("<tbody", 1)[1].split("</tbody>", 1)[0]


def _export_rows(response, fmt: str) -> list[list[str]]:
    """The cells of a CSV or Excel export (read once: the response streams)."""
    body = response.getvalue()
    if fmt == "csv":
        return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    sheet = load_workbook(io.BytesIO(body)).active
    return [["" if c is None else str(c) for c in row] for row in sheet.iter_rows(values_only=True)]


def _export_text(response, fmt: str) -> str:
    return "\n".join(" ".join(row) for row in _export_rows(response, fmt))


# --- scope (R-PERM-4) ---------------------------------------------------------------------------------------

def test_R_PERM_4_other_branch_sees_no_customer_in_page_export_or_history(client, staff, branch_user):
    """A customer held in branch A is invisible to branch B's staff and branch user: not on the page, not in
    either export, and his history page answers 404 like a customer that does not exist."""
    customer = _customer(name="王五")
    _relationship(customer, staff)
    history = reverse("work:customer", args=[customer.pk])

    client.force_login(branch_user)  # the control: his own branch sees him
    assert _links(client.get(CUSTOMERS).content.decode()) == [str(customer.pk)]
    assert client.get(history).status_code == 200

    other_outlet = OutletFactory()
    for outsider in (StaffFactory(outlet=other_outlet).user,
                     RoleFactory(kind="branch", organisation=other_outlet.branch).user):
        client.force_login(outsider)
        html = client.get(CUSTOMERS).content.decode()
        assert _links(html) == [] and "王五" not in html
        for fmt in EXPORTS:
            response = client.get(CUSTOMERS, {"_export": fmt})
            assert response.status_code == 200
            text = _export_text(response, fmt)
            assert "王五" not in text and customer.id_masked not in text
        assert client.get(history).status_code == 404


@pytest.mark.parametrize("fmt", [None, *EXPORTS])
def test_R_PERM_4_customer_in_two_scopes_shows_only_the_visible_relationship_and_class(
        client, staff, outlet, branch_user, fmt):
    """Branch A sees the customer (through its own relationship) but not branch B's relationship, holder or
    classification, on the page or in the export."""
    other_outlet = OutletFactory()
    other_staff = StaffFactory(outlet=other_outlet)
    customer = _customer(name="王五")
    _relationship(customer, staff, type_code="NEW_DEV")
    _relationship(customer, other_staff, type_code="MAINTENANCE")
    _class(customer, other_outlet, "dormant")
    client.force_login(branch_user)
    response = client.get(CUSTOMERS, {"_export": fmt} if fmt else {})
    text = _export_text(response, fmt) if fmt else _tbody(response.content.decode())
    new_dev, maintenance = RelationshipType.objects.get(pk="NEW_DEV"), RelationshipType.objects.get(pk="MAINTENANCE")
    assert "王五" in text and staff.staff_no in text and new_dev.name in text
    assert other_staff.staff_no not in text and maintenance.name not in text
    assert "dormant" not in text and "休眠" not in text

    client.force_login(RoleFactory(kind="branch", organisation=other_outlet.branch).user)  # and the other way
    response = client.get(CUSTOMERS, {"_export": fmt} if fmt else {})
    text = _export_text(response, fmt) if fmt else _tbody(response.content.decode())
    assert other_staff.staff_no in text and maintenance.name in text
    assert staff.staff_no not in text and new_dev.name not in text


def test_ended_relationships_and_holders_are_not_listed_as_current(branch_client, staff, outlet):
    customer = _customer()
    rel = _relationship(customer, staff, type_code="NEW_DEV")
    Relationship.objects.filter(pk=rel.pk).update(effective_to=dt.date(2026, 5, 1))
    _class(customer, outlet, "lost", ended_on=dt.date(2026, 2, 1))
    html = branch_client.get(CUSTOMERS, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert _links(html) == [str(customer.pk)]  # still his customer: the history page shows the ended version
    row = _tbody(html)
    assert staff.staff_no not in row and "New development" not in row and "lost" not in row


# --- masked ID only (R-PII-1) -------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", EXPORTS)
def test_R_PII_1_exports_show_the_masked_id_never_the_number(branch_client, staff, outlet, fmt):
    ids = [make_id_number(seq=400 + i) for i in range(3)]
    customers = [_customer(name=f"王五{i}", id_number=idn) for i, idn in enumerate(ids)]
    for c in customers:
        _relationship(c, staff)
    _class(customers[0], outlet, "silent")
    response = branch_client.get(CUSTOMERS, {"_export": fmt}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    rows = _export_rows(response, fmt)
    text = "\n".join(" ".join(row) for row in rows)
    assert all(c.id_masked in text and c.name in text for c in customers)
    assert not ID18.search(text) and not any(idn in text for idn in ids)
    assert rows[0] == ["Customer name", "ID card number", "Active relationships", "Classification", "First seen"]
    first = next(r for r in rows if r[0] == "王五0")
    assert first[2] == f"New development: {staff} 1.0000" and first[3] == "silent"
    assert first[4].startswith(timezone.localdate(customers[0].created_at).isoformat())


def test_R_PII_1_page_shows_the_masked_id_never_the_number(branch_client, staff):
    idn = make_id_number(seq=450)
    customer = _customer(id_number=idn)
    _relationship(customer, staff)
    html = branch_client.get(CUSTOMERS).content.decode()
    assert customer.id_masked in html and idn not in html and not ID18.search(html)


# --- filters --------------------------------------------------------------------------------------------------

def test_filters_narrow_results(branch_client, staff, outlet):
    wang = _customer(name="王五", id_number=make_id_number(seq=501))
    zhao = _customer(name="赵六", id_number=make_id_number(seq=502))
    wang2 = _customer(name="小王五", id_number=make_id_number(seq=503))
    _relationship(wang, staff, type_code="NEW_DEV")
    _relationship(zhao, staff, type_code="MAINTENANCE")
    ended = _relationship(wang2, staff, type_code="MAINTENANCE")
    Relationship.objects.filter(pk=ended.pk).update(effective_to=dt.date(2026, 5, 1))
    _class(zhao, outlet, "dormant")
    _class(wang2, outlet, "lost", ended_on=dt.date(2026, 2, 1))

    def ids(params):
        response = branch_client.get(CUSTOMERS, params)
        assert response.status_code == 200
        return sorted(_links(response.content.decode()))

    assert ids({}) == sorted(str(c.pk) for c in (wang, zhao, wang2))
    assert ids({"name": "王五"}) == sorted([str(wang.pk), str(wang2.pk)])
    # exact, through the keyed hash; typed with spaces and full-width digits it is the same number
    number = make_id_number(seq=501)
    assert ids({"id_number": number}) == [str(wang.pk)]
    assert ids({"id_number": " " + number[:6] + " " + number[6:].translate(str.maketrans(
        "0123456789", "０１２３４５６７８９"))}) == [str(wang.pk)]
    assert ids({"id_number": make_id_number(seq=599)}) == []  # valid, but no such customer
    assert ids({"type": "MAINTENANCE"}) == [str(zhao.pk)]  # wang2's MAINTENANCE has ended
    assert ids({"type": "NEW_DEV", "name": "赵"}) == []
    assert ids({"classification": "dormant"}) == [str(zhao.pk)]
    assert ids({"classification": "lost"}) == []  # wang2's loss is over


def test_type_and_class_filters_do_not_see_other_scopes(client, staff, outlet, branch_user):
    """R-PERM-4: filtering on another branch's relationship type or class does not reveal that it exists."""
    other_outlet = OutletFactory()
    customer = _customer()
    _relationship(customer, staff, type_code="NEW_DEV")
    _relationship(customer, StaffFactory(outlet=other_outlet), type_code="MAINTENANCE")
    _class(customer, other_outlet, "dormant")
    client.force_login(branch_user)
    assert _links(client.get(CUSTOMERS, {"type": "NEW_DEV"}).content.decode()) == [str(customer.pk)]
    assert _links(client.get(CUSTOMERS, {"type": "MAINTENANCE"}).content.decode()) == []
    assert _links(client.get(CUSTOMERS, {"classification": "dormant"}).content.decode()) == []


@pytest.mark.parametrize("bad", ["123", "11010519850615001X", "110105198513150012", "not a number"])
def test_invalid_id_number_is_a_form_error_and_lists_nothing(branch_client, staff, bad):
    customer = _customer()
    _relationship(customer, staff)
    response = branch_client.get(CUSTOMERS, {"id_number": bad})
    assert response.status_code == 200
    html = response.content.decode()
    assert "errorlist" in html and _links(html) == []
    export = branch_client.get(CUSTOMERS, {"id_number": bad, "_export": "csv"})
    assert export.status_code == 200 and len(_export_rows(export, "csv")) == 1  # the header only
    assert branch_client.get(CUSTOMERS, {"type": "BOGUS", "classification": "x"}).status_code == 200


# --- sorting ----------------------------------------------------------------------------------------------------

def test_sort_orders_and_default_newest_first(branch_client, staff):
    customers = [_customer(name=name) for name in ("Carol", "Alice", "Bob", "Dave")]
    for c in customers:
        _relationship(c, staff)
    base = timezone.now() - dt.timedelta(days=10)
    # Alice and Bob were first seen at the same instant: the id decides between them
    for c, days in zip(customers, (1, 2, 2, 3), strict=False):
        Customer.objects.filter(pk=c.pk).update(created_at=base + dt.timedelta(days=days))
    carol, alice, bob, dave = (str(c.pk) for c in customers)
    tied = sorted([alice, bob], key=int)

    def order(params):
        return _links(branch_client.get(CUSTOMERS, params).content.decode())

    assert order({}) == [dave, *reversed(tied), carol]
    assert order({"sort": "-created_at"}) == [dave, *reversed(tied), carol]
    assert order({"sort": "created_at"}) == [carol, *tied, dave]
    by_name = [str(pk) for pk in Customer.objects.filter(pk__in=[c.pk for c in customers])
               .order_by("name", "id").values_list("pk", flat=True)]
    assert order({"sort": "name"}) == by_name
    assert order({"sort": "-name"}) == list(reversed(by_name))


def test_count_text_and_pagination(branch_client, staff):
    for i in range(51):
        _relationship(_customer(name=f"客户{i}"), staff)
    first = branch_client.get(CUSTOMERS, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    second = branch_client.get(CUSTOMERS, {"page": 2}).content.decode()
    assert "51 customers" in first
    assert len(_links(first)) == 50 and len(_links(second)) == 1


# --- query counts -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("params", [{}, {"_export": "csv"}, {"_export": "xlsx"}])
def test_customer_list_and_export_query_counts_constant(branch_client, staff, outlet,
                                                        django_assert_max_num_queries, params):
    """Relationships, holders, types and classes are prefetched: 30 customers cost what 3 do."""
    def add(n):
        for _ in range(n):
            customer = _customer()
            _relationship(customer, staff)
            _class(customer, outlet, "silent")

    add(3)
    few = queries_for(branch_client, CUSTOMERS, params)
    add(27)
    with django_assert_max_num_queries(few):
        branch_client.get(CUSTOMERS, params).getvalue()
