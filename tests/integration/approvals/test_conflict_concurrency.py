"""R-MATCH-3 with R-APR-7 on the real PostgreSQL: two claimants' reservations and the case's final approval at once."""
from __future__ import annotations

import threading
import time

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils import translation

from approvals.models import ApprovalCase, CaseAction, CaseClaimant
from approvals.services import case_act
from relationships.models import Relationship
from reservations.models import Reservation
from tests.support.approvals import holder, make_branch
from tests.support.factories import StaffFactory, make_id_number
from tests.support.helpers import at, event_row, load_events, nightly, reserve

THREADS = 20
REGISTRATIONS_EACH = 6  # each claimant's form submitted six times at once (double clicks, retries)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("approvers_wait", [0.0, 0.4], ids=["all-at-once", "approvers-a-moment-later"])
def test_two_claimants_reserving_while_the_final_approver_decides_leave_one_case_one_decision_and_no_orphan_claim(
        approvers_wait):
    """R-MATCH-3, R-APR-7: 12 registrations by two late claimants and 8 final approvers, released together (or
    the approvers a moment later, so that claims reach the case's lock first too).

    Each claim either joined the case before the decision (and was decided with it) or was refused at
    registration with nothing saved; exactly one approval; one case; one relationship."""
    b = make_branch()
    idn = make_id_number()
    load_events([event_row(when=at("2026-03-02 10:00"), id_number=idn, name="张三", outlet=b.outlet)])
    nightly("2026-03-02")
    first = reserve(b.staff, id_number=idn, when=at("2026-03-03 09:00"))
    case = ApprovalCase.objects.get(pk=first.approval_case_id)
    for post in ("account_opening_review", "outlet_review"):
        case_act(actor=holder(post, b.branch, actor=b.head), case_id=case.pk, decision="approve")
    claimants = [StaffFactory(outlet=b.outlet), StaffFactory(outlet=b.outlet)]
    approvers = [holder("final_approval", b.branch, actor=b.head)
                 for _ in range(THREADS - 2 * REGISTRATIONS_EACH)]
    barrier = threading.Barrier(THREADS)
    results: list[tuple[str, str, str]] = []
    lock = threading.Lock()

    def run(kind, fn):
        try:
            with translation.override("en"):
                barrier.wait(timeout=30)
                if kind == "approve" and approvers_wait:
                    time.sleep(approvers_wait)
                try:
                    fn()
                    outcome = (kind, "ok", "")
                except (ValidationError, PermissionDenied) as exc:
                    outcome = (kind, "refused", " ".join(getattr(exc, "messages", [str(exc)])))
                except Exception as exc:  # noqa: BLE001 — reported by the assertion below
                    outcome = (kind, "error", repr(exc))
            with lock:
                results.append(outcome)
        finally:
            connection.close()

    jobs = [("register", lambda s=s: reserve(s, id_number=idn, when=at("2026-03-05 09:00")))
            for s in claimants for _ in range(REGISTRATIONS_EACH)]
    jobs += [("approve", lambda u=u: case_act(actor=u, case_id=case.pk, decision="approve")) for u in approvers]
    threads = [threading.Thread(target=run, args=job) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=90)

    assert len(results) == THREADS
    assert [r for r in results if r[1] == "error"] == []
    approvals = [r for r in results if r[0] == "approve"]
    assert sum(1 for r in approvals if r[1] == "ok") == 1
    assert all("moved on" in msg for _k, outcome, msg in approvals if outcome == "refused")
    registrations = [r for r in results if r[0] == "register"]
    assert all(("already have an open reservation" in msg or "already holds" in msg)
               for _k, outcome, msg in registrations if outcome == "refused")

    assert ApprovalCase.objects.filter(customer=case.customer).count() == 1
    decided = ApprovalCase.objects.get(pk=case.pk)
    assert decided.status == "approved"
    assert CaseAction.objects.filter(case=case, decision="approve", step_order=3).count() == 1
    assert Relationship.objects.filter(customer=case.customer).count() == 1
    # No orphan claim: every saved reservation is a claimant of the case and was decided with it.
    saved = Reservation.objects.filter(id_hash=first.id_hash)
    per_staff = {s.pk: saved.filter(staff=s).count() for s in claimants}
    assert all(n <= 1 for n in per_staff.values())
    assert sum(1 for r in registrations if r[1] == "ok") == sum(per_staff.values())
    assert set(saved.values_list("approval_case", flat=True)) == {case.pk}
    assert set(saved.values_list("status", flat=True)) <= {"matched", "refused"}
    assert set(CaseClaimant.objects.filter(case=case).values_list("reservation", flat=True)) == set(
        saved.values_list("pk", flat=True))
