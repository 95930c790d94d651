"""R-STAFF-1, §12: the reassignments feed files the same case as the page, a line number per refused line; the
same file twice is already loaded."""
from __future__ import annotations

import pytest

from approvals.models import ApprovalCase
from relationships.models import ReassignmentLine
from reservations.exchange.registry import load_feed
from tests.support.approvals import make_branch
from tests.support.factories import CustomerFactory, RelationshipFactory, StaffFactory, make_id_number
from tests.support.helpers import csv_bytes

pytestmark = pytest.mark.django_db

HEADER = ["id_number", "relationship_type", "from_staff_no", "participants", "effective_from"]


def _customer_rel(staff, type_code="NEW_DEV"):
    idn = make_id_number()
    return idn, RelationshipFactory(customer=CustomerFactory(id_number=idn), type_code=type_code,
                                    shares=[(staff, "1")])


def test_the_reassignments_feed_files_one_case_and_names_each_refused_line():
    b = make_branch()
    third = StaffFactory(outlet=b.outlet, qualifications=["securities"])
    (id1, r1), (id2, r2) = _customer_rel(b.staff), _customer_rel(b.staff)
    id3, _r3 = _customer_rel(b.staff, "IB_SERVICE")
    holders = f"{b.colleague.staff_no}:0.6;{third.staff_no}:0.4"
    content = csv_bytes(HEADER, [
        [id1, "NEW_DEV", b.staff.staff_no, holders, "2026-11-10"],
        [id2, "NEW_DEV", b.staff.staff_no, holders, "2026-11-10"],
        [id3, "IB_SERVICE", b.staff.staff_no, holders, "2026-11-10"],   # third lacks the futures qualification
        [make_id_number(), "NEW_DEV", b.staff.staff_no, holders, "2026-11-10"],  # no such relationship
        [id1, "NEW_DEV", "NOBODY", holders, "2026-11-10"],                # unknown staff number
        [id2, "NEW_DEV", b.staff.staff_no, holders, "2026-11-31"],        # impossible date
    ])
    result = load_feed(actor="test", kind="reassignments", content=content, filename="reassignments.csv")
    assert [n for n, _reason in result.errors] == [4, 5, 6, 7]
    assert result.rows_loaded == 2
    case = ApprovalCase.objects.get(reason="reassignment")
    assert sorted(ReassignmentLine.objects.values_list("relationship_id", flat=True)) == sorted([r1.pk, r2.pk])
    assert sorted(int(s["staff_id"]) for s in case.proposed_shares) == sorted([b.colleague.pk, third.pk])

    again = load_feed(actor="test", kind="reassignments", content=content, filename="reassignments.csv")
    assert again.already_loaded and ApprovalCase.objects.filter(reason="reassignment").count() == 1
