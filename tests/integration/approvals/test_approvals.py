"""§9 — the approval engine on the real PostgreSQL: chains end to end, R-APR-1…8."""
from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import translation

from approvals import hooks
from approvals.models import ApprovalCase, CaseAction, CaseStep, Chain, ChainStep
from approvals.selectors import hq_inbox, inbox_for, visible_cases
from approvals.services import case_act, case_record_documents, case_resubmit, case_withdraw, post_assign
from relationships.models import AuditEntry, Relationship
from reservations.models import Reservation
from tests.support.approvals import branch_created_case, holder, hq_admin, make_branch, today
from tests.support.factories import BranchFactory, OutletFactory, StaffFactory, UserFactory, make_id_number
from tests.support.helpers import at, event_row, nightly, record_events, reserve

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_nights():
    global _nights
    _nights = itertools.count(0)


@pytest.fixture(autouse=True)
def _english_messages():
    """Messages are matched on their English msgids; the UI language itself is tested in the view tests."""
    with translation.override("en"):
        yield


@pytest.fixture
def b():
    return make_branch()


@pytest.fixture
def three(b):
    """The three posts of the 3-level chain at the branch, each held by a different user."""
    return [holder(p, b.branch, actor=b.head) for p in ("account_opening_review", "outlet_review", "final_approval")]


_nights = itertools.count(0)


def late_case(b, *, type_code="NEW_DEV", account_type="securities", participants=None):
    """A late reservation (R-MATCH-4) sent to approval by the nightly run (opened 2026-03-02, 03-04, …)."""
    opened = dt.date(2026, 3, 2) + dt.timedelta(days=2 * next(_nights))
    idn = make_id_number()
    record_events([event_row(when=at(f"{opened} 10:00"), id_number=idn, name="张三", outlet=b.outlet,
                           account_type=account_type)])
    r = reserve(b.staff, id_number=idn, type_code=type_code, when=at(f"{opened + dt.timedelta(days=1)} 09:00"),
                participants=participants or [(b.staff, "0.6"), (b.colleague, "0.4")])
    nightly(str(opened + dt.timedelta(days=1)))
    r.refresh_from_db()
    assert r.status == "pending_approval"
    return ApprovalCase.objects.get(pk=r.approval_case_id), r


def _case(case) -> ApprovalCase:
    return ApprovalCase.objects.get(pk=case.pk)


def _shares(rel) -> list:
    return sorted(rel.shares.values_list("staff_id", "ratio"))


# --- chains end to end -------------------------------------------------------------------------------

def test_three_level_late_case_needs_three_different_approvers_then_creates_relationship_from_opening_date(b, three):
    """R-APR-2, R-MATCH-4: late case → 3 levels → relationship with the approved ratios, from the opening date."""
    case, r = late_case(b)
    assert case.chain.code == "three_level" and case.reason == "late"
    assert list(case.steps.values_list("order", "post", "organisation")) == [
        (1, "account_opening_review", b.branch.pk), (2, "outlet_review", b.branch.pk),
        (3, "final_approval", b.branch.pk)]
    for n, user in enumerate(three, start=1):
        assert not Relationship.objects.exists()
        c = case_act(actor=user, case_id=case.pk, decision="approve")
        assert c.status == ("approved" if n == 3 else "pending")
    rel = Relationship.objects.get()
    assert rel.effective_from == dt.date(2026, 3, 2) and rel.source == "approval"
    assert _shares(rel) == sorted([(b.staff.pk, Decimal("0.6000")), (b.colleague.pk, Decimal("0.4000"))])
    r.refresh_from_db()
    assert r.status == "matched" and r.relationship_id == rel.pk
    assert list(CaseAction.objects.filter(case=case).values_list("decision", "actor", "step_order")) == [
        ("approve", three[0].pk, 1), ("approve", three[1].pk, 2), ("approve", three[2].pk, 3)]
    assert AuditEntry.objects.filter(action="reservation.case_decided", target_id=str(r.pk)).exists()


