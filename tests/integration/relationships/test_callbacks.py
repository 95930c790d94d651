"""§11 — callbacks (R-CB-1) and the home page's to-do lists (R-REM-1)."""
from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from approvals.services import case_act
from relationships.callbacks import callback_dispute_resolve, callback_record, callbacks_create_for_date
from relationships.models import AuditEntry, Callback, Relationship
from reservations.models import BatchRun
from tests.support.approvals import branch_created_case, holder, make_branch
from tests.support.factories import OutletFactory, RoleFactory, make_id_number
from tests.support.helpers import at, event_row, nightly, record_events, reserve
from tests.support.secondary import assign, branch_user, lost_customer

pytestmark = pytest.mark.django_db
D = dt.date


def matched_relationship(staff, outlet, day="2026-03-03") -> Relationship:
    idn = make_id_number()
    reserve(staff, id_number=idn, when=at("2026-03-02 09:00"))
    record_events([event_row(when=at(f"{day} 10:00"), id_number=idn, name="张三", outlet=outlet)])
    nightly(day)
    return Relationship.objects.get(customer__id_hash__in=[_h(idn)])


def _h(idn):
    from relationships.pii import pii_hash
    return pii_hash(idn)


def test_every_new_relationship_gets_one_callback_for_its_outlet(staff, outlet):
    """R-CB-1: created by the nightly stage, due five working days later (2026-03-03 → 2026-03-10)."""
    rel = matched_relationship(staff, outlet)
    cb = Callback.objects.get(relationship=rel)
    assert (cb.outlet_id, cb.status, cb.created_on, cb.due_on) == (outlet.pk, "pending", D(2026, 3, 3), D(2026, 3, 10))
    assert BatchRun.objects.get(stage="callbacks").counts == {"callbacks": 1}
    assert AuditEntry.objects.filter(action="callback.create", target_id=str(cb.pk)).exists()


def test_the_callback_stage_is_idempotent(staff, outlet):
    matched_relationship(staff, outlet)
    assert callbacks_create_for_date(business_date=D(2026, 3, 3)) == 0
    assert Callback.objects.count() == 1


def test_a_relationship_created_by_approval_gets_its_callback_the_next_night():
    """R-CB-1 for the approval path: the stage covers every relationship without a callback."""
    b = make_branch()
    approver = holder("designated_person", b.branch, actor=b.head)
    case = branch_created_case(b)
    case_act(actor=approver, case_id=case.pk, decision="approve")
    rel = Relationship.objects.get(type_id="EXISTING_DEV")
    assert not Callback.objects.filter(relationship=rel).exists()
    nightly("2026-03-04")
    assert Callback.objects.get(relationship=rel).outlet_id == b.outlet.pk


def test_the_outlet_records_a_confirmation(staff, outlet):
    rel = matched_relationship(staff, outlet)
    clerk = RoleFactory(kind="outlet_ops", organisation=outlet).user
    cb = callback_record(actor=clerk, callback_id=rel.callback.pk, confirmed=True)
    assert (cb.status, cb.recorded_by_id) == ("confirmed", clerk.pk)
    with pytest.raises(ValidationError):
        callback_record(actor=clerk, callback_id=cb.pk, confirmed=False, reason="again")


def test_a_dispute_needs_a_reason_and_goes_back_to_the_branch(staff, outlet):
    """R-CB-1: disputed with reason → the branch keeps or ends it."""
    rel = matched_relationship(staff, outlet)
    clerk = RoleFactory(kind="outlet_ops", organisation=outlet).user
    with pytest.raises(ValidationError):
        callback_record(actor=clerk, callback_id=rel.callback.pk, confirmed=False, reason=" ")
    callback_record(actor=clerk, callback_id=rel.callback.pk, confirmed=False, reason="客户称不认识该客户经理")
    boss = branch_user(outlet.branch)
    cb = callback_dispute_resolve(actor=boss, callback_id=rel.callback.pk, decision="ended", note="核实属实",
                         end_on=D(2026, 3, 20))
    rel.refresh_from_db()
    assert (cb.resolution, rel.effective_to) == ("ended", D(2026, 3, 20))
    assert list(rel.shares.values_list("effective_to", flat=True)) == [D(2026, 3, 20)]  # the version keeps its dates
    with pytest.raises(ValidationError):
        callback_dispute_resolve(actor=boss, callback_id=cb.pk, decision="kept", note="again")


