"""R-APR-7 on the real PostgreSQL: twenty approvers on the same step at the same moment."""
from __future__ import annotations

import threading

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils import translation

from approvals.models import ApprovalCase, CaseAction, CaseStep
from approvals.services import case_act
from relationships.models import Relationship
from tests.support.approvals import branch_created_case, holder, make_branch

THREADS = 20


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_twenty_approvers_on_the_same_step_at_once_exactly_one_succeeds_and_the_others_are_told_it_moved_on():
    """R-APR-7: one decision, one CaseAction row, one relationship; nineteen clear refusals."""
    b = make_branch()
    case = branch_created_case(b)
    approvers = [holder("designated_person", b.branch, actor=b.head) for _ in range(THREADS)]
    barrier = threading.Barrier(THREADS)
    results: list[tuple[str, str]] = []
    lock = threading.Lock()

    def act(user):
        try:
            with translation.override("en"):
                barrier.wait(timeout=30)
                try:
                    case_act(actor=user, case_id=case.pk, decision="approve")
                    outcome = ("ok", "")
                except (ValidationError, PermissionDenied) as exc:
                    outcome = ("refused", " ".join(getattr(exc, "messages", [str(exc)])))
                except Exception as exc:  # noqa: BLE001 — reported by the assertion below
                    outcome = ("error", repr(exc))
            with lock:
                results.append(outcome)
        finally:
            connection.close()

    threads = [threading.Thread(target=act, args=(u,)) for u in approvers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert len(results) == THREADS
    assert [r for r in results if r[0] == "error"] == []
    assert sum(1 for r in results if r[0] == "ok") == 1
    refusals = [msg for kind, msg in results if kind == "refused"]
    assert len(refusals) == THREADS - 1
    assert all("moved on" in msg for msg in refusals)
    assert CaseAction.objects.filter(case=case).count() == 1
    assert ApprovalCase.objects.get(pk=case.pk).status == "approved"
    assert CaseStep.objects.get(case=case).state == "approved"
    assert Relationship.objects.filter(customer=case.customer).count() == 1
