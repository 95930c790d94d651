"""Issue 18, list pages: the type filter of every list shows the relationship types (R-TYPE-1's rows) without
reading them on every request; a type HQ saves (R-TYPE-2) is offered at once by the process that saved it, and a
submitted choice is still checked in the database."""
from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from relationships.filters import RelationshipFilter
from relationships.models import Relationship, RelationshipType

pytestmark = pytest.mark.django_db

LISTS = ["relationships:list", "relationships:customers", "reservations:list", "approvals:cases", "approvals:inbox"]


def _type_reads(client, url, params=None) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params or {})
    assert response.status_code == 200
    reads = sum('FROM "relationships_relationshiptype"' in q["sql"] for q in captured.captured_queries)
    return reads, response.content.decode()


@pytest.mark.parametrize("name", LISTS)
def test_every_lists_type_filter_offers_every_type_without_reading_the_types_again(staff_client, name):
    url = reverse(name)
    _type_reads(staff_client, url)
    reads, html = _type_reads(staff_client, url)
    assert reads == 0
    for rel_type in RelationshipType.objects.all():
        assert f'value="{rel_type.code}"' in html


def test_r_type_2_a_type_saved_in_this_process_is_offered_at_once(staff_client):
    url = reverse("relationships:list")
    _type_reads(staff_client, url)
    new = RelationshipType.objects.order_by("sort_order").last()
    new.pk, new.name, new.sort_order = "BENCH_NEW", "新增类型", new.sort_order + 1
    new.save(force_insert=True)
    reads, html = _type_reads(staff_client, url)
    assert reads == 1 and 'value="BENCH_NEW"' in html and "新增类型" in html
    RelationshipType.objects.filter(pk="BENCH_NEW").delete()  # a queryset delete sends post_delete too
    assert 'value="BENCH_NEW"' not in _type_reads(staff_client, url)[1]


def test_a_submitted_type_is_checked_in_the_database():
    """The list of options may lag in another worker; the submitted value never does."""
    code = RelationshipType.objects.order_by("sort_order").first().code
    assert RelationshipFilter({"type": code}, queryset=Relationship.objects.all()).form.is_valid()
    refused = RelationshipFilter({"type": "NO_SUCH_TYPE"}, queryset=Relationship.objects.all()).form
    assert not refused.is_valid() and "type" in refused.errors