def test_the_branch_may_keep_a_disputed_relationship(staff, outlet):
    rel = matched_relationship(staff, outlet)
    clerk = RoleFactory(kind="outlet_ops", organisation=outlet).user
    callback_record(actor=clerk, callback_id=rel.callback.pk, confirmed=False, reason="记不清")
    callback_dispute_resolve(actor=branch_user(outlet.branch), callback_id=rel.callback.pk, decision="kept",
                             note="已再次确认")
    rel.refresh_from_db()
    assert rel.effective_to is None


def test_a_holder_may_not_record_the_callback_of_his_own_relationship(staff, outlet):
    rel = matched_relationship(staff, outlet)
    with pytest.raises(PermissionDenied):
        callback_record(actor=staff.user, callback_id=rel.callback.pk, confirmed=True)


# --- pages ---------------------------------------------------------------------------------------------------

def test_outlet_user_records_through_the_page_and_staff_cannot_see_callbacks(client, staff, outlet):
    """R-CB-1 through the page; R-PERM-4: outside scope answers 404."""
    rel = matched_relationship(staff, outlet)
    url = reverse("work:callback", args=[rel.callback.pk])
    client.force_login(staff.user)
    assert client.get(url).status_code == 404
    clerk = RoleFactory(kind="outlet_ops", organisation=outlet).user
    client.force_login(clerk)
    html = client.get(reverse("work:callbacks")).content.decode()
    assert url in html
    response = client.post(url, {"result": "disputed", "reason": ""})
    assert response.status_code == 200 and "errorlist" in response.content.decode()
    response = client.post(url, {"result": "disputed", "reason": "不认识"})
    assert response.status_code == 302
    rel.callback.refresh_from_db()
    assert rel.callback.status == "disputed"
    other = RoleFactory(kind="outlet_ops", organisation=OutletFactory()).user
    client.force_login(other)
    assert client.get(url).status_code == 404


def test_branch_decides_a_dispute_through_the_page(client, staff, outlet):
    rel = matched_relationship(staff, outlet)
    clerk = RoleFactory(kind="outlet_ops", organisation=outlet).user
    callback_record(actor=clerk, callback_id=rel.callback.pk, confirmed=False, reason="不认识")
    client.force_login(branch_user(outlet.branch))
    url = reverse("work:callback", args=[rel.callback.pk])
    response = client.post(url, {"action": "resolve", "decision": "ended", "end_on": "2026-03-21", "note": "核实"})
    assert response.status_code == 302
    rel.refresh_from_db()
    assert rel.effective_to == D(2026, 3, 21)


# --- R-REM-1 home page --------------------------------------------------------------------------------------

def test_home_lists_callbacks_due_for_the_outlet(client, staff, outlet):
    """R-REM-1: callbacks due."""
    rel = matched_relationship(staff, outlet)
    client.force_login(RoleFactory(kind="outlet_head", organisation=outlet).user)
    html = client.get(reverse("home")).content.decode()
    assert reverse("work:callback", args=[rel.callback.pk]) in html


def test_home_lists_approval_steps_waiting_for_the_user(client):
    """R-REM-1: approval steps waiting (approvals.selectors.inbox_for)."""
    b = make_branch()
    approver = holder("designated_person", b.branch, actor=b.head)
    case = branch_created_case(b)
    client.force_login(approver)
    html = client.get(reverse("home")).content.decode()
    assert reverse("approvals:case", args=[case.pk]) in html


def test_home_lists_pre_assigned_customers_not_yet_reserved(client, outlet, staff):
    """R-REM-1: assigned customers not yet reserved; reserving removes the line."""
    idn = lost_customer(outlet)
    nightly("2026-01-15")
    a = assign(branch_user(outlet.branch), idn, staff).assigned[0]
    client.force_login(staff.user)
    reserve_url = reverse("work:reserve", args=[a])
    assert reserve_url in client.get(reverse("home")).content.decode()
    response = client.post(reserve_url, {"phone": "13812345678", "own_ratio": "1", "co-TOTAL_FORMS": "0",
                                         "co-INITIAL_FORMS": "0", "co-MIN_NUM_FORMS": "0",
                                         "co-MAX_NUM_FORMS": "20"})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert reserve_url not in client.get(reverse("home")).content.decode()


def test_home_lists_expiring_and_flagged_reservations_still(client, staff):
    """R-REM-1: the existing items stay (reservations expiring within 7 days, flagged)."""
    client.force_login(staff.user)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert "expiring-heading" in response.content.decode() and "flagged-heading" in response.content.decode()
