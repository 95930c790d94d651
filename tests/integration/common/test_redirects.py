"""Open redirects (issue "The night never jams", item 9): every `back=` / `next=` the site follows is checked with
Django's `url_has_allowed_host_and_scheme` (`common.redirects.local_url`), so a crafted link cannot send a user
from the site to another host after "show full ID" (R-PII-1) or a sign-in step (R-SEC-AUTH-2)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.test import RequestFactory
from django.urls import reverse

from common.redirects import local_url
from relationships.models import RelationshipType
from relationships.services import Share, customer_get_or_create, relationship_create
from tests.support.factories import RoleFactory, make_id_number

pytestmark = pytest.mark.django_db

HOSTILE = ["/\\evil.example/", "//evil.example", "https://evil.example", "http://evil.example/x",
           "\\\\evil.example", "/\t/evil.example", "///evil.example", "javascript:alert(1)", " //evil.example",
           "https://testserver.evil.example/"]


@pytest.mark.parametrize("target", HOSTILE)
def test_a_target_off_the_site_falls_back(target):
    request = RequestFactory().get("/")
    assert local_url(request, target, "/fallback/") == "/fallback/"


@pytest.mark.parametrize("target", ["/work/customers/7/", "/reservations/?status=active&page=2",
                                    "http://testserver/reservations/"])
def test_a_target_on_the_site_is_followed(target):
    assert local_url(RequestFactory().get("/"), target, "/fallback/") == target


def test_an_https_page_does_not_send_the_user_back_over_plain_http():
    request = RequestFactory().get("/", secure=True)
    assert local_url(request, "http://testserver/reservations/", "/") == "/"
    assert local_url(request, "https://testserver/reservations/", "/") == "https://testserver/reservations/"


@pytest.fixture
def branch_client(client, outlet, staff):
    """A branch user (a role that reveals full IDs) and a customer of his branch."""
    user = RoleFactory(kind="branch", organisation=outlet.branch).user
    customer = customer_get_or_create(id_number=make_id_number(), name="张三")
    relationship_create(actor="test", customer=customer, rel_type=RelationshipType.objects.get(pk="NEW_DEV"),
                        shares=[Share(staff, Decimal("1"))], effective_from=dt.date(2026, 3, 5), source="reservation")
    client.force_login(user)
    client.customer = customer
    return client


@pytest.mark.parametrize("back", ["/\\evil.example/", "//evil.example", "https://evil.example"])
def test_r_pii_1_show_full_id_never_links_back_to_another_site(branch_client, back):
    response = branch_client.post(reverse("permissions:unmask_customer", args=[branch_client.customer.pk]),
                                  {"back": back})
    page = response.content.decode()
    assert response.status_code == 200 and "evil.example" not in page
    assert '<a href="/">' in page


def test_r_pii_1_show_full_id_links_back_to_the_page_it_came_from(branch_client):
    back = reverse("work:customer", args=[branch_client.customer.pk])
    response = branch_client.post(reverse("permissions:unmask_customer", args=[branch_client.customer.pk]),
                                  {"back": back})
    assert f'<a href="{back}">' in response.content.decode()


@pytest.mark.second_factor
@pytest.mark.parametrize("target", ["/\\evil.example/", "//evil.example", "https://evil.example"])
def test_r_sec_auth_2_the_second_factor_pages_keep_next_on_the_site(client, outlet, target):
    user = RoleFactory(kind="branch", organisation=outlet.branch).user
    client.force_login(user)
    page = client.get(reverse("signin:enrol"), {"next": target}).content.decode()
    assert f'name="next" value="{reverse("home")}"' in page  # the form's next (the language menu keeps the URL)
    assert "evil.example" not in page.split('<form method="post"', 1)[1].split("</form>", 1)[0]


@pytest.mark.parametrize("target", ["/\\evil.example/", "//evil.example", "https://evil.example"])
def test_r_sec_auth_1_signing_in_never_continues_to_another_site(client, staff, target):
    response = client.post(reverse("login") + "?next=" + target, {"username": staff.user.username,
                                                                   "password": "pw-12345678", "next": target})
    assert response.status_code == 302 and "evil.example" not in response["Location"]
