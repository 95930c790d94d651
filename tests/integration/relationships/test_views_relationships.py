"""Relationship pages through the test client: scoped list and detail, masked IDs."""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from relationships.models import RelationshipType
from relationships.services import Share, customer_get_or_create, relationship_create
from tests.support.factories import RoleFactory, StaffFactory, make_id_number

pytestmark = pytest.mark.django_db

LIST = reverse("relationships:list")


def _relationship(*holders, id_number: str | None = None, name: str = "张三", type_code: str = "NEW_DEV"):
    """A relationship held by `holders` as (staff, ratio) pairs, created through the service."""
    customer = customer_get_or_create(id_number=id_number or make_id_number(), name=name)
    return relationship_create(actor="test", customer=customer, rel_type=RelationshipType.objects.get(pk=type_code),
                               shares=[Share(s, Decimal(r)) for s, r in holders],
                               effective_from=dt.date(2026, 3, 5), source="reservation")


def test_list_shows_own_relationships_with_masked_id_only(staff_client, staff, outlet):
    """R-PERM-4, R-PII-1: staff see their own relationships; the ID number only masked."""
    colleague = StaffFactory(outlet=outlet)
    idn = make_id_number()
    mine = _relationship((staff, "0.6"), (colleague, "0.4"), id_number=idn, name="王五")
    theirs = _relationship((colleague, "1"), name="赵六")
    html = staff_client.get(LIST).content.decode()
    assert reverse("relationships:detail", args=[mine.pk]) in html
    assert reverse("relationships:detail", args=[theirs.pk]) not in html
    assert mine.customer.id_masked in html and idn not in html
    assert "王五" in html and "赵六" not in html
    assert "0.6000" in html and "0.4000" in html


def test_detail_shows_holders_ratios_and_masked_id(staff_client, staff):
    """R-PII-1: the detail page shows the masked ID and the shares."""
    idn = make_id_number()
    rel = _relationship((staff, "1"), id_number=idn)
    html = staff_client.get(reverse("relationships:detail", args=[rel.pk])).content.decode()
    assert rel.customer.id_masked in html and idn not in html
    assert staff.staff_no in html and "1.0000" in html
    assert "新增开发关系" in html and "2026-03-05" in html


def test_staff_of_another_branch_gets_404_for_relationship_detail(client, staff):
    """R-PERM-4: a relationship outside one's scope answers 404, never the row."""
    rel = _relationship((staff, "1"))
    other = StaffFactory()
    assert other.outlet.branch_id != staff.outlet.branch_id
    client.force_login(other.user)
    assert client.get(reverse("relationships:detail", args=[rel.pk])).status_code == 404
    assert reverse("relationships:detail", args=[rel.pk]) not in client.get(LIST).content.decode()


def test_branch_role_sees_its_branch_relationships_only(client, staff):
    """R-PERM-4: branch roles see their branch; another branch's rows answer 404."""
    rel = _relationship((staff, "1"))
    client.force_login(RoleFactory(organisation=staff.outlet.branch).user)
    assert client.get(reverse("relationships:detail", args=[rel.pk])).status_code == 200
    client.force_login(RoleFactory().user)
    assert client.get(reverse("relationships:detail", args=[rel.pk])).status_code == 404


def test_list_query_count_does_not_grow_with_rows(staff_client, staff, outlet, django_assert_max_num_queries):
    """R-PERM-4 selector with select_related and prefetched shares: 30 rows cost the same as 1."""
    colleague = StaffFactory(outlet=outlet)
    _relationship((staff, "0.5"), (colleague, "0.5"))
    with CaptureQueriesContext(connection) as one:
        assert staff_client.get(LIST).status_code == 200
    for _ in range(29):
        _relationship((staff, "0.5"), (colleague, "0.5"))
    with django_assert_max_num_queries(len(one.captured_queries)):
        response = staff_client.get(LIST)
    assert len(re.findall(r'href="/relationships/\d+/"', response.content.decode())) == 30


def test_relationship_pages_render_in_chinese_by_default_and_english_on_request(staff_client, staff):
    """UI: Simplified Chinese first, English second; type names follow the language."""
    rel = _relationship((staff, "1"))
    html = staff_client.get(LIST).content.decode()
    assert "我的客户关系" in html and "新增开发关系" in html
    html = staff_client.get(LIST, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "My relationships" in html and "New development" in html
    html = staff_client.get(reverse("relationships:detail", args=[rel.pk]), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Holders and split ratios" in html


def test_anonymous_users_are_redirected_to_login(client, staff):
    """R-SEC-AUTH-1: relationship pages need a signed-in user."""
    rel = _relationship((staff, "1"))
    for url in (LIST, reverse("relationships:detail", args=[rel.pk])):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"] == f"{reverse('login')}?next={url}"
