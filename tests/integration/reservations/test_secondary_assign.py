"""§7 R-SEC-4 — pre-assignment: who, to whom, one active per customer (a partial unique index), and the feed."""
from __future__ import annotations

import threading

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from relationships.models import AuditEntry, PreAssignment
from reservations.exchange.registry import load_feed
from reservations.secondary.services import preassignment_create, preassignment_end, unreserved_assignments
from tests.support.factories import OutletFactory, StaffFactory
from tests.support.helpers import at, csv_bytes, nightly
from tests.support.secondary import (
    assign,
    assign_and_reserve,
    branch_user,
    customer_of,
    event,
    lost_customer,
    open_account,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_branches():
    """A customer with accounts in two branches who cancels his designation: he is "of" both branches."""
    a, b = OutletFactory(), OutletFactory()
    idn = lost_customer(a, lost_at="2026-01-15 10:00")
    open_account(b, id_number=idn, when="2025-03-01 10:00", account_no="SECOND-B")
    event(b, idn, "close", "2026-01-15 11:00", account_no="SECOND-B")
    nightly("2026-01-15")
    return a, b, idn


def test_branch_pre_assigns_a_lost_customer_to_its_front_staff(two_branches):
    a, _b, idn = two_branches
    staff = StaffFactory(outlet=a)
    boss = branch_user(a.branch)
    result = assign(boss, idn, staff)
    row = PreAssignment.objects.get(pk=result.assigned[0])
    assert (row.staff_id, row.branch_id, row.status, row.classification.kind) == (staff.pk, a.branch_id, "active",
                                                                                   "lost")
    assert AuditEntry.objects.filter(action="preassignment.create", target_id=str(row.pk)).exists()


def test_two_branches_pre_assigning_the_same_customer_the_second_is_refused(two_branches):
    """R-SEC-4: at most one active pre-assignment per customer; the refusal names the outlet, not the assignee."""
    a, b, idn = two_branches
    first = assign(branch_user(a.branch), idn, StaffFactory(outlet=a))
    assert first.assigned
    second = assign(branch_user(b.branch), idn, StaffFactory(outlet=b))
    assert not second.assigned
    reason = second.refused[customer_of(idn).pk]
    assert "最多只能有一条有效的预分配" in reason and a.name in reason
    assert PreAssignment.objects.filter(customer=customer_of(idn), status="active").count() == 1


def test_the_database_refuses_a_second_active_pre_assignment(two_branches):
    """R-SEC-4 is a partial unique index, not only a check in Python."""
    a, b, idn = two_branches
    row = PreAssignment.objects.get(pk=assign(branch_user(a.branch), idn, StaffFactory(outlet=a)).assigned[0])
    with pytest.raises(IntegrityError), transaction.atomic():
        PreAssignment.objects.create(customer=row.customer, classification=row.classification,
                                     staff=StaffFactory(outlet=b), branch=b.branch, assigned_at=timezone.now())


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_branches_pre_assigning_at_the_same_moment_exactly_one_wins():
    """R-SEC-4 under a race: both transactions insert; the index lets one through, the other is told."""
    a, b = OutletFactory(), OutletFactory()
    idn = lost_customer(a, lost_at="2026-01-15 10:00")
    open_account(b, id_number=idn, when="2025-03-01 10:00", account_no="RACE-B")
    nightly("2026-01-15")
    cid = customer_of(idn).pk
    pairs = [(branch_user(a.branch), StaffFactory(outlet=a)), (branch_user(b.branch), StaffFactory(outlet=b))]
    barrier = threading.Barrier(2)
    results, errors = [], []

    def run(user, staff):
        try:
            with transaction.atomic():
                barrier.wait(timeout=10)
                results.append(preassignment_create(actor=user, customer_ids=[cid], staff=staff))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=p) for p in pairs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert sorted(len(r.assigned) for r in results) == [0, 1]
    assert PreAssignment.objects.filter(customer_id=cid, status="active").count() == 1


def test_a_customer_of_another_branch_cannot_be_pre_assigned():
    a, other = OutletFactory(), OutletFactory()
    idn = lost_customer(a)
    nightly("2026-01-15")
    result = assign(branch_user(other.branch), idn, StaffFactory(outlet=other))
    assert "该客户不是" in result.refused[customer_of(idn).pk]


def test_a_branch_user_cannot_assign_to_staff_of_another_branch():
    a, other = OutletFactory(), OutletFactory()
    idn = lost_customer(a)
    nightly("2026-01-15")
    with pytest.raises(PermissionDenied):
        assign(branch_user(other.branch), idn, StaffFactory(outlet=a))


def test_only_lost_dormant_or_silent_customers_can_be_pre_assigned():
    a = OutletFactory()
    idn = open_account(a)
    nightly("2026-01-15")
    result = assign(branch_user(a.branch), idn, StaffFactory(outlet=a))
    assert not result.assigned and "目前不属于流失、休眠或沉寂客户" in result.refused[customer_of(idn).pk]


@pytest.mark.parametrize("change", ["attach_closed", "broker", "no_securities"])
def test_the_assignee_must_be_able_to_hold_secondary_development(change):
    """R-ATT-1: front staff, open attach permission, securities qualification."""
    a = OutletFactory()
    idn = lost_customer(a)
    nightly("2026-01-15")
    staff = StaffFactory(outlet=a, attach_open=change != "attach_closed",
                         kind="broker" if change == "broker" else "account_manager",
                         qualifications=["futures"] if change == "no_securities" else None)
    with pytest.raises(ValidationError):
        assign(branch_user(a.branch), idn, staff)


