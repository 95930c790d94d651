"""Issue 13 — the conflict case (R-MATCH-3), cross-region on every path (R-MATCH-5, R-APR-6) and the approvals
nobody can bend (R-APR-3), on the real PostgreSQL."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import translation

from approvals.models import ApprovalCase, CaseAction, CaseClaimant, CaseReason, CaseStep, StepKind
from approvals.selectors import hq_inbox, inbox_for
from approvals.services import case_act, case_open
from relationships.models import Relationship, RelationshipType
from reservations.models import Reservation
from reservations.services import reservation_correct_name
from tests.support.approvals import holder, hq_admin, make_branch
from tests.support.factories import BranchFactory, OutletFactory, StaffFactory, make_id_number
from tests.support.helpers import at, event_row, load_events, nightly, reserve

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english_messages():
    with translation.override("en"):
        yield


@pytest.fixture
def b():
    return make_branch()


@pytest.fixture
def three(b):
    return [holder(p, b.branch, actor=b.head) for p in ("account_opening_review", "outlet_review", "final_approval")]


def far_staff():
    """A staff member of another branch (another region: every branch factory makes its own)."""
    return StaffFactory(outlet=OutletFactory(parent=BranchFactory()))


def duplicate_case(b, *, second=None, opened="2026-03-04"):
    """Two staff reserve the same customer on time → the batch opens one duplicate case (R-MATCH-3)."""
    idn = make_id_number()
    r1 = reserve(b.staff, id_number=idn, when=at("2026-03-02 09:00"))
    r2 = reserve(second or b.colleague, id_number=idn, when=at("2026-03-02 11:00"))
    load_events([event_row(when=at(f"{opened} 10:00"), id_number=idn, name="张三", outlet=b.outlet)])
    nightly(opened)
    return ApprovalCase.objects.get(), idn, r1, r2


def late_case(b, *, participants=None, opened="2026-03-02"):
    """A late reservation registered after a known opening: its case opens at registration (R-MATCH-4)."""
    idn = make_id_number()
    load_events([event_row(when=at(f"{opened} 10:00"), id_number=idn, name="张三", outlet=b.outlet)])
    nightly(opened)
    r = reserve(b.staff, id_number=idn, when=at(f"{dt.date.fromisoformat(opened) + dt.timedelta(days=1)} 09:00"),
                participants=participants or [(b.staff, "0.6"), (b.colleague, "0.4")])
    return ApprovalCase.objects.get(pk=r.approval_case_id), idn, r


def steps_of(case) -> list[tuple]:
    return list(CaseStep.objects.filter(case=case).order_by("order", "organisation_id", "id")
                .values_list("order", "post", "organisation", "kind"))


def _status(r) -> str:
    r.refresh_from_db()
    return r.status


# --- R-MATCH-3: one case per customer and type while open ----------------------------------------------------

def test_late_claim_inside_window_joins_the_open_conflict_case(b):
    """R-MATCH-3/4: opened Wed 2026-03-04; a third staff member registers on Fri 03-06 (2 working days late) →
    he joins the duplicate case; no second case, nobody refused."""
    case, idn, r1, r2 = duplicate_case(b)
    third = StaffFactory(outlet=b.outlet)
    r3 = reserve(third, id_number=idn, when=at("2026-03-06 09:00"))
    assert ApprovalCase.objects.count() == 1
    assert r3.status == "pending_approval" and r3.approval_case_id == case.pk
    claimants = list(CaseClaimant.objects.filter(case=case).order_by("registered_at", "id")
                     .values_list("reservation", "staff", "late_workdays"))
    assert claimants == [(r1.pk, b.staff.pk, None), (r2.pk, b.colleague.pk, None), (r3.pk, third.pk, 2)]
    assert CaseAction.objects.get(case=case, decision="join").after["claimants"] == [third.pk]


def test_late_claim_outside_the_window_is_refused_and_nothing_is_saved(b):
    """R-MATCH-4: opened Wed 2026-03-04, the 7th working day after is Fri 03-13; a claim on 03-16 is refused."""
    case, idn, _r1, _r2 = duplicate_case(b)
    with pytest.raises(ValidationError) as err:
        reserve(StaffFactory(outlet=b.outlet), id_number=idn, when=at("2026-03-16 09:00"))
    assert "2026-03-13" in str(err.value)
    assert Reservation.objects.count() == 2 and CaseClaimant.objects.filter(case=case).count() == 2


def test_a_second_late_claimant_joins_the_late_case_which_becomes_the_duplicate_case(b):
    """R-MATCH-3: the issue's hole — a later late claimant inside the window was refused; now he joins."""
    case, idn, r1 = late_case(b)
    assert case.reason == "late"
    r2 = reserve(StaffFactory(outlet=b.outlet), id_number=idn, when=at("2026-03-05 09:00"))
    case.refresh_from_db()
    assert r2.approval_case_id == case.pk and case.reason == "duplicate"
    assert ApprovalCase.objects.count() == 1
    assert [c.reservation_id for c in case.claimants.order_by("registered_at")] == [r1.pk, r2.pk]


