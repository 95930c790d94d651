"""§7 — secondary development end to end: classify → pre-assign → reserve → reactivation → SECONDARY_DEV."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from relationships.models import PreAssignment, Relationship, RelationshipShare
from reservations.models import BatchRun, Reservation
from reservations.services import ReservationInput, reservation_register
from tests.support.factories import BranchFactory, OutletFactory, StaffFactory
from tests.support.helpers import at, nightly
from tests.support.secondary import (
    assign_and_reserve,
    branch_user,
    customer_of,
    event,
    lost_customer,
    metrics,
    open_account,
    silent_history,
)

pytestmark = pytest.mark.django_db
D = dt.date


@pytest.fixture
def branch():
    return BranchFactory()


@pytest.fixture
def outlet(branch):
    return OutletFactory(parent=branch)


@pytest.fixture
def staff(outlet):
    return StaffFactory(outlet=outlet)


@pytest.fixture
def boss(branch):
    return branch_user(branch)


def secondary(idn):
    return Relationship.objects.filter(customer=customer_of(idn), type_id="SECONDARY_DEV").first()


def _reload(obj):
    obj.refresh_from_db()
    return obj


# --- lost (R-SEC-1) ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("back_on,matched", [
    ("2026-04-15", False),   # exactly three months after the loss of 2026-01-15: not more than three months
    ("2026-04-16", True),    # three months and a day
])
def test_lost_customer_reactivates_only_more_than_three_months_after_the_loss(outlet, staff, boss, back_on, matched):
    """R-SEC-1, R-SEC-4: re-designation more than three months after the loss → SECONDARY_DEV for the assignee."""
    idn = lost_customer(outlet, lost_at="2026-01-15 10:00")
    nightly("2026-01-15")
    r = assign_and_reserve(boss, idn, staff, assigned="2026-03-25 09:00", reserved="2026-03-25 10:00")
    assert r.type_id == "SECONDARY_DEV" and r.valid_until == D(2026, 4, 25)
    event(outlet, idn, "designate", f"{back_on} 10:00")
    nightly(back_on)
    rel = secondary(idn)
    assert (rel is not None) is matched
    if matched:
        assert (rel.effective_from, rel.source, rel.outlet_id) == (D(2026, 4, 16), "secondary", outlet.pk)
        assert list(rel.shares.values_list("staff_id", "ratio")) == [(staff.pk, Decimal("1.0000"))]
        assert _reload(r).status == "matched" and r.relationship_id == rel.pk
        a = PreAssignment.objects.get(customer=customer_of(idn))
        assert (a.status, a.relationship_id) == ("developed", rel.pk)
    else:
        assert _reload(r).status == "active"


def test_three_months_clamps_to_the_end_of_a_shorter_month(outlet, staff, boss):
    """R-SEC-1 with R-RES-2's month arithmetic: lost 2025-11-30 → three months end 2026-02-28."""
    idn = lost_customer(outlet, lost_at="2025-11-30 10:00")
    nightly("2025-11-30")
    assign_and_reserve(boss, idn, staff, assigned="2026-02-20 09:00", reserved="2026-02-20 10:00")
    event(outlet, idn, "open", "2026-02-28 10:00", account_no="REOPEN-1")
    nightly("2026-02-28")
    assert secondary(idn) is None


def test_reopening_a_securities_account_counts_like_a_redesignation(outlet, staff, boss):
    idn = lost_customer(outlet, lost_at="2025-11-30 10:00")
    nightly("2025-11-30")
    assign_and_reserve(boss, idn, staff, assigned="2026-02-20 09:00", reserved="2026-02-20 10:00")
    event(outlet, idn, "open", "2026-03-01 10:00", account_no="REOPEN-2")
    nightly("2026-03-01")
    assert secondary(idn).effective_from == D(2026, 3, 1)


