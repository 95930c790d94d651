"""§7 pages through the test client: the branch's filterable list with bulk pre-assignment, the assignee's list."""
from __future__ import annotations

import pytest
from django.urls import reverse

from relationships.models import PreAssignment
from tests.support.factories import OutletFactory, StaffFactory
from tests.support.helpers import nightly
from tests.support.secondary import branch_user, customer_of, event, lost_customer, open_account

pytestmark = pytest.mark.django_db
LIST = reverse("work:classified")


@pytest.fixture
def world():
    a, other = OutletFactory(), OutletFactory()
    lost = [lost_customer(a, name=f"流失{i}") for i in range(3)]
    dormant = open_account(a, name="休眠甲")
    event(a, dormant, "dormant", "2026-01-10 10:00", name="休眠甲")
    elsewhere = lost_customer(other, name="外分公司")
    nightly("2026-01-15")
    return {"a": a, "other": other, "lost": lost, "dormant": dormant, "elsewhere": elsewhere,
            "boss": branch_user(a.branch), "staff": StaffFactory(outlet=a)}


def test_branch_sees_only_its_classified_customers_filtered_by_class(client, world):
    """R-SEC-6 list, R-PERM-4 scope."""
    client.force_login(world["boss"])
    html = client.get(LIST).content.decode()
    assert "流失0" in html and "休眠甲" in html and "外分公司" not in html
    html = client.get(LIST, {"kind": "dormant"}).content.decode()
    assert "休眠甲" in html and "流失0" not in html


def test_bulk_selection_pre_assigns_the_ticked_customers(client, world):
    """R-SEC-4: bulk selection; a customer outside the branch in the POST is not assigned."""
    client.force_login(world["boss"])
    ids = [customer_of(i).pk for i in world["lost"][:2]] + [customer_of(world["elsewhere"]).pk]
    response = client.post(LIST, {"customer": ids, "staff": world["staff"].pk})
    assert response.status_code == 302
    assert set(PreAssignment.objects.values_list("customer_id", flat=True)) == set(ids[:2])
    html = client.get(LIST, {"assigned": "no"}).content.decode()
    assert "流失2" in html and "流失0" not in html


def test_staff_without_a_branch_role_cannot_open_the_branch_list(client, world):
    client.force_login(world["staff"].user)
    assert client.get(LIST).status_code == 403


def test_assignee_sees_his_customers_and_reserves(client, world):
    client.force_login(world["boss"])
    client.post(LIST, {"customer": [customer_of(world["lost"][0]).pk], "staff": world["staff"].pk})
    client.force_login(world["staff"].user)
    html = client.get(reverse("work:mine")).content.decode()
    a = PreAssignment.objects.get()
    assert "流失0" in html and reverse("work:reserve", args=[a.pk]) in html
    bad = client.post(reverse("work:reserve", args=[a.pk]), {
        "phone": "12345", "own_ratio": "1", "co-TOTAL_FORMS": "0", "co-INITIAL_FORMS": "0",
        "co-MIN_NUM_FORMS": "0", "co-MAX_NUM_FORMS": "20"})
    assert bad.status_code == 200 and "errorlist" in bad.content.decode()
    other = StaffFactory(outlet=world["a"])
    client.force_login(other.user)
    assert client.get(reverse("work:reserve", args=[a.pk])).status_code == 404


def test_branch_ends_a_pre_assignment_from_the_list(client, world):
    client.force_login(world["boss"])
    client.post(LIST, {"customer": [customer_of(world["lost"][0]).pk], "staff": world["staff"].pk})
    a = PreAssignment.objects.get()
    response = client.post(reverse("work:assignment_end", args=[a.pk]), {"note": "调岗"})
    assert response.status_code == 302
    a.refresh_from_db()
    assert a.status == "ended" and a.end_note == "调岗"


def test_special_new_page_sends_the_application(client, world):
    client.force_login(world["staff"].user)
    assert client.get(reverse("work:special_new")).status_code == 200
    response = client.post(reverse("work:special_new"), {
        "customer_name": "流失1", "id_number": world["lost"][1], "phone": "13812345678", "own_ratio": "1",
        "explanation": "老客户回流", "co-TOTAL_FORMS": "0", "co-INITIAL_FORMS": "0", "co-MIN_NUM_FORMS": "0",
        "co-MAX_NUM_FORMS": "20"})
    assert response.status_code == 302, response.content.decode()[:3000]
    from reservations.models import Reservation
    r = Reservation.objects.get(source="special")
    assert (r.status, r.approval_case.reason) == ("pending_approval", "special_new")


@pytest.mark.parametrize("name", ["classified", "assignments", "mine", "special_new", "branch_requests", "branch_new",
                                  "core", "callbacks"])
def test_pages_render_for_head_office_and_branch(client, world, name):
    from tests.support.factories import HQFactory, RoleFactory

    hq_user = RoleFactory(kind="hq", organisation=HQFactory()).user
    for user in (hq_user, world["boss"]):
        client.force_login(user)
        response = client.get(reverse(f"work:{name}"))
        assert response.status_code in ((403,) if name in ("mine", "special_new") else (200,)), (name, user)
