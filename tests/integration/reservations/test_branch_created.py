"""§8 R-BR-1 — branch-created relationships: create, replace, end through the 1-level chain; every version kept."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import translation

from approvals.models import ApprovalCase
from approvals.services import case_act, case_resubmit, case_withdraw
from relationships.models import AuditEntry, BranchRequest, Relationship
from reservations.branch.requests import (
    BranchRequestInput,
    branch_relationship_end,
    branch_request_create,
    branch_request_replace,
)
from reservations.exchange.registry import load_feed
from tests.support.approvals import holder, make_branch
from tests.support.factories import OutletFactory, StaffFactory
from tests.support.helpers import csv_bytes
from tests.support.secondary import branch_user, customer_of, open_account

pytestmark = pytest.mark.django_db
D = dt.date


@pytest.fixture
def b():
    b = make_branch()
    b.boss = branch_user(b.branch)
    b.approver = holder("designated_person", b.branch, actor=b.head)
    b.idn = open_account(b.outlet)
    return b


def create(b, *, type_code="MAINTENANCE", shares=None, on="2026-03-01", actor=None):
    return branch_request_create(actor=actor or b.boss, branch=b.branch, data=BranchRequestInput(
        id_number=b.idn, type_code=type_code, participants=shares or [(b.staff, "0.6"), (b.colleague, "0.4")],
        effective_from=D.fromisoformat(on)))


def case_of(req) -> ApprovalCase:
    return ApprovalCase.objects.get(dedupe_key=f"branch_request:{req.pk}")


def approve(b, req):
    return case_act(actor=b.approver, case_id=case_of(req).pk, decision="approve")


def versions(b, type_code="MAINTENANCE"):
    return list(Relationship.objects.filter(customer=customer_of(b.idn), type_id=type_code)
                .order_by("effective_from", "id").values_list("effective_from", "effective_to"))


@pytest.mark.parametrize("type_code", ["EXISTING_DEV", "MAINTENANCE", "KEY_SERVICE"])
def test_branch_creates_with_participants_and_ratios_after_one_level_approval(b, type_code):
    """R-BR-1: the branch designated person approves (1 level); the relationship starts on the requested date."""
    req = create(b, type_code=type_code)
    case = case_of(req)
    assert (case.reason, case.chain.code, case.status) == ("branch_created", "one_level", "pending")
    assert list(case.steps.values_list("post", "organisation")) == [("designated_person", b.branch.pk)]
    assert not Relationship.objects.filter(type_id=type_code).exists()
    approve(b, req)
    rel = Relationship.objects.get(type_id=type_code)
    assert (rel.effective_from, rel.outlet_id) == (D(2026, 3, 1), b.outlet.pk)
    assert sorted(rel.shares.values_list("staff_id", "ratio")) == sorted(
        [(b.staff.pk, Decimal("0.6000")), (b.colleague.pk, Decimal("0.4000"))])
    req.refresh_from_db()
    assert (req.status, req.new_relationship_id) == ("approved", rel.pk)


def test_ratios_and_attach_permission_are_checked_on_creation(b):
    """R-RES-4, R-ATT-1."""
    with pytest.raises(ValidationError) as err:
        create(b, shares=[(b.staff, "0.7"), (b.colleague, "0.4")])
    assert "participants" in err.value.message_dict
    b.colleague.attach_open = False
    b.colleague.save()
    with pytest.raises(ValidationError):
        create(b, shares=[(b.staff, "0.5"), (b.colleague, "0.5")])
    assert not BranchRequest.objects.exists()


def test_participants_must_be_staff_of_the_branch(b):
    far = StaffFactory(outlet=OutletFactory())
    with pytest.raises(ValidationError):
        create(b, shares=[(b.staff, "0.5"), (far, "0.5")])


def test_another_branch_may_not_create_for_this_branch(b):
    with pytest.raises(PermissionDenied):
        create(b, actor=branch_user(OutletFactory().branch))


def test_a_second_active_one_or_a_pending_one_is_refused(b):
    req = create(b)
    with pytest.raises(ValidationError):
        create(b)
    approve(b, req)
    with translation.override("en"), pytest.raises(ValidationError) as err:
        create(b)
    assert "replace" in str(err.value)


def test_replacement_ends_the_old_version_on_the_new_start_and_keeps_both(b):
    """R-BR-1: every change keeps the old version with its validity dates."""
    approve(b, create(b))
    old = Relationship.objects.get(type_id="MAINTENANCE")
    req = branch_request_replace(actor=b.boss, relationship_id=old.pk, participants=[(b.colleague, "1")],
                                 effective_from=D(2026, 6, 1))
    approve(b, req)
    assert versions(b) == [(D(2026, 3, 1), D(2026, 6, 1)), (D(2026, 6, 1), None)]
    new = Relationship.objects.get(type_id="MAINTENANCE", effective_to__isnull=True)
    assert list(new.shares.values_list("staff_id", "ratio")) == [(b.colleague.pk, Decimal("1.0000"))]
    assert set(old.shares.values_list("effective_to", flat=True)) == {D(2026, 6, 1)}


def test_a_rejected_replacement_leaves_the_old_version_untouched(b):
    approve(b, create(b))
    old = Relationship.objects.get(type_id="MAINTENANCE")
    req = branch_request_replace(actor=b.boss, relationship_id=old.pk, participants=[(b.colleague, "1")],
                                 effective_from=D(2026, 6, 1))
    case_act(actor=b.approver, case_id=case_of(req).pk, decision="reject", reason="比例有误")
    old.refresh_from_db()
    assert old.effective_to is None
    assert set(old.shares.values_list("effective_to", flat=True)) == {None}
    req.refresh_from_db()
    assert req.status == "rejected"
    assert versions(b) == [(D(2026, 3, 1), None)]
    assert not AuditEntry.objects.filter(action__startswith="relationship.", target_id=str(old.pk)).exclude(
        action="relationship.create").exists()


def test_replacement_keeps_the_old_version_active_until_approved(b):
    """R-BR-1: while the replacement waits, the old version stays active for its holders; on approval the old
    one ends on the new start date and the new one is created, in the approving transaction."""
    approve(b, create(b))
    old = Relationship.objects.get(type_id="MAINTENANCE")
    req = branch_request_replace(actor=b.boss, relationship_id=old.pk, participants=[(b.colleague, "1")],
                                 effective_from=D(2026, 6, 1))
    case = case_of(req)
    assert (case.outcome, case.target_relationship_id, case.filed_by_id) == ("replace", old.pk, b.boss.pk)
    old.refresh_from_db()
    assert old.effective_to is None
    assert set(old.shares.values_list("effective_to", flat=True)) == {None}
    assert versions(b) == [(D(2026, 3, 1), None)]
    approve(b, req)
    old.refresh_from_db()
    assert old.effective_to == D(2026, 6, 1)
    assert set(old.shares.values_list("effective_to", flat=True)) == {D(2026, 6, 1)}
    new = Relationship.objects.get(type_id="MAINTENANCE", effective_to__isnull=True)
    assert new.effective_from == D(2026, 6, 1)
    req.refresh_from_db()
    assert (req.status, req.new_relationship_id) == ("approved", new.pk)
    assert sorted(req.ended_share_ids) == sorted(old.shares.values_list("id", flat=True))
    assert AuditEntry.objects.filter(action="relationship.replace", target_id=str(old.pk)).exists()


def test_branch_ends_a_relationship_through_the_one_level_chain(b):
    """R-BR-1: ending goes through the 1-level chain; the relationship stays active until approval."""
    approve(b, create(b))
    rel = Relationship.objects.get(type_id="MAINTENANCE")
    with pytest.raises(ValidationError):
        branch_relationship_end(actor=b.boss, relationship_id=rel.pk, on=D(2026, 9, 1), reason="")
    req = branch_relationship_end(actor=b.boss, relationship_id=rel.pk, on=D(2026, 9, 1), reason="客户经理离职")
    assert (req.kind, req.status) == ("end", "pending")
    case = case_of(req)
    assert (case.reason, case.chain.code, case.status, case.outcome) == ("branch_created", "one_level", "pending",
                                                                         "end")
    assert list(case.steps.values_list("post", "organisation")) == [("designated_person", b.branch.pk)]
    assert case.target_relationship_id == rel.pk and case.opening_date == D(2026, 9, 1)
    assert versions(b) == [(D(2026, 3, 1), None)]          # still active while pending
    assert set(rel.shares.values_list("effective_to", flat=True)) == {None}
    with pytest.raises(ValidationError):                    # one request at a time
        branch_relationship_end(actor=b.boss, relationship_id=rel.pk, on=D(2026, 9, 2), reason="again")
    with pytest.raises(ValidationError):                    # no holders on an end case
        case_act(actor=b.approver, case_id=case.pk, decision="approve",
                 shares=[{"staff_id": b.staff.pk, "ratio": "1"}])
    approve(b, req)
    assert versions(b) == [(D(2026, 3, 1), D(2026, 9, 1))]
    assert set(rel.shares.values_list("effective_to", flat=True)) == {D(2026, 9, 1)}
    assert Relationship.objects.filter(type_id="MAINTENANCE").count() == 1
    req.refresh_from_db()
    assert (req.status, req.new_relationship_id) == ("approved", None)
    assert sorted(req.ended_share_ids) == sorted(rel.shares.values_list("id", flat=True))
    assert AuditEntry.objects.filter(action="relationship.end", target_id=str(rel.pk)).exists()
    with pytest.raises(ValidationError):
        branch_relationship_end(actor=b.boss, relationship_id=rel.pk, on=D(2026, 9, 2), reason="again")


def test_a_rejected_end_leaves_the_relationship_active(b):
    approve(b, create(b))
    rel = Relationship.objects.get(type_id="MAINTENANCE")
    req = branch_relationship_end(actor=b.boss, relationship_id=rel.pk, on=D(2026, 9, 1), reason="客户经理离职")
    case_act(actor=b.approver, case_id=case_of(req).pk, decision="reject", reason="仍在服务")
    rel.refresh_from_db()
    assert rel.effective_to is None
    assert set(rel.shares.values_list("effective_to", flat=True)) == {None}
    req.refresh_from_db()
    assert req.status == "rejected"


def test_a_returned_branch_case_is_resubmitted_by_the_branch_user_who_filed_it(b):
    """The branch case has no staff applicant: the filing user corrects and resubmits (or withdraws) it."""
    req = create(b)
    case = case_of(req)
    assert (case.applicant_id, case.filed_by_id) == (None, b.boss.pk)
    case_act(actor=b.approver, case_id=case.pk, decision="return", reason="比例请调整")
    other = branch_user(b.branch)
    with pytest.raises(PermissionDenied):
        case_resubmit(actor=other, case_id=case.pk, shares=[{"staff_id": b.staff.pk, "ratio": "1"}])
    with pytest.raises(PermissionDenied):
        case_withdraw(actor=other, case_id=case.pk)
    case = case_resubmit(actor=b.boss, case_id=case.pk, shares=[{"staff_id": b.staff.pk, "ratio": "1"}])
    assert case.status == "pending"
    with pytest.raises(PermissionDenied):                   # the filer may not approve his own case
        case_act(actor=b.boss, case_id=case.pk, decision="approve")
    approve(b, req)
    rel = Relationship.objects.get(type_id="MAINTENANCE")
    assert list(rel.shares.values_list("staff_id", flat=True)) == [b.staff.pk]


def test_a_returned_branch_case_can_be_withdrawn_by_its_filer_on_the_case_page(client, b):
    req = create(b)
    case = case_of(req)
    case_act(actor=b.approver, case_id=case.pk, decision="return", reason="请补充")
    client.force_login(b.boss)
    html = client.get(reverse("approvals:case", args=[case.pk])).content.decode()
    assert reverse("approvals:resubmit", args=[case.pk]) in html
    assert reverse("approvals:withdraw", args=[case.pk]) in html
    confirm = client.post(reverse("approvals:withdraw", args=[case.pk]))   # asks for confirmation first
    assert 'name="confirmed" value="1"' in confirm.content.decode()
    assert ApprovalCase.objects.get(pk=case.pk).status == "returned"
    client.post(reverse("approvals:withdraw", args=[case.pk]), {"confirmed": "1"})
    case.refresh_from_db()
    req.refresh_from_db()
    assert (case.status, req.status) == ("withdrawn", "withdrawn")


def test_only_branch_types_are_created_replaced_or_ended_here(b):
    with pytest.raises(ValidationError):
        create(b, type_code="NEW_DEV")


# --- the `relationships` feed (§12) -------------------------------------------------------------------------

def test_relationships_feed_enters_each_line_into_its_chain(b):
    """§12: id_number,relationship_type,participants,effective_from; same rules as the form."""
    other = open_account(b.outlet)
    content = csv_bytes(["id_number", "relationship_type", "participants", "effective_from"], [
        [b.idn, "KEY_SERVICE", f"{b.staff.staff_no}:0.5;{b.colleague.staff_no}:0.5", "2026-03-01"],
        [other, "EXISTING_DEV", b.staff.staff_no, "2026-03-01"],
        [other, "EXISTING_DEV", b.staff.staff_no, "2026-03-01"],           # already waiting
        [other, "MAINTENANCE", f"{b.staff.staff_no}:1.5", "2026-03-01"],    # ratio > 1
        [other, "NEW_DEV", b.staff.staff_no, "2026-03-01"],                 # not a branch type
        [other, "MAINTENANCE", "NOBODY:1", "2026-03-01"],
        [other, "MAINTENANCE", b.staff.staff_no, "01/03/2026"],
    ])
    result = load_feed(actor="test", kind="relationships", content=content, filename="relationships.csv")
    assert result.rows_loaded == 2
    assert [line for line, _r in result.errors] == [4, 5, 6, 7, 8]
    assert ApprovalCase.objects.filter(reason="branch_created").count() == 2


# --- pages -------------------------------------------------------------------------------------------------

def test_customer_page_shows_every_version_with_its_dates(client, b):
    """R-BR-1: a customer page shows the full relationship history."""
    approve(b, create(b))
    old = Relationship.objects.get(type_id="MAINTENANCE")
    approve(b, branch_request_replace(actor=b.boss, relationship_id=old.pk, participants=[(b.colleague, "1")],
                                      effective_from=D(2026, 6, 1)))
    client.force_login(b.boss)
    html = client.get(reverse("work:customer", args=[customer_of(b.idn).pk])).content.decode()
    assert html.count("2026-06-01") >= 2 and "2026-03-01" in html
    assert reverse("work:replace", args=[Relationship.objects.get(effective_to__isnull=True,
                                                                  type_id="MAINTENANCE").pk]) in html
    assert reverse("work:replace", args=[old.pk]) not in html
    client.force_login(branch_user(OutletFactory().branch))
    assert client.get(reverse("work:customer", args=[customer_of(b.idn).pk])).status_code == 404


def test_branch_creates_through_the_page(client, b):
    client.force_login(b.boss)
    response = client.post(reverse("work:branch_new"), {
        "relationship_type": "KEY_SERVICE", "id_number": b.idn,
        "participants": f"{b.staff.staff_no}:0.6;{b.colleague.staff_no}:0.6", "effective_from": "2026-03-01"})
    assert response.status_code == 200 and "1.2" in response.content.decode()
    response = client.post(reverse("work:branch_new"), {
        "relationship_type": "KEY_SERVICE", "id_number": b.idn,
        "participants": f"{b.staff.staff_no}:0.6;{b.colleague.staff_no}:0.4", "effective_from": "2026-03-01"})
    assert response.status_code == 302
    assert BranchRequest.objects.get().type_id == "KEY_SERVICE"
    assert reverse("approvals:case", args=[ApprovalCase.objects.get().pk]) in client.get(
        reverse("work:branch_requests")).content.decode()


def test_branch_ends_through_the_page(client, b):
    approve(b, create(b))
    rel = Relationship.objects.get(type_id="MAINTENANCE")
    client.force_login(b.boss)
    response = client.post(reverse("work:end", args=[rel.pk]), {"on": "2026-09-01", "reason": "离职"})
    assert response.status_code == 302
    rel.refresh_from_db()
    assert rel.effective_to is None                          # waits for the designated person
    approve(b, BranchRequest.objects.get(kind="end"))
    rel.refresh_from_db()
    assert rel.effective_to == D(2026, 9, 1)