def test_two_level_ib_case_goes_outlet_head_then_branch_final_approval(b):
    """R-APR-2: IB late → outlet head (at the opening outlet) → branch head or delegate."""
    case, r = late_case(b, type_code="IB_SERVICE", account_type="futures")
    assert case.chain.code == "two_level_ib"
    assert list(case.steps.values_list("post", "organisation")) == [
        ("outlet_head", b.outlet.pk), ("final_approval", b.branch.pk)]
    branch_level_holder = holder("outlet_head", b.branch, actor=b.head)  # wrong organisation for step 1
    with pytest.raises(PermissionDenied):
        case_act(actor=branch_level_holder, case_id=case.pk, decision="approve")
    case_act(actor=holder("outlet_head", b.outlet, actor=b.head), case_id=case.pk, decision="approve")
    case_act(actor=holder("final_approval", b.branch, actor=b.head), case_id=case.pk, decision="approve")
    assert _case(case).status == "approved"
    assert Relationship.objects.get(type_id="IB_SERVICE").effective_from == dt.date(2026, 3, 2)


def test_one_level_branch_created_case_is_approved_by_the_designated_person(b):
    """R-APR-2, R-BR-1: one level; no opening date → effective from the approval day."""
    case = branch_created_case(b)
    assert case.chain.code == "one_level"
    case_act(actor=holder("designated_person", b.branch, actor=b.head), case_id=case.pk, decision="approve")
    rel = Relationship.objects.get(type_id="EXISTING_DEV")
    assert rel.effective_from == today() and _shares(rel) == [(b.staff.pk, Decimal("1.0000"))]


def test_cross_region_branches_confirm_in_any_order_then_hq_decides(b):
    """R-MATCH-5, R-APR-6: parallel confirmations by both branches, then HQ; HQ inbox lists the case."""
    far_branch = BranchFactory()
    far = StaffFactory(outlet=OutletFactory(parent=far_branch))
    far_head = UserFactory()
    from tests.support.factories import RoleFactory
    RoleFactory(user=far_head, kind="branch_head", organisation=far_branch)
    idn = make_id_number()
    r = reserve(b.staff, id_number=idn, when=at("2026-03-02 09:00"), participants=[(b.staff, "0.5"), (far, "0.5")])
    record_events([event_row(when=at("2026-03-03 10:00"), id_number=idn, name="张三", outlet=b.outlet)])
    nightly("2026-03-03")
    case = ApprovalCase.objects.get()
    assert case.reason == "cross_region"
    admin, hq = hq_admin()
    assert sorted(case.steps.values_list("order", "post", "organisation")) == sorted([
        (1, "final_approval", b.branch.pk), (1, "final_approval", far_branch.pk), (2, "hq", hq.pk)])
    reviewer = holder("hq", hq, actor=admin)
    assert list(hq_inbox(reviewer)) == [case]
    with pytest.raises(ValidationError, match="not at your step"):
        case_act(actor=reviewer, case_id=case.pk, decision="approve")
    far_final = holder("final_approval", far_branch, actor=far_head)
    near_final = holder("final_approval", b.branch, actor=b.head)
    case_act(actor=far_final, case_id=case.pk, decision="approve")       # participant branch first
    assert _case(case).current_step == 1 and not Relationship.objects.exists()
    case_act(actor=near_final, case_id=case.pk, decision="approve")      # then the opening branch
    assert _case(case).current_step == 2
    assert [s.case_id for s in inbox_for(reviewer)] == [case.pk]
    case_act(actor=reviewer, case_id=case.pk, decision="approve")
    rel = Relationship.objects.get()
    assert _shares(rel) == sorted([(b.staff.pk, Decimal("0.5000")), (far.pk, Decimal("0.5000"))])
    r.refresh_from_db()
    assert r.status == "matched"
    assert list(hq_inbox(reviewer)) == []