def test_a_corrected_claim_rematched_by_the_batch_joins_the_open_conflict_case(b):
    """R-MATCH-2 then R-MATCH-3: a flagged on-time reservation, corrected, is matched again the next night; the
    customer's case is open by then, so the claim joins it instead of opening a second case."""
    idn = make_id_number()
    third = StaffFactory(outlet=b.outlet)
    r1 = reserve(b.staff, id_number=idn, when=at("2026-03-02 09:00"))
    r2 = reserve(b.colleague, id_number=idn, when=at("2026-03-02 10:00"))
    r3 = reserve(third, id_number=idn, name="张山", when=at("2026-03-02 11:00"))
    load_events([event_row(when=at("2026-03-04 10:00"), id_number=idn, name="张三", outlet=b.outlet)])
    nightly("2026-03-04")
    case = ApprovalCase.objects.get()
    assert _status(r3) == "flagged"
    reservation_correct_name(actor=third.user, reservation_id=r3.pk, staff=third, customer_name="张三")
    nightly("2026-03-05")
    assert ApprovalCase.objects.count() == 1
    r3.refresh_from_db()
    assert r3.status == "pending_approval" and r3.approval_case_id == case.pk
    assert set(case.claimants.values_list("reservation", flat=True)) == {r1.pk, r2.pk, r3.pk}


def test_a_second_open_claim_case_for_the_customer_and_type_is_refused_by_the_database(b):
    """R-MATCH-3: the partial unique index keeps one open conflict case per customer and type."""
    case, _idn, _r = late_case(b)
    with pytest.raises(IntegrityError), transaction.atomic():
        case_open(actor=b.head, reason=CaseReason.DUPLICATE, rel_type=RelationshipType.objects.get(code="NEW_DEV"),
                  customer=case.customer, proposed_shares=[{"staff_id": b.colleague.pk, "ratio": "1"}],
                  dedupe_key="second", branch=b.branch, applicant=b.colleague)
    assert ApprovalCase.objects.count() == 1


# --- R-MATCH-5 / R-APR-6: cross-region on every path ---------------------------------------------------------

def test_a_late_cross_region_claim_gets_both_branches_confirmations_and_hq(b, three):
    """R-MATCH-5: the late chain at the opening branch, then both branches confirm in parallel, then HQ."""
    far = far_staff()
    far_branch = far.outlet.branch
    admin, hq = hq_admin()
    case, _idn, r = late_case(b, participants=[(b.staff, "0.5"), (far, "0.5")])
    assert steps_of(case) == [
        (1, "account_opening_review", b.branch.pk, "chain"), (2, "outlet_review", b.branch.pk, "chain"),
        (3, "final_approval", b.branch.pk, "chain"),
        (4, "final_approval", b.branch.pk, "confirm"), (4, "final_approval", far_branch.pk, "confirm"),
        (5, "hq", hq.pk, "hq")]
    reviewer = holder("hq", hq, actor=admin)
    assert list(hq_inbox(reviewer)) == [case]
    for user in three:
        case_act(actor=user, case_id=case.pk, decision="approve")
    assert ApprovalCase.objects.get(pk=case.pk).status == "pending" and not Relationship.objects.exists()
    far_head = holder("final_approval", far_branch, actor=admin)
    own_confirmer = holder("final_approval", b.branch, actor=b.head)
    with pytest.raises(PermissionDenied, match="two steps"):  # the final approver does not confirm too
        case_act(actor=three[2], case_id=case.pk, decision="approve")
    case_act(actor=far_head, case_id=case.pk, decision="approve")  # any order
    with pytest.raises(ValidationError, match="not at your step"):
        case_act(actor=reviewer, case_id=case.pk, decision="approve")
    case_act(actor=own_confirmer, case_id=case.pk, decision="approve")
    case_act(actor=reviewer, case_id=case.pk, decision="approve")
    rel = Relationship.objects.get()
    assert sorted(rel.shares.values_list("staff_id", "ratio")) == sorted(
        [(b.staff.pk, Decimal("0.5000")), (far.pk, Decimal("0.5000"))])
    assert _status(r) == "matched"