def test_own_request_cross_branch_transfer_is_exempt_from_the_three_months(outlet, staff, boss):
    """R-SEC-1: a cross-branch transfer at his own request counts at once."""
    far = OutletFactory()
    idn = lost_customer(outlet, lost_at="2026-01-15 10:00")
    nightly("2026-01-15")
    assign_and_reserve(boss, idn, staff, assigned="2026-01-20 09:00", reserved="2026-01-20 10:00")
    event(far, idn, "transfer_in_branch", "2026-02-01 10:00")
    nightly("2026-02-01")
    rel = secondary(idn)
    assert rel.effective_from == D(2026, 2, 1) and rel.outlet_id == far.pk


def test_redesignation_within_three_months_without_transfer_is_not_a_reactivation(outlet, staff, boss):
    """R-SEC-1: the counter-example of the exemption; the pre-assignment then lapses with the reservation."""
    idn = lost_customer(outlet, lost_at="2026-01-15 10:00")
    nightly("2026-01-15")
    r = assign_and_reserve(boss, idn, staff, assigned="2026-01-20 09:00", reserved="2026-01-20 10:00")
    event(outlet, idn, "designate", "2026-02-01 10:00")
    nightly("2026-02-01")
    assert secondary(idn) is None
    a = PreAssignment.objects.get(customer=customer_of(idn))
    assert a.status == "active"  # his reservation is still open
    nightly("2026-02-21")        # the reservation expired on the 20th → the customer came back on his own
    assert _reload(r).status == "expired"
    assert _reload(a).status == "lapsed"


def test_reactivation_before_the_reservation_does_not_count(outlet, staff, boss):
    """R-SEC-4: the assignee reserves before the reactivation."""
    far = OutletFactory()
    idn = lost_customer(outlet, lost_at="2026-01-15 10:00")
    nightly("2026-01-15")
    from reservations.secondary.services import secondary_reserve
    from tests.support.secondary import assign
    a = assign(boss, idn, staff, when="2026-01-20 09:00").assigned[0]
    event(far, idn, "transfer_in_branch", "2026-02-01 10:00")
    secondary_reserve(actor=staff.user, assignment_id=a, staff=staff, phone="13812345678",
                      registered_at=at("2026-02-01 11:00"))
    nightly("2026-02-01")
    assert secondary(idn) is None


def test_a_secondary_reservation_without_a_pre_assignment_never_matches(outlet, staff):
    """R-SEC-4/5: without a pre-assignment the path is the special-new application; registration refuses it."""
    from django.core.exceptions import ValidationError

    idn = lost_customer(outlet, lost_at="2026-01-15 10:00")
    nightly("2026-01-15")
    with pytest.raises(ValidationError):
        reservation_register(actor=staff.user, data=ReservationInput(
            staff=staff, type_code="SECONDARY_DEV", customer_name="张三", id_number=idn, phone="13812345678",
            registered_at=at("2026-01-20 10:00")))
    event(OutletFactory(), idn, "transfer_in_branch", "2026-02-01 10:00")
    nightly("2026-02-01")
    assert secondary(idn) is None


def test_co_developers_of_the_assignees_reservation_share_the_relationship(outlet, staff, boss):
    colleague = StaffFactory(outlet=outlet)
    idn = lost_customer(outlet, lost_at="2026-01-15 10:00")
    nightly("2026-01-15")
    from reservations.secondary.services import secondary_reserve
    from tests.support.secondary import assign
    a = assign(boss, idn, staff).assigned[0]
    secondary_reserve(actor=staff.user, assignment_id=a, staff=staff, phone="13812345678",
                      participants=[(staff, "0.7"), (colleague, "0.3")], registered_at=at("2026-01-20 10:00"))
    event(OutletFactory(), idn, "transfer_in_branch", "2026-02-01 10:00")
    nightly("2026-02-01")
    assert sorted(secondary(idn).shares.values_list("staff_id", "ratio")) == sorted(
        [(staff.pk, Decimal("0.7000")), (colleague.pk, Decimal("0.3000"))])