def test_the_branch_can_reassign_its_own_pre_assignment():
    a = OutletFactory()
    idn = lost_customer(a)
    nightly("2026-01-15")
    boss = branch_user(a.branch)
    first, second = StaffFactory(outlet=a), StaffFactory(outlet=a)
    old = assign(boss, idn, first).assigned[0]
    refused = assign(boss, idn, second)
    assert not refused.assigned
    moved = assign(boss, idn, second, replace=True)
    assert moved.assigned
    assert PreAssignment.objects.get(pk=old).status == "ended"
    assert PreAssignment.objects.get(pk=moved.assigned[0]).staff_id == second.pk


def test_ending_a_pre_assignment_frees_the_customer(two_branches):
    a, b, idn = two_branches
    row = assign(branch_user(a.branch), idn, StaffFactory(outlet=a)).assigned[0]
    with pytest.raises(PermissionDenied):
        preassignment_end(actor=branch_user(b.branch), assignment_id=row)
    preassignment_end(actor=branch_user(a.branch), assignment_id=row, note="离职")
    assert assign(branch_user(b.branch), idn, StaffFactory(outlet=b)).assigned


def test_unreserved_assignments_lists_what_the_assignee_still_has_to_reserve():
    """R-REM-1: assigned customers not yet reserved."""
    a = OutletFactory()
    one, two = lost_customer(a), lost_customer(a)
    nightly("2026-01-15")
    boss, staff = branch_user(a.branch), StaffFactory(outlet=a)
    assign_and_reserve(boss, one, staff)
    assign(boss, two, staff)
    assert [x.customer_id for x in unreserved_assignments(staff)] == [customer_of(two).pk]


# --- the `assignments` feed (§12) -----------------------------------------------------------------------------

def test_assignments_feed_applies_the_form_rules_line_by_line(two_branches):
    """§12: id_number,staff_no,assigned_at; a bad line is reported with its number, the good ones are kept."""
    a, b, idn = two_branches
    staff_a, staff_b = StaffFactory(outlet=a), StaffFactory(outlet=b)
    unknown = open_account(a)
    content = csv_bytes(["id_number", "staff_no", "assigned_at", "extra"], [
        [idn, staff_a.staff_no, "2026-01-20T09:00:00+08:00", "x"],
        [idn, staff_b.staff_no, "2026-01-20T09:05:00+08:00", ""],      # second branch: refused
        [unknown, staff_a.staff_no, "2026-01-20T09:00:00+08:00", ""],  # not lost/dormant/silent
        ["110105198506150000", staff_a.staff_no, "2026-01-20T09:00:00+08:00", ""],  # bad check digit
        [idn, "NOBODY", "2026-01-20T09:00:00+08:00", ""],
        [idn, staff_a.staff_no, "2026-01-20 09:00", ""],                # no UTC offset
    ])
    result = load_feed(actor="test", kind="assignments", content=content, filename="assignments.csv")
    assert result.rows_loaded == 1
    assert [line for line, _r in result.errors] == [3, 4, 5, 6, 7]
    assert "最多只能有一条有效的预分配" in dict(result.errors)[3]
    assert PreAssignment.objects.get(status="active").assigned_at == at("2026-01-20 09:00")
    again = load_feed(actor="test", kind="assignments", content=content, filename="assignments.csv")
    assert again.already_loaded


def test_load_feed_command_reports_refused_lines(two_branches, tmp_path, capsys):
    from django.core.management import call_command

    a, _b, idn = two_branches
    staff = StaffFactory(outlet=a)
    path = tmp_path / "assignments.csv"
    path.write_bytes(csv_bytes(["id_number", "staff_no", "assigned_at"], [
        [idn, staff.staff_no, "2026-01-20T09:00:00+08:00"], [idn, "NOBODY", "2026-01-20T09:00:00+08:00"]]))
    with pytest.raises(SystemExit) as refused:  # §12: exit status 1, a line refused
        call_command("load_feed", "assignments", str(path))
    assert refused.value.code == 1
    err = capsys.readouterr().err
    assert f"{path}:3:" in err
    assert PreAssignment.objects.filter(status="active").count() == 1


def test_feed_cannot_bypass_the_branch_of_the_customer():
    a, other = OutletFactory(), OutletFactory()
    idn = lost_customer(a)
    nightly("2026-01-15")
    content = csv_bytes(["id_number", "staff_no", "assigned_at"],
                        [[idn, StaffFactory(outlet=other).staff_no, "2026-01-20T09:00:00+08:00"]])
    result = load_feed(actor="test", kind="assignments", content=content, filename="a.csv")
    assert result.rows_loaded == 0 and "该客户不是" in result.errors[0][1]


def test_pre_assignment_keeps_the_assignment_time_given():
    """A feed line's assigned_at is kept (the form uses the time of the request)."""
    a = OutletFactory()
    idn = lost_customer(a)
    nightly("2026-01-15")
    staff = StaffFactory(outlet=a)
    result = preassignment_create(actor="feed", customer_ids=[customer_of(idn).pk], staff=staff,
                                  assigned_at=at("2026-01-21 08:00"))
    assert PreAssignment.objects.get(pk=result.assigned[0]).assigned_at == at("2026-01-21 08:00")
