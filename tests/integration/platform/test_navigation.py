"""R-PERM-4 / issue 19: the top navigation offers a person only pages that answer him — no link that ends in a
refusal. The pages decide who may act; the navigation asks the same question (a branch permission admin's scope is
his branch, but he does not act for it: the pre-assignment list is not his)."""
from __future__ import annotations

import re

import pytest

from permissions.models import Role, RoleKind
from permissions.services import branch_admin_assign
from tests.support.factories import BranchFactory, HQFactory, OutletFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

_NAV = re.compile(r'<nav class="main".*?</nav>', re.S)
_HREF = re.compile(r'href="([^"]+)"')


def _people() -> dict:
    hq = HQFactory()
    branch = BranchFactory()
    outlet = OutletFactory(parent=branch)
    hq_user = UserFactory(username="hq-nav")
    Role.objects.create(user=hq_user, kind=RoleKind.HQ, organisation=hq)
    reviewer = UserFactory(username="reviewer-nav")
    Role.objects.create(user=reviewer, kind="hq_reviewer", organisation=hq)
    branch_user = UserFactory(username="branch-nav")
    Role.objects.create(user=branch_user, kind=RoleKind.BRANCH, organisation=branch)
    head = UserFactory(username="head-nav")
    Role.objects.create(user=head, kind=RoleKind.BRANCH_HEAD, organisation=branch)
    outlet_head = UserFactory(username="outlet-nav")
    Role.objects.create(user=outlet_head, kind=RoleKind.OUTLET_HEAD, organisation=outlet)
    padmin = UserFactory(username="padmin-nav")
    branch_admin_assign(actor=hq_user, user=padmin, branch=branch, reason="permission admin")
    return {"hq": hq_user, "hq reviewer": reviewer, "branch user": branch_user, "branch head": head,
            "outlet head": outlet_head, "branch permission admin": padmin, "staff": StaffFactory(outlet=outlet).user}


def test_every_link_of_the_navigation_answers_the_person_it_is_offered_to(client):
    for who, user in _people().items():
        client.force_login(user)
        nav = _NAV.search(client.get("/").content.decode())
        assert nav, who
        links = [h for h in _HREF.findall(nav.group(0)) if h.startswith("/") and not h.startswith("/admin/")]
        assert links, who
        for href in links:
            assert client.get(href).status_code == 200, (who, href)


def test_a_branch_permission_admin_is_not_offered_the_pre_assignment_list_a_branch_user_is(client):
    people = _people()
    client.force_login(people["branch permission admin"])
    assert 'href="/work/secondary/"' not in client.get("/").content.decode()
    assert client.get("/work/secondary/").status_code == 403
    client.force_login(people["branch user"])
    assert 'href="/work/secondary/"' in client.get("/").content.decode()