def test_broker_case_cannot_complete_until_both_documents_are_received_and_reviewed(b, three):
    """R-APR-5."""
    broker = StaffFactory(outlet=b.outlet, kind="broker")
    idn = make_id_number()
    r = reserve(broker, id_number=idn, type_code="BROKER_DEV", when=at("2026-03-02 09:00"))
    record_events([event_row(when=at("2026-03-03 10:00"), id_number=idn, name="张三", outlet=b.outlet)])
    nightly("2026-03-03")
    case = ApprovalCase.objects.get()
    assert case.chain.code == "broker"
    case_act(actor=three[0], case_id=case.pk, decision="approve")
    case_act(actor=three[1], case_id=case.pk, decision="approve")
    with pytest.raises(ValidationError, match="R-APR-5"):
        case_act(actor=three[2], case_id=case.pk, decision="approve")
    with pytest.raises(PermissionDenied):  # the broker himself cannot record them
        case_record_documents(actor=broker.user, case_id=case.pk, documents={"risk_disclosure_received": True})
    case_record_documents(actor=three[1], case_id=case.pk, documents={
        "risk_disclosure_received": True, "risk_disclosure_reviewed": True, "service_confirmation_received": True})
    with pytest.raises(ValidationError, match="R-APR-5"):
        case_act(actor=three[2], case_id=case.pk, decision="approve")
    assert not Relationship.objects.exists() and _case(case).status == "pending"
    case_act(actor=three[2], case_id=case.pk, decision="approve",
             documents={"service_confirmation_reviewed": True})
    assert Relationship.objects.get(type_id="BROKER_DEV").shares.get().staff_id == broker.pk
    r.refresh_from_db()
    assert r.status == "matched"
    assert CaseAction.objects.filter(case=case, decision="documents").count() == 2


# --- reject, return, withdraw ------------------------------------------------------------------------

def test_reject_needs_a_reason_and_ends_the_case_refusing_its_reservations(b, three):
    """R-APR-4."""
    case, r = late_case(b)
    with pytest.raises(ValidationError, match="reason"):
        case_act(actor=three[0], case_id=case.pk, decision="reject", reason="  ")
    case_act(actor=three[0], case_id=case.pk, decision="reject", reason="开户资料不符")
    assert _case(case).status == "rejected"
    assert not CaseStep.objects.filter(case=case, state="pending").exists()
    r.refresh_from_db()
    assert r.status == "refused" and not Relationship.objects.exists()
    assert CaseAction.objects.get(case=case).reason == "开户资料不符"
    with pytest.raises(ValidationError, match="moved on"):
        case_act(actor=three[1], case_id=case.pk, decision="approve")


def test_return_needs_a_reason_and_the_applicant_resubmits_corrected_ratios_from_the_first_step(b, three):
    """R-APR-4: returned to the applicant; his correction is re-checked (R-RES-4) and the chain restarts."""
    case, r = late_case(b)
    case_act(actor=three[0], case_id=case.pk, decision="approve")
    with pytest.raises(ValidationError, match="reason"):
        case_act(actor=three[1], case_id=case.pk, decision="return")
    case_act(actor=three[1], case_id=case.pk, decision="return", reason="比例需调整")
    assert _case(case).status == "returned"
    with pytest.raises(PermissionDenied):
        case_resubmit(actor=three[0], case_id=case.pk)
    with pytest.raises(ValidationError):
        case_resubmit(actor=b.staff.user, case_id=case.pk, shares=[
            {"staff_id": b.staff.pk, "ratio": "0.7"}, {"staff_id": b.colleague.pk, "ratio": "0.4"}])
    case_resubmit(actor=b.staff.user, case_id=case.pk, shares=[
        {"staff_id": b.staff.pk, "ratio": "0.7"}, {"staff_id": b.colleague.pk, "ratio": "0.3"}])
    c = _case(case)
    assert c.status == "pending" and c.current_step == 1
    assert set(c.steps.values_list("state", flat=True)) == {"pending"}
    for user in three:
        case_act(actor=user, case_id=case.pk, decision="approve")
    assert _shares(Relationship.objects.get()) == sorted([(b.staff.pk, Decimal("0.7000")),
                                                          (b.colleague.pk, Decimal("0.3000"))])
    assert [a.decision for a in CaseAction.objects.filter(case=case)] == [
        "approve", "return", "resubmit", "approve", "approve", "approve"]