def test_the_case_page_names_each_branch_confirmation_as_such_not_as_a_final_approval(b, client):
    """R-MATCH-5: a confirmation step reads as the branch's confirmation on the case page."""
    far = far_staff()
    admin, hq = hq_admin()
    case, _idn, _r = late_case(b, participants=[(b.staff, "0.5"), (far, "0.5")])
    client.force_login(holder("hq", hq, actor=admin))
    with translation.override("zh-hans"):
        html = client.get(reverse("approvals:case", args=[case.pk]), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
        assert html.count(str(StepKind.CONFIRM.label)) == 2


def test_a_duplicate_with_a_claimant_from_another_branch_gets_the_same(b):
    """R-MATCH-5: a competing claim by another branch's staff brings that branch's confirmation and HQ."""
    far = far_staff()
    _admin, hq = hq_admin()
    case, _idn, _r1, _r2 = duplicate_case(b, second=far)
    assert case.reason == "duplicate"
    assert steps_of(case)[3:] == [(4, "final_approval", b.branch.pk, "confirm"),
                                  (4, "final_approval", far.outlet.branch.pk, "confirm"), (5, "hq", hq.pk, "hq")]


def test_a_claimant_of_another_branch_joining_late_adds_the_confirmations(b):
    """R-MATCH-3/5: the join itself re-routes the case."""
    _admin, hq = hq_admin()
    case, idn, _r = late_case(b)
    assert [s[3] for s in steps_of(case)] == ["chain"] * 3
    far = far_staff()
    reserve(far, id_number=idn, when=at("2026-03-04 09:00"))
    assert steps_of(case)[3:] == [(4, "final_approval", b.branch.pk, "confirm"),
                                  (4, "final_approval", far.outlet.branch.pk, "confirm"), (5, "hq", hq.pk, "hq")]


def test_a_final_approver_adding_another_branchs_staff_reroutes_the_case(b, three):
    """R-MATCH-5: the change of holders brings in another branch → its confirmation and HQ before completing."""
    admin, hq = hq_admin()
    case, _idn, r = late_case(b)
    far = far_staff()
    case_act(actor=three[0], case_id=case.pk, decision="approve")
    case_act(actor=three[1], case_id=case.pk, decision="approve")
    c = case_act(actor=three[2], case_id=case.pk, decision="approve",
                 shares=[{"staff_id": b.staff.pk, "ratio": "0.5"}, {"staff_id": far.pk, "ratio": "0.5"}])
    assert c.status == "pending" and c.current_step == 4 and not Relationship.objects.exists()
    assert steps_of(case)[3:] == [(4, "final_approval", b.branch.pk, "confirm"),
                                  (4, "final_approval", far.outlet.branch.pk, "confirm"), (5, "hq", hq.pk, "hq")]
    reviewer = holder("hq", hq, actor=admin)
    assert case in list(hq_inbox(reviewer))
    case_act(actor=holder("final_approval", b.branch, actor=b.head), case_id=case.pk, decision="approve")
    case_act(actor=holder("final_approval", far.outlet.branch, actor=admin), case_id=case.pk, decision="approve")
    case_act(actor=reviewer, case_id=case.pk, decision="approve")
    assert sorted(Relationship.objects.get().shares.values_list("staff_id", flat=True)) == sorted([b.staff.pk,
                                                                                                   far.pk])


# --- R-APR-3: nobody can bend the case -----------------------------------------------------------------------

def test_a_claimant_holding_final_approval_cannot_act_on_the_case(b, three):
    """R-APR-3, the issue's first hole: the second reserving staff member holds final approval at his branch."""
    case, _idn, _r1, _r2 = duplicate_case(b)
    holder("final_approval", b.branch, actor=b.head, user=b.colleague.user)
    case_act(actor=three[0], case_id=case.pk, decision="approve")
    case_act(actor=three[1], case_id=case.pk, decision="approve")
    assert list(inbox_for(b.colleague.user)) == []
    with pytest.raises(PermissionDenied, match="R-APR-3"):
        case_act(actor=b.colleague.user, case_id=case.pk, decision="approve",
                 shares=[{"staff_id": b.colleague.pk, "ratio": "1"}])
    assert ApprovalCase.objects.get(pk=case.pk).status == "pending"
    assert CaseAction.objects.filter(case=case, decision="approve").count() == 2


def test_a_final_approver_cannot_award_himself_or_an_earlier_actor(b):
    """R-APR-3: a ValidationError on the holders naming who, and nothing changes."""
    first, second, final = (StaffFactory(outlet=b.outlet) for _ in range(3))
    for staff, post in ((first, "account_opening_review"), (second, "outlet_review"), (final, "final_approval")):
        holder(post, b.branch, actor=b.head, user=staff.user)
    case, _idn, _r = late_case(b)
    case_act(actor=first.user, case_id=case.pk, decision="approve")
    case_act(actor=second.user, case_id=case.pk, decision="approve")
    for named in (final, first):
        with pytest.raises(ValidationError) as err:
            case_act(actor=final.user, case_id=case.pk, decision="approve",
                     shares=[{"staff_id": named.pk, "ratio": "1"}])
        assert list(err.value.message_dict) == ["shares"] and named.staff_no in str(err.value)
    c = ApprovalCase.objects.get(pk=case.pk)
    assert c.status == "pending" and c.current_step == 3
    assert [s["staff_id"] for s in c.proposed_shares] == [b.staff.pk, b.colleague.pk]
    assert CaseAction.objects.filter(case=case).count() == 2


def test_someone_once_proposed_as_holder_cannot_act_later(b, three):
    """R-APR-3: 'is or ever was' — a co-developer dropped by the final approver still may not act."""
    far = far_staff()
    case, _idn, _r = late_case(b, participants=[(b.staff, "0.5"), (far, "0.5")])
    for user in three:
        case_act(actor=user, case_id=case.pk, decision="approve",
                 **({"shares": [{"staff_id": b.staff.pk, "ratio": "1"}]} if user is three[2] else {}))
    holder("final_approval", far.outlet.branch, actor=hq_admin()[0], user=far.user)
    with pytest.raises(PermissionDenied, match="R-APR-3"):
        case_act(actor=far.user, case_id=case.pk, decision="approve")
    assert ApprovalCase.objects.get(pk=case.pk).status == "pending"
    assert dt.date(2026, 3, 2) == case.opening_date


# --- §12: the approval_cases export's steps and claimants ---------------------------------------------------

def test_approval_cases_export_lists_the_steps_with_parallel_confirmations_and_the_claimants_in_order(b):
    """§12: `steps` as post@organisation_code (parallel joined by +), `claimants` in registration order."""
    import csv
    import io

    from reservations.exchange.exports import export_csv

    far = far_staff()
    _admin, hq = hq_admin()
    case, idn, _r1, _r2 = duplicate_case(b, second=far)
    late = StaffFactory(outlet=b.outlet)
    reserve(late, id_number=idn, when=at("2026-03-05 09:00"))
    out = io.StringIO()
    export_csv(actor="test", kind="approval_cases", out=out)
    header, row = list(csv.reader(io.StringIO(out.getvalue())))
    assert header[-2:] == ["steps", "claimants"]
    own, other = b.branch.code, far.outlet.branch.code
    first, second = sorted([own, other], key=lambda code: {own: b.branch.pk, other: far.outlet.branch.pk}[code])
    assert row[0] == str(case.pk) and row[-2] == (
        f"account_opening_review@{own};outlet_review@{own};final_approval@{own};"
        f"confirm@{first}+confirm@{second};hq@{hq.code}")
    assert row[-1] == f"{b.staff.staff_no};{far.staff_no};{late.staff_no}"


def test_a_special_new_case_with_a_co_developer_of_another_branch_confirms_before_its_hq_step(b):
    """R-MATCH-5 on the special-new path: designated person → final approval → both branches confirm → HQ (the
    chain's own HQ step comes after the confirmations; HQ is not asked twice)."""
    from reservations.secondary.special_new import SpecialNewInput, special_new_apply
    from tests.support.secondary import event, lost_customer

    _admin, hq = hq_admin()
    far = far_staff()
    idn = lost_customer(b.outlet, lost_at="2026-01-15 10:00")
    nightly("2026-01-15")
    event(b.outlet, idn, "designate", "2026-04-30 10:00")
    r = special_new_apply(actor=b.staff.user, data=SpecialNewInput(
        staff=b.staff, customer_name="张三", id_number=idn, phone="13812345678",
        participants=[(b.staff, "0.5"), (far, "0.5")], registered_at=at("2026-05-01 10:00")))
    case = ApprovalCase.objects.get(pk=r.approval_case_id)
    assert steps_of(case) == [
        (1, "designated_person", b.branch.pk, "chain"), (2, "final_approval", b.branch.pk, "chain"),
        (3, "final_approval", b.branch.pk, "confirm"), (3, "final_approval", far.outlet.branch.pk, "confirm"),
        (4, "hq", hq.pk, "chain")]
    assert CaseClaimant.objects.get(case=case).reservation_id == r.pk


def test_a_broker_case_whose_broker_is_of_another_branch_than_the_opening_gets_the_confirmations(b):
    """R-MATCH-5 on the broker path: the 3-level broker chain at the opening branch, then both branches, then HQ."""
    _admin, hq = hq_admin()
    broker = StaffFactory(outlet=OutletFactory(parent=BranchFactory()), kind="broker")
    idn = make_id_number()
    reserve(broker, id_number=idn, type_code="BROKER_DEV", when=at("2026-03-02 09:00"))
    load_events([event_row(when=at("2026-03-03 10:00"), id_number=idn, name="张三", outlet=b.outlet)])
    nightly("2026-03-03")
    case = ApprovalCase.objects.get()
    assert case.reason == "broker"
    assert steps_of(case)[3:] == [(4, "final_approval", b.branch.pk, "confirm"),
                                  (4, "final_approval", broker.outlet.branch.pk, "confirm"), (5, "hq", hq.pk, "hq")]


def test_one_claimant_cannot_withdraw_the_conflict_case_holding_other_claims(b):
    """R-MATCH-3 / R-APR-3: the first claimant (the case's applicant) withdrawing would end the others' claims."""
    from approvals.services import case_withdraw

    case, idn, r1 = late_case(b)
    r2 = reserve(StaffFactory(outlet=b.outlet), id_number=idn, when=at("2026-03-05 09:00"))
    with pytest.raises(ValidationError, match="other staff members' claims"):
        case_withdraw(actor=b.staff.user, case_id=case.pk)
    assert ApprovalCase.objects.get(pk=case.pk).status == "pending"
    assert {_status(r1), _status(r2)} == {"pending_approval"}
    alone, _idn, _r = late_case(b, opened="2026-03-09")
    assert case_withdraw(actor=b.staff.user, case_id=alone.pk).status == "withdrawn"


def test_a_competing_broker_cannot_record_the_documents_of_the_conflict_case(b):
    """R-APR-3 with R-APR-5: recording the broker forms is acting on the case; a claimant may not."""
    from approvals.services import case_record_documents

    first, second = (StaffFactory(outlet=b.outlet, kind="broker") for _ in range(2))
    idn = make_id_number()
    reserve(first, id_number=idn, type_code="BROKER_DEV", when=at("2026-03-02 09:00"))
    reserve(second, id_number=idn, type_code="BROKER_DEV", when=at("2026-03-02 10:00"))
    load_events([event_row(when=at("2026-03-03 10:00"), id_number=idn, name="张三", outlet=b.outlet)])
    nightly("2026-03-03")
    case = ApprovalCase.objects.get()
    holder("account_opening_review", b.branch, actor=b.head, user=second.user)
    with pytest.raises(PermissionDenied):
        case_record_documents(actor=second.user, case_id=case.pk, documents={"risk_disclosure_received": True})
    assert not CaseAction.objects.filter(case=case, decision="documents").exists()


def test_the_inbox_offers_no_step_to_a_co_developer_or_proposed_holder(b, three):
    """R-APR-3: a co-developer of a claim, holding the post of the waiting step, does not see it in his inbox."""
    case, _idn, _r = late_case(b)  # b.colleague is the claim's co-developer (0.4)
    holder("account_opening_review", b.branch, actor=b.head, user=b.colleague.user)
    assert [s.case_id for s in inbox_for(three[0])] == [case.pk]
    assert list(inbox_for(b.colleague.user)) == []
    with pytest.raises(PermissionDenied, match="R-APR-3"):
        case_act(actor=b.colleague.user, case_id=case.pk, decision="approve")
