"""The domain factories build what the services build (tests/support/factories.py), so a rule test that starts
from a factory starts from a state the product itself could reach."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from approvals.models import CaseStatus
from relationships.models import Account, AuditEntry, MatchState
from tests.support.factories import (
    AccountEventFactory,
    ApprovalCaseFactory,
    CustomerFactory,
    RelationshipFactory,
    ReservationFactory,
    StaffFactory,
    make_id_number,
)

pytestmark = pytest.mark.django_db


def test_a_customer_is_one_per_id_number_r_pii_1():
    number = make_id_number(seq=7)
    assert CustomerFactory(id_number=number) == CustomerFactory(id_number=number, name="别名")


def test_an_account_event_opens_its_account_and_waits_for_matching():
    event = AccountEventFactory(event_time=dt.datetime(2026, 3, 2, 10, tzinfo=dt.timezone(dt.timedelta(hours=8))))
    assert event.match_state == MatchState.PENDING
    assert event.business_date == dt.date(2026, 3, 2)
    assert Account.objects.filter(account_no=event.account_no, customer=event.customer).exists()
    assert event.first_of_kind and not event.existing_customer


def test_a_relationship_has_its_shares_and_its_audit_row_r_res_4():
    a, b = StaffFactory(), StaffFactory()
    rel = RelationshipFactory(shares=[(a, Decimal("0.6")), (b, Decimal("0.4"))])
    assert sorted((s.staff_id, s.ratio) for s in rel.shares.all()) == sorted([(a.pk, Decimal("0.6")),
                                                                              (b.pk, Decimal("0.4"))])
    assert AuditEntry.objects.filter(action="relationship.create", target_id=str(rel.pk)).exists()


def test_a_reservation_and_a_case_come_from_their_services():
    staff = StaffFactory()
    reservation = ReservationFactory(staff=staff)
    assert reservation.staff == staff and reservation.participants.count() == 1
    case = ApprovalCaseFactory(shares=[(staff, Decimal("1"))])
    assert case.status == CaseStatus.PENDING and case.steps.exists()
