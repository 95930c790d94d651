"""Builders for the browser tests: cases reached through the public paths, with named post holders."""
from __future__ import annotations

from approvals.models import ApprovalCase, Post
from tests.support.approvals import holder, hq_admin
from tests.support.factories import BranchFactory, OutletFactory, RoleFactory, StaffFactory, make_id_number
from tests.support.helpers import at, event_row, load_events, nightly, reserve


def late_case_with_three_holders(id_number: str | None = None):
    """A late NEW_DEV reservation (R-MATCH-4) and the three post holders of its branch."""
    admin, _hq = hq_admin()
    outlet = OutletFactory()
    staff = StaffFactory(outlet=outlet)
    idn = id_number or make_id_number()
    load_events([event_row(when=at("2026-09-30 10:00"), id_number=idn, name="张三", outlet=outlet)])
    nightly("2026-09-30")
    reservation = reserve(staff, id_number=idn, when=at("2026-10-10 09:00"))
    holders = [holder(post, outlet.branch, actor=admin)
               for post in (Post.ACCOUNT_OPENING_REVIEW, Post.OUTLET_REVIEW, Post.FINAL_APPROVAL)]
    return ApprovalCase.objects.get(pk=reservation.approval_case_id), holders


def cross_region_case_and_hq_reviewer():
    """A NEW_DEV whose co-developer works in another branch (R-MATCH-5), and an HQ reviewer."""
    admin, hq = hq_admin()
    outlet = OutletFactory()
    staff = StaffFactory(outlet=outlet)
    far = StaffFactory(outlet=OutletFactory(parent=BranchFactory()))
    idn = make_id_number()
    reserve(staff, id_number=idn, when=at("2026-03-02 09:00"), participants=[(staff, "0.5"), (far, "0.5")])
    load_events([event_row(when=at("2026-03-03 10:00"), id_number=idn, name="张三", outlet=outlet)])
    nightly("2026-03-03")
    reviewer = RoleFactory(kind="hq_reviewer", organisation=hq).user
    return ApprovalCase.objects.get(reason="cross_region"), reviewer
