"""Builders shared by the approval tests: a branch with its post holders, and cases from the public paths."""
from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from django.utils import timezone

from approvals.models import CaseReason
from approvals.services import case_open, post_assign
from relationships.models import Organisation, RelationshipType
from relationships.services import customer_get_or_create
from tests.support.factories import (
    BranchFactory,
    HQFactory,
    OutletFactory,
    RoleFactory,
    StaffFactory,
    UserFactory,
    make_id_number,
)


def today() -> dt.date:
    return timezone.localdate()


def make_branch():
    """A branch with one outlet, its head (Role branch_head) and two staff members."""
    branch = BranchFactory()
    outlet = OutletFactory(parent=branch)
    head = RoleFactory(kind="branch_head", organisation=branch).user
    staff = StaffFactory(outlet=outlet)
    colleague = StaffFactory(outlet=outlet)
    return SimpleNamespace(branch=branch, outlet=outlet, head=head, staff=staff, colleague=colleague)


def hq_admin():
    hq = HQFactory()
    return RoleFactory(kind="hq", organisation=hq).user, hq


def holder(post: str, organisation: Organisation, *, actor, user=None, valid_from=None, valid_to=None,
           delegate_for=None):
    """Designate a (new) user at `post`; returns the user (with `.assignment`)."""
    user = user or UserFactory()
    user.assignment = post_assign(actor=actor, post=post, organisation=organisation, user=user,
                                  valid_from=valid_from or today() - dt.timedelta(days=30), valid_to=valid_to,
                                  delegate_for=delegate_for)
    return user


def branch_created_case(b, *, type_code="EXISTING_DEV", shares=None, key=None):
    """A one-level case as the branch-created path opens it (R-BR-1)."""
    customer = customer_get_or_create(id_number=make_id_number(), name="王五")
    shares = shares or [{"staff_id": b.staff.pk, "ratio": "1.0000"}]
    return case_open(actor=b.head, reason=CaseReason.BRANCH_CREATED, rel_type=RelationshipType.objects.get(
        code=type_code), customer=customer, proposed_shares=shares, dedupe_key=key or f"branch:{customer.pk}",
        branch=b.branch, applicant=b.staff, explanation="分公司创建")