def test_applicant_withdraws_before_the_final_step_but_not_at_it(b, three):
    """R-APR-4."""
    case, r = late_case(b)
    case_act(actor=three[0], case_id=case.pk, decision="approve")
    with pytest.raises(PermissionDenied):
        case_withdraw(actor=three[0], case_id=case.pk)
    case_withdraw(actor=b.staff.user, case_id=case.pk)
    assert _case(case).status == "withdrawn"
    r.refresh_from_db()
    assert r.status == "refused" and r.note_shown

    case2, _r2 = late_case(b)
    case_act(actor=three[0], case_id=case2.pk, decision="approve")
    case_act(actor=three[1], case_id=case2.pk, decision="approve")
    with pytest.raises(ValidationError, match="final step"):
        case_withdraw(actor=b.staff.user, case_id=case2.pk)


# --- who may act (R-APR-1/3) -------------------------------------------------------------------------

def test_delegate_acts_within_his_dates_on_behalf_of_the_holder_and_an_expired_delegate_is_refused(b, three):
    """R-APR-1/3: the branch head names a delegate for final approval with dates; on_behalf_of is recorded."""
    head_holder = three[2]
    expired = holder("final_approval", b.branch, actor=b.head, delegate_for=head_holder.assignment,
                     valid_from=today() - dt.timedelta(days=10), valid_to=today() - dt.timedelta(days=1))
    future = holder("final_approval", b.branch, actor=b.head, delegate_for=head_holder.assignment,
                    valid_from=today() + dt.timedelta(days=1), valid_to=today() + dt.timedelta(days=5))
    delegate = holder("final_approval", b.branch, actor=b.head, delegate_for=head_holder.assignment,
                      valid_from=today() - dt.timedelta(days=1), valid_to=today() + dt.timedelta(days=5))
    case, _r = late_case(b)
    case_act(actor=three[0], case_id=case.pk, decision="approve")
    case_act(actor=three[1], case_id=case.pk, decision="approve")
    for refused in (expired, future):
        with pytest.raises(PermissionDenied, match="R-APR-3"):
            case_act(actor=refused, case_id=case.pk, decision="approve")
    case_act(actor=delegate, case_id=case.pk, decision="approve")
    action = CaseAction.objects.filter(case=case).last()
    assert action.actor_id == delegate.pk and action.on_behalf_of_id == head_holder.pk
    assert action.post == "final_approval"


def test_only_the_branch_head_or_hq_designates_posts_and_delegates_need_an_end_date(b):
    """R-APR-1."""
    other_head = make_branch().head
    with pytest.raises(PermissionDenied):
        post_assign(actor=other_head, post="final_approval", organisation=b.branch, user=UserFactory(),
                    valid_from=today())
    with pytest.raises(PermissionDenied):
        post_assign(actor=b.head, post="hq", organisation=hq_admin()[1], user=UserFactory(), valid_from=today())
    main = holder("final_approval", b.branch, actor=b.head)
    with pytest.raises(ValidationError, match="end date"):
        post_assign(actor=b.head, post="final_approval", organisation=b.branch, user=UserFactory(),
                    valid_from=today(), delegate_for=main.assignment)
    admin, _hq = hq_admin()
    assert holder("outlet_head", b.outlet, actor=admin).assignment.created_by == admin
    assert AuditEntry.objects.filter(action="approval_post.assign").count() == 2


def test_same_person_cannot_approve_two_steps_of_one_case(b, three):
    """R-APR-3."""
    both = holder("outlet_review", b.branch, actor=b.head, user=three[0])
    case, _r = late_case(b)
    case_act(actor=both, case_id=case.pk, decision="approve")
    with pytest.raises(PermissionDenied, match="two steps"):
        case_act(actor=both, case_id=case.pk, decision="approve")
    assert CaseAction.objects.filter(case=case).count() == 1