# --- dormant (R-SEC-2) --------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["activate", "open"])
def test_dormant_customer_reactivates_by_activation_or_reopening(outlet, staff, boss, kind):
    """R-SEC-2."""
    idn = open_account(outlet)
    event(outlet, idn, "dormant", "2026-01-05 10:00")
    nightly("2026-01-05")
    assign_and_reserve(boss, idn, staff, assigned="2026-01-06 09:00", reserved="2026-01-06 10:00")
    event(outlet, idn, kind, "2026-01-10 10:00", account_no="NEW-ACC" if kind == "open" else None)
    nightly("2026-01-10")
    assert secondary(idn).effective_from == D(2026, 1, 10)


def test_dormant_customer_redesignating_is_not_a_dormancy_reactivation(outlet, staff, boss):
    idn = open_account(outlet)
    event(outlet, idn, "dormant", "2026-01-05 10:00")
    nightly("2026-01-05")
    assign_and_reserve(boss, idn, staff, assigned="2026-01-06 09:00", reserved="2026-01-06 10:00")
    event(outlet, idn, "designate", "2026-01-10 10:00")
    nightly("2026-01-10")
    assert secondary(idn) is None


# --- silent (R-SEC-3) ---------------------------------------------------------------------------------------

@pytest.fixture
def silent_three(outlet, staff, boss):
    """Three silent customers (12 month-ends of 2025 at 500 yuan, no trade), pre-assigned and reserved 2026-01-05."""
    ids = [open_account(outlet) for _ in range(3)]
    silent_history(ids)
    nightly("2025-12-31")
    for idn in ids:
        assign_and_reserve(boss, idn, staff, assigned="2026-01-05 09:00", reserved="2026-01-05 10:00")
    return ids


def test_silent_customer_needs_1000_transferred_in_and_a_trade(silent_three):
    """R-SEC-3: 999.99 is not enough, 1,000.00 is (以上 includes the number); a transfer without a trade is not."""
    short, exact, no_trade = silent_three
    metrics([("2026-01-06", short, "1499.99", 1, "999.99"),
             ("2026-01-06", exact, "1500.00", 1, "1000.00"),
             ("2026-01-06", no_trade, "5500.00", 0, "5000.00")])
    nightly("2026-01-06")
    assert secondary(short) is None
    assert secondary(exact).effective_from == D(2026, 1, 6)
    assert secondary(no_trade) is None


def test_silent_transfers_add_up_and_the_trade_may_come_later(silent_three):
    """R-SEC-3: "transfers in 1,000 yuan or more and trades" — counted from the reservation, on the day both hold."""
    idn = silent_three[0]
    metrics([("2026-01-06", idn, "1100.00", 0, "600.00"),
             ("2026-01-07", idn, "1500.00", 0, "400.00"),
             ("2026-01-09", idn, "1500.00", 2, "0")])
    nightly("2026-01-09")
    assert secondary(idn).effective_from == D(2026, 1, 9)


def test_silent_transfer_before_the_reservation_does_not_count(outlet, staff, boss):
    idn = open_account(outlet)
    silent_history([idn])
    nightly("2025-12-31")
    metrics([("2026-01-03", idn, "1500.00", 0, "1000.00")])
    assign_and_reserve(boss, idn, staff, assigned="2026-01-05 09:00", reserved="2026-01-05 10:00")
    metrics([("2026-01-06", idn, "1500.00", 1, "0")])
    nightly("2026-01-06")
    assert secondary(idn) is None


# --- batch properties -----------------------------------------------------------------------------------

