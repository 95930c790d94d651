"""The home page's summary tiles never count a whole table (R-REM-1's page at head-office scale)."""
from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from common.pagination import capped_count
from reservations.models import Reservation
from tests.support.factories import HQFactory, RoleFactory, StaffFactory, make_id_number
from tests.support.helpers import reserve

pytestmark = pytest.mark.django_db


def test_capped_count_is_exact_up_to_the_cap_and_says_plus_beyond():
    staff = StaffFactory()
    for i in range(3):
        reserve(staff, id_number=make_id_number(seq=900 + i), when=timezone.now())
    assert capped_count(Reservation.objects.all(), cap=3) == "3"
    assert capped_count(Reservation.objects.all(), cap=2) == "2+"


def test_head_office_home_counts_only_through_capped_subqueries(client):
    staff = StaffFactory()
    reserve(staff, id_number=make_id_number(seq=950), when=timezone.now())
    client.force_login(RoleFactory(kind="hq", organisation=HQFactory()).user)
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/").status_code == 200
    counts = [q["sql"] for q in captured.captured_queries if "COUNT(" in q["sql"].upper()]
    assert counts and all("LIMIT" in sql.upper() for sql in counts), counts


def test_the_trivial_signed_in_page_shows_the_navigation_and_no_data(client, django_assert_max_num_queries):
    """The yardstick of benchmarks/pages.py: base template, navigation and session, nothing else."""
    staff = StaffFactory()
    assert client.get("/ping-page/").status_code == 302  # signed-in only
    client.force_login(staff.user)
    with django_assert_max_num_queries(4):  # session, user, the roles and the staff record (read once, issue 18)
        response = client.get("/ping-page/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "已登录" in body and "/relationships/customers/" in body