def test_applicant_cannot_approve_his_own_case_even_holding_the_post(b):
    """R-APR-3."""
    holder("account_opening_review", b.branch, actor=b.head, user=b.staff.user)
    case, _r = late_case(b)
    with pytest.raises(PermissionDenied, match="applicant"):
        case_act(actor=b.staff.user, case_id=case.pk, decision="approve")
    assert not CaseAction.objects.filter(case=case).exists()


def test_holder_of_the_post_at_another_branch_cannot_act(b, three):
    """R-APR-3: the post counts only at the step's organisation."""
    other = make_branch()
    stranger = holder("account_opening_review", other.branch, actor=other.head)
    case, _r = late_case(b)
    with pytest.raises(PermissionDenied):
        case_act(actor=stranger, case_id=case.pk, decision="approve")


# --- the final approver decides holders and ratios (R-APR-4, R-RES-4, R-MATCH-3) ------------------------

def test_final_approver_changes_ratios_within_r_res_4_and_a_sum_of_1_0001_is_refused(b, three):
    case, _r = late_case(b)
    with pytest.raises(PermissionDenied, match="final approver"):
        case_act(actor=three[0], case_id=case.pk, decision="approve",
                 shares=[{"staff_id": b.staff.pk, "ratio": "1"}])
    case_act(actor=three[0], case_id=case.pk, decision="approve")
    case_act(actor=three[1], case_id=case.pk, decision="approve")
    with pytest.raises(ValidationError, match="1.0001"):
        case_act(actor=three[2], case_id=case.pk, decision="approve", shares=[
            {"staff_id": b.staff.pk, "ratio": "0.7"}, {"staff_id": b.colleague.pk, "ratio": "0.3001"}])
    assert _case(case).status == "pending"
    case_act(actor=three[2], case_id=case.pk, decision="approve", shares=[
        {"staff_id": b.staff.pk, "ratio": "0.7"}, {"staff_id": b.colleague.pk, "ratio": "0.25"}])
    assert _shares(Relationship.objects.get()) == sorted([(b.staff.pk, Decimal("0.7000")),
                                                          (b.colleague.pk, Decimal("0.2500"))])
    action = CaseAction.objects.filter(case=case).last()
    assert [s["ratio"] for s in action.before["shares"]] == ["0.6000", "0.4000"]
    assert [s["ratio"] for s in action.after["shares"]] == ["0.7000", "0.2500"]


def test_duplicate_case_final_approver_picks_the_holder_and_the_other_reservation_is_refused(b, three):
    """R-MATCH-3: one case for both reservations; the final approver decides holders."""
    idn = make_id_number()
    r1 = reserve(b.staff, id_number=idn, when=at("2026-03-02 09:00"))
    r2 = reserve(b.colleague, id_number=idn, when=at("2026-03-02 11:00"))
    record_events([event_row(when=at("2026-03-04 10:00"), id_number=idn, name="张三", outlet=b.outlet)])
    nightly("2026-03-04")
    case = ApprovalCase.objects.get()
    case_act(actor=three[0], case_id=case.pk, decision="approve")
    case_act(actor=three[1], case_id=case.pk, decision="approve")
    case_act(actor=three[2], case_id=case.pk, decision="approve",
             shares=[{"staff_id": b.colleague.pk, "ratio": "1"}])
    rel = Relationship.objects.get()
    assert _shares(rel) == [(b.colleague.pk, Decimal("1.0000"))] and rel.effective_from == dt.date(2026, 3, 4)
    assert Reservation.objects.get(pk=r2.pk).status == "matched"
    assert Reservation.objects.get(pk=r1.pk).status == "refused"


def test_final_approver_cannot_give_the_relationship_to_someone_without_attach_permission(b, three):
    """R-APR-4 within R-ATT-1."""
    closed = StaffFactory(outlet=b.outlet, attach_open=False)
    case, _r = late_case(b)
    case_act(actor=three[0], case_id=case.pk, decision="approve")
    case_act(actor=three[1], case_id=case.pk, decision="approve")
    with pytest.raises(ValidationError, match=closed.staff_no):
        case_act(actor=three[2], case_id=case.pk, decision="approve", shares=[{"staff_id": closed.pk, "ratio": "1"}])


