"""R-STAFF-1: a staff member's outlet is effective-dated; the staff feed records moves and leavings with dates."""
from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone

from permissions.models import PermissionRegisterEntry
from permissions.staff_changes import leavers_attach_close_due, staff_move
from relationships.membership import EPOCH, staff_outlets_on
from relationships.models import Qualification, RelationshipType, Staff, StaffMembership
from relationships.services import attach_refusal
from reservations.exchange.registry import load_feed
from tests.support.approvals import hq_admin, make_branch
from tests.support.factories import OutletFactory, StaffFactory
from tests.support.helpers import csv_bytes

pytestmark = pytest.mark.django_db

HEADER = ["staff_no", "name", "outlet_code", "kind", "parent_staff_no", "qualifications", "attach_open",
          "effective_from", "leaving_date"]


def _line(staff, outlet, *, effective_from="", leaving_date="", attach="true"):
    return [staff.staff_no, staff.name, outlet.code, staff.kind, "", "securities;futures;consulting;broker", attach,
            effective_from, leaving_date]


def _load(rows, name="staff.csv"):
    return load_feed(actor="test", kind="staff", content=csv_bytes(HEADER, rows), filename=name)


def test_a_move_on_the_15th_keeps_the_old_outlet_before_it_and_the_new_one_from_it():
    """R-STAFF-1: the feed's effective_from splits the staff member's days between the two outlets."""
    staff = StaffFactory()
    old = staff.outlet
    new = OutletFactory(parent=old.parent)
    result = _load([_line(staff, new, effective_from="2026-11-15")])
    assert result.errors == []
    staff.refresh_from_db()
    assert staff.outlet == new  # the rest of the platform reads the current outlet
    assert list(StaffMembership.objects.filter(staff=staff).values_list("outlet_id", "valid_from", "valid_to")) == [
        (old.pk, EPOCH, dt.date(2026, 11, 15)), (new.pk, dt.date(2026, 11, 15), None)]
    assert staff_outlets_on([staff.pk], dt.date(2026, 11, 14)) == {staff.pk: old.pk}
    assert staff_outlets_on([staff.pk], dt.date(2026, 11, 15)) == {staff.pk: new.pk}


def test_a_staff_member_who_never_moved_was_always_at_his_outlet():
    staff = StaffFactory()
    assert staff_outlets_on([staff.pk], dt.date(2001, 1, 1)) == {staff.pk: staff.outlet_id}


def test_a_bad_effective_from_refuses_its_line_and_keeps_the_others():
    """§12: a bad date, a move that has not happened yet, or one before the last move refuses only its line."""
    a, b, c, d = (StaffFactory() for _ in range(4))
    _load([_line(c, OutletFactory(), effective_from="2026-10-01")], name="first.csv")
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    target = OutletFactory()
    result = _load([_line(a, target, effective_from="2026-13-01"), _line(b, target, effective_from=tomorrow),
                    _line(c, target, effective_from="2026-09-01"), _line(d, target, effective_from="2026-11-02")])
    assert [n for n, _reason in result.errors] == [2, 3, 4]
    assert "effective_from" in result.errors[0][1]
    for refused in (a, b, c):
        refused.refresh_from_db()
        assert refused.outlet != target
    d.refresh_from_db()
    assert d.outlet == target


def test_the_database_refuses_overlapping_memberships_and_a_second_open_one():
    staff = StaffFactory()
    StaffMembership.objects.create(staff=staff, outlet=staff.outlet, valid_from=dt.date(2026, 1, 1),
                                   valid_to=dt.date(2026, 6, 1))
    with pytest.raises(IntegrityError), transaction.atomic():
        StaffMembership.objects.create(staff=staff, outlet=staff.outlet, valid_from=dt.date(2026, 5, 1),
                                       valid_to=dt.date(2026, 7, 1))
    StaffMembership.objects.create(staff=staff, outlet=staff.outlet, valid_from=dt.date(2026, 6, 1))
    with pytest.raises(IntegrityError), transaction.atomic():
        StaffMembership.objects.create(staff=staff, outlet=staff.outlet, valid_from=dt.date(2027, 1, 1))


def test_a_leaving_date_closes_attach_permission_through_the_register_from_that_day():
    """R-ATT-2: the feed's leaving_date ends his membership and closes attach permission (a register row)."""
    staff = StaffFactory()
    today = timezone.localdate()
    result = _load([_line(staff, staff.outlet, leaving_date=today.isoformat())])
    assert result.errors == []
    staff.refresh_from_db()
    assert staff.left_on == today and not staff.attach_open
    assert PermissionRegisterEntry.objects.filter(subject_staff=staff, event="attach_closed").exists()
    assert not StaffMembership.objects.filter(staff=staff, valid_to__isnull=True).exists()
    rel_type = RelationshipType.objects.get(code="NEW_DEV")
    assert attach_refusal(staff, rel_type, today) is not None
    assert attach_refusal(staff, rel_type, today - dt.timedelta(days=1)) is None or not staff.attach_open
    # The next day's full staff file still lists him as he was: nothing changes, nothing is refused.
    again = _load([_line(staff, staff.outlet, leaving_date=today.isoformat())], name="next.csv")
    assert again.errors == []


def test_a_future_leaving_date_refuses_attachments_from_that_day_only():
    staff = StaffFactory()
    day = timezone.localdate() + dt.timedelta(days=10)
    assert _load([_line(staff, staff.outlet, leaving_date=day.isoformat())]).errors == []
    staff = Staff.objects.get(pk=staff.pk)
    rel_type = RelationshipType.objects.get(code="NEW_DEV")
    assert staff.attach_open and attach_refusal(staff, rel_type, day - dt.timedelta(days=1)) is None
    assert attach_refusal(staff, rel_type, day) is not None


def test_the_admin_records_a_move_with_its_date_and_another_branchs_admin_may_not():
    """R-STAFF-1 through `staff_move` (the staff admin's action); R-PERM-1: only his branch's admin or HQ."""
    admin, _hq = hq_admin()
    staff = StaffFactory()
    old, new = staff.outlet, OutletFactory(parent=staff.outlet.parent)
    staff_move(actor=admin, staff=staff, outlet=new, on=dt.date(2026, 11, 15), reason="调岗")
    assert staff_outlets_on([staff.pk], dt.date(2026, 11, 14)) == {staff.pk: old.pk}
    assert Staff.objects.get(pk=staff.pk).outlet == new
    with pytest.raises(PermissionDenied):
        staff_move(actor=make_branch().head, staff=staff, outlet=old, on=dt.date(2026, 11, 20), reason="调岗")


def test_a_leaving_recorded_ahead_closes_attach_permission_through_the_register_on_its_day():
    """R-ATT-2: the nightly beat task closes it once the day has come; his qualifications stay as they were."""
    staff = StaffFactory()
    day = timezone.localdate() + dt.timedelta(days=3)
    assert _load([_line(staff, staff.outlet, leaving_date=day.isoformat())]).errors == []
    assert leavers_attach_close_due(today=day - dt.timedelta(days=1)) == 0
    quals = set(Qualification.objects.filter(staff=staff, valid_to__isnull=True).values_list("kind", flat=True))
    assert leavers_attach_close_due(today=day) == 1
    staff.refresh_from_db()
    assert not staff.attach_open
    assert PermissionRegisterEntry.objects.filter(subject_staff=staff, event="attach_closed").count() == 1
    assert set(Qualification.objects.filter(staff=staff, valid_to__isnull=True).values_list("kind", flat=True)) == quals
    assert leavers_attach_close_due(today=day) == 0