def test_secondary_stage_twice_for_the_same_date_changes_nothing(outlet, staff, boss):
    """R-MATCH-6 for the secondary stage: a re-run (ledger reset) creates nothing more."""
    idn = lost_customer(outlet, lost_at="2026-01-15 10:00")
    nightly("2026-01-15")
    assign_and_reserve(boss, idn, staff, assigned="2026-01-20 09:00", reserved="2026-01-20 10:00")
    event(OutletFactory(), idn, "transfer_in_branch", "2026-02-01 10:00")
    nightly("2026-02-01")
    snapshot = (Relationship.objects.count(), RelationshipShare.objects.count(),
                list(Reservation.objects.values_list("id", "status")),
                list(PreAssignment.objects.values_list("id", "status")))
    BatchRun.objects.filter(business_date=D(2026, 2, 1)).delete()
    nightly("2026-02-01")
    assert (Relationship.objects.count(), RelationshipShare.objects.count(),
            list(Reservation.objects.values_list("id", "status")),
            list(PreAssignment.objects.values_list("id", "status"))) == snapshot
    assert BatchRun.objects.get(business_date=D(2026, 2, 1), stage="secondary").counts.get("matched", 0) == 0


def test_late_arriving_reactivation_inside_validity_matches_an_expired_reservation(outlet, staff, boss):
    """R-MATCH-6 / R-RES-2 as in the matching: validity is judged at the reactivation."""
    idn = lost_customer(outlet, lost_at="2026-01-15 10:00")
    nightly("2026-01-15")
    r = assign_and_reserve(boss, idn, staff, assigned="2026-01-20 09:00", reserved="2026-01-20 10:00")
    nightly("2026-02-25")
    assert _reload(r).status == "expired"
    event(OutletFactory(), idn, "transfer_in_branch", "2026-02-10 10:00")
    nightly("2026-02-26")
    assert secondary(idn).effective_from == D(2026, 2, 10)
    assert _reload(r).status == "matched"


def test_name_differing_from_the_reactivation_flags_the_reservation(outlet, staff, boss):
    """R-MATCH-2 applies to secondary matching too."""
    idn = lost_customer(outlet, lost_at="2026-01-15 10:00")
    nightly("2026-01-15")
    r = assign_and_reserve(boss, idn, staff, assigned="2026-01-20 09:00", reserved="2026-01-20 10:00")
    event(OutletFactory(), idn, "transfer_in_branch", "2026-02-01 10:00", name="张叁")
    nightly("2026-02-01")
    assert secondary(idn) is None
    assert _reload(r).status == "flagged" and "激活时的客户姓名不一致" in r.note_shown


def test_a_secondary_run_killed_between_units_resumes_to_the_same_result(outlet, staff, boss, monkeypatch, settings):
    """R-MATCH-6 for the secondary stage: units commit one by one; the re-run finishes the rest."""
    from reservations.secondary import matching as secondary_module

    settings.MATCH_CHUNK_SIZE = 1
    ids = [lost_customer(outlet, lost_at="2026-01-15 10:00") for _ in range(3)]
    nightly("2026-01-15")
    for idn in ids:
        assign_and_reserve(boss, idn, staff, assigned="2026-01-20 09:00", reserved="2026-01-20 10:00")
        event(OutletFactory(), idn, "transfer_in_branch", "2026-02-01 10:00")

    def crash(units_done):
        if units_done == 1:
            raise RuntimeError("killed")
    monkeypatch.setattr(secondary_module, "_after_unit_committed", crash)
    with pytest.raises(RuntimeError):
        nightly("2026-02-01")
    assert Relationship.objects.filter(type_id="SECONDARY_DEV").count() == 1
    run = BatchRun.objects.get(business_date=D(2026, 2, 1), stage="secondary")
    assert run.status == "failed"
    monkeypatch.setattr(secondary_module, "_after_unit_committed", lambda n: None)
    nightly("2026-02-01")
    assert sorted(Relationship.objects.filter(type_id="SECONDARY_DEV").values_list("customer_id", flat=True)) == \
        sorted(customer_of(i).pk for i in ids)
    assert RelationshipShare.objects.filter(relationship__type_id="SECONDARY_DEV").count() == 3