# --- chain versions, bulk opening, hooks, inboxes ------------------------------------------------------

def test_a_case_keeps_the_chain_version_it_started_with(b, three):
    """R-APR-1."""
    case, _r = late_case(b)
    old = Chain.objects.get(code="three_level", active=True)
    old.active = False
    old.save()
    new = Chain.objects.create(code="three_level", version=2, name="三级审批 v2")
    ChainStep.objects.create(chain=new, order=1, post="designated_person", scope="branch")
    for user in three:
        case_act(actor=user, case_id=case.pk, decision="approve")
    assert _case(case).status == "approved" and _case(case).chain_id == old.pk


def test_nightly_opens_case_steps_with_a_constant_number_of_queries(b, django_assert_max_num_queries):
    """Steps are bulk-inserted with the cases: 3 and 30 cases cost the same statements."""
    from approvals.models import CaseReason
    from approvals.services import cases_open_bulk
    from relationships.models import RelationshipType
    from relationships.services import customer_get_or_create
    rt = RelationshipType.objects.get(code="NEW_DEV")

    def batch(n, tag):
        return [ApprovalCase(reason=CaseReason.LATE, type=rt, customer=customer_get_or_create(
            id_number=make_id_number(seq=i + (500 if tag == "b" else 0)), name="张三"),
            proposed_shares=[{"staff_id": b.staff.pk, "ratio": "1"}], opening_outlet=b.outlet, branch=b.branch,
            applicant=b.staff, dedupe_key=f"{tag}{i}") for i in range(n)]
    small, large = batch(3, "a"), batch(30, "b")
    with django_assert_max_num_queries(8):
        cases_open_bulk(actor="test", cases=small)
    with django_assert_max_num_queries(8):
        cases_open_bulk(actor="test", cases=large)
    assert CaseStep.objects.filter(case__dedupe_key__startswith="b").count() == 90


def test_inbox_lists_waiting_steps_oldest_first_with_constant_queries(b, three, django_assert_max_num_queries):
    """R-REM-1: the inbox costs the same for 3 and 30 cases."""
    cases = [branch_created_case(b, key=f"k{i}") for i in range(3)]
    designated = holder("designated_person", b.branch, actor=b.head)

    def render(user):
        return [(s.case.customer.name, s.case.type.name, s.organisation.name, s.case.applicant.outlet.name,
                 s.case.branch.name) for s in inbox_for(user)]
    with django_assert_max_num_queries(3) as small:
        assert len(render(designated)) == 3
    cases += [branch_created_case(b, key=f"m{i}") for i in range(27)]
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert len(render(designated)) == 30
    assert [s.case_id for s in inbox_for(designated)] == [c.pk for c in cases]
    assert list(inbox_for(three[0])) == []                   # not his post
    assert list(inbox_for(b.staff.user)) == []               # the applicant


def test_visible_cases_scope_branch_applicant_and_hq(b):
    """R-PERM-4."""
    from tests.support.factories import RoleFactory
    case = branch_created_case(b)
    other = make_branch()
    admin, _hq = hq_admin()
    assert list(visible_cases(b.head)) == [case]
    assert list(visible_cases(b.staff.user)) == [case]
    assert list(visible_cases(other.head)) == []
    assert list(visible_cases(other.staff.user)) == []
    assert list(visible_cases(admin)) == [case]
    assert list(visible_cases(RoleFactory(kind="branch", organisation=b.branch).user)) == [case]


def test_a_failing_hook_rolls_back_the_decision(b, monkeypatch):
    """The reservation update and the decision commit together."""
    def boom(case, *, relationship, actor):
        raise RuntimeError("hook failed")
    monkeypatch.setattr(hooks, "on_case_decided", hooks.on_case_decided + [boom])
    case = branch_created_case(b)
    with pytest.raises(RuntimeError):
        case_act(actor=holder("designated_person", b.branch, actor=b.head), case_id=case.pk, decision="approve")
    assert _case(case).status == "pending" and not Relationship.objects.exists()
    assert not CaseAction.objects.filter(case=case).exists()
