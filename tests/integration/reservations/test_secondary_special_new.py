"""§7 R-SEC-5 — special new: a lost/dormant/silent customer developed without a pre-assignment."""
from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from approvals.models import ApprovalCase
from approvals.services import case_act, case_record_documents
from relationships.models import Relationship
from reservations.secondary.special_new import SpecialNewInput, special_new_apply
from tests.support.approvals import holder, hq_admin, make_branch
from tests.support.factories import StaffFactory
from tests.support.helpers import at, nightly
from tests.support.secondary import assign, branch_user, event, lost_customer, open_account

pytestmark = pytest.mark.django_db
D = dt.date


@pytest.fixture
def b():
    b = make_branch()
    b.chain = [holder("designated_person", b.branch, actor=b.head), holder("final_approval", b.branch, actor=b.head)]
    admin, hq = hq_admin()
    b.chain.append(holder("hq", hq, actor=admin))
    return b


def apply(staff, idn, **kw):
    return special_new_apply(actor=staff.user, data=SpecialNewInput(
        staff=staff, customer_name="张三", id_number=idn, phone="13812345678",
        registered_at=kw.pop("when", at("2026-05-01 10:00")), **kw))


def test_special_new_goes_through_three_levels_and_becomes_new_dev(b):
    """R-SEC-5, R-APR-2: designated person → branch head or delegate → HQ → NEW_DEV for front staff."""
    idn = lost_customer(b.outlet, lost_at="2026-01-15 10:00")
    nightly("2026-01-15")
    event(b.outlet, idn, "designate", "2026-04-30 10:00")
    r = apply(b.staff, idn)
    case = ApprovalCase.objects.get(pk=r.approval_case_id)
    assert (r.status, r.type_id, case.reason, case.chain.code) == ("pending_approval", "NEW_DEV", "special_new",
                                                                   "special_new")
    assert list(case.steps.order_by("order").values_list("post", flat=True)) == [
        "designated_person", "final_approval", "hq"]
    for approver in b.chain:
        case_act(actor=approver, case_id=case.pk, decision="approve")
    rel = Relationship.objects.get(type_id="NEW_DEV")
    assert rel.effective_from == D(2026, 4, 30)  # from the comeback
    r.refresh_from_db()
    assert r.status == "matched" and r.relationship_id == rel.pk


def test_a_broker_s_special_new_becomes_broker_dev_after_the_documents(b):
    """R-SEC-5: BROKER_DEV for brokers (R-APR-5 applies: documents before the final approval)."""
    broker = StaffFactory(outlet=b.outlet, kind="broker")
    idn = lost_customer(b.outlet, lost_at="2026-01-15 10:00")
    nightly("2026-01-15")
    r = apply(broker, idn)
    case = ApprovalCase.objects.get(pk=r.approval_case_id)
    assert (r.type_id, case.chain.code) == ("BROKER_DEV", "special_new")
    case_act(actor=b.chain[0], case_id=case.pk, decision="approve")
    case_act(actor=b.chain[1], case_id=case.pk, decision="approve")
    with pytest.raises(ValidationError):
        case_act(actor=b.chain[2], case_id=case.pk, decision="approve")
    case_record_documents(actor=b.head, case_id=case.pk, documents={
        "risk_disclosure_received": True, "risk_disclosure_reviewed": True,
        "service_confirmation_received": True, "service_confirmation_reviewed": True})
    case_act(actor=b.chain[2], case_id=case.pk, decision="approve")
    assert Relationship.objects.get(type_id="BROKER_DEV").shares.get().staff_id == broker.pk


def test_special_new_needs_a_lost_dormant_or_silent_customer(b):
    idn = open_account(b.outlet)
    nightly("2026-01-15")
    with pytest.raises(ValidationError) as err:
        apply(b.staff, idn)
    assert "不适用特殊新增申请" in str(err.value)


def test_a_pre_assigned_customer_is_not_special_new(b):
    """R-SEC-4/5: the assignee reserves as secondary development; others are told the outlet only."""
    idn = lost_customer(b.outlet, lost_at="2026-01-15 10:00")
    nightly("2026-01-15")
    assign(branch_user(b.branch), idn, b.staff)
    with translation.override("en"), pytest.raises(ValidationError) as own:
        apply(b.staff, idn)
    assert "secondary development" in str(own.value)
    with pytest.raises(ValidationError) as other:
        apply(b.colleague, idn)
    assert b.outlet.name in str(other.value) and b.staff.name not in str(other.value)


def test_a_rejected_special_new_refuses_its_reservation(b):
    idn = lost_customer(b.outlet, lost_at="2026-01-15 10:00")
    nightly("2026-01-15")
    r = apply(b.staff, idn)
    case_act(actor=b.chain[0], case_id=r.approval_case_id, decision="reject", reason="无开发记录")
    r.refresh_from_db()
    assert r.status == "refused" and not Relationship.objects.filter(type_id="NEW_DEV").exists()


def test_a_silent_customer_s_special_new_does_not_date_back_to_his_first_opening(b):
    """R-SEC-5: without a comeback event the relationship starts when the case is approved."""
    from django.utils import timezone

    from tests.support.secondary import silent_history

    idn = open_account(b.outlet, when="2019-03-04 10:00")
    silent_history([idn])
    nightly("2025-12-31")
    r = apply(b.staff, idn, when=at("2026-01-05 10:00"))
    case = ApprovalCase.objects.get(pk=r.approval_case_id)
    assert case.opening_event_id is None
    for approver in b.chain:
        case_act(actor=approver, case_id=case.pk, decision="approve")
    assert Relationship.objects.get(type_id="NEW_DEV").effective_from == timezone.localdate()
