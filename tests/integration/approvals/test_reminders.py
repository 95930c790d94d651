"""R-APR-9: waiting steps and overdue callbacks are reminded on the 2nd working day and escalated on the 5th, counted
with the project's calendar across the National Day holiday; a re-run reminds nobody twice; the branch head sees the
escalated step marked and may decide it."""
from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import translation

from approvals.models import ApprovalCase, CaseReason, CaseStatus, CaseStep, Notification, Reminder
from approvals.reminders import reminders_run
from approvals.services import case_act, case_open
from approvals.waiting import escalated_to
from relationships.models import Callback, CallbackStatus, RelationshipType
from relationships.services import customer_get_or_create
from reservations.models import BatchRun
from tests.integration.relationships.test_callbacks import matched_relationship
from tests.support.approvals import holder, hq_admin, make_branch
from tests.support.factories import OutletFactory, RoleFactory, StaffFactory, make_id_number
from tests.support.helpers import nightly

pytestmark = pytest.mark.django_db

SH = dt.timezone(dt.timedelta(hours=8))
OPENED = dt.date(2026, 9, 30)  # a Wednesday; 1–7 October are the National Day holiday, Saturday 10 October is worked


def _case_waiting_since(b, day: dt.date) -> ApprovalCase:
    """A one-level branch-created case filed by a branch user (not the head), opened on `day`."""
    filer = RoleFactory(kind="branch", organisation=b.branch).user
    customer = customer_get_or_create(id_number=make_id_number(), name="王五")
    case = case_open(actor=filer, reason=CaseReason.BRANCH_CREATED,
                     rel_type=RelationshipType.objects.get(code="EXISTING_DEV"), customer=customer,
                     proposed_shares=[{"staff_id": b.staff.pk, "ratio": "1.0000"}], dedupe_key=f"r:{customer.pk}",
                     branch=b.branch, applicant=b.staff, explanation="分公司创建")
    ApprovalCase.objects.filter(pk=case.pk).update(created_at=dt.datetime.combine(day, dt.time(10), tzinfo=SH))
    return case


@pytest.fixture
def b():
    b = make_branch()
    b.approver = holder("designated_person", b.branch, actor=b.head)
    return b


def _kinds(case) -> list[str]:
    return sorted(Reminder.objects.filter(step__case=case).values_list("kind", flat=True))


def test_a_step_is_reminded_on_the_2nd_and_escalated_on_the_5th_working_day_across_the_national_day_holiday(b):
    case = _case_waiting_since(b, OPENED)
    assert reminders_run(business_date=dt.date(2026, 10, 7)) == {"reminders": 0}   # holiday: 0 working days
    reminders_run(business_date=dt.date(2026, 10, 8))                              # 1 working day
    assert _kinds(case) == []
    assert reminders_run(business_date=dt.date(2026, 10, 9)) == {"steps_reminded": 1}  # 2: 8 and 9 October
    assert _kinds(case) == ["remind"]
    reminders_run(business_date=dt.date(2026, 10, 12))                             # 4: the worked Saturday counts
    assert _kinds(case) == ["remind"]
    assert reminders_run(business_date=dt.date(2026, 10, 13)) == {"steps_escalated": 1}  # 5
    escalation = Reminder.objects.get(step__case=case, kind="escalate")
    assert escalation.escalated_to_id == b.branch.pk


def test_a_re_run_of_the_stage_reminds_nobody_twice_and_the_database_refuses_a_second_reminder(b):
    case = _case_waiting_since(b, OPENED)
    reminders_run(business_date=dt.date(2026, 10, 9))
    told = Notification.objects.filter(user=b.approver).count()
    assert reminders_run(business_date=dt.date(2026, 10, 9)) == {"reminders": 0}
    assert reminders_run(business_date=dt.date(2026, 10, 10)) == {"reminders": 0}
    assert Notification.objects.filter(user=b.approver).count() == told == 2  # waiting, then the reminder
    step = case.steps.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        Reminder.objects.create(step=step, kind="remind", business_date=dt.date(2026, 10, 11))


def test_the_holders_are_reminded_and_the_branch_head_is_told_of_the_escalation(b):
    case = _case_waiting_since(b, OPENED)
    reminders_run(business_date=dt.date(2026, 10, 13))
    reminder = Notification.objects.get(user=b.approver, key__startswith="reminder:")
    assert f"#{case.pk}" in reminder.subject and "催办" in reminder.subject
    escalation = Notification.objects.get(user=b.head, key__startswith="reminder:")
    assert "升级" in escalation.subject and escalation.link == reverse("approvals:case", args=[case.pk])
    assert not Notification.objects.filter(user=b.colleague.user).exists()


def test_escalation_reaches_the_branch_head_who_sees_it_marked_and_can_decide_it(client, b):
    case = _case_waiting_since(b, OPENED)
    other = make_branch()
    reminders_run(business_date=dt.date(2026, 10, 13))
    assert [s.case_id for s in escalated_to(b.head)] == [case.pk]
    assert list(escalated_to(other.head)) == []
    client.force_login(b.head)
    html = client.get(reverse("approvals:inbox")).content.decode()
    section = html[html.index('id="escalated-heading"'):]
    assert f"/approvals/{case.pk}/" in section and "已升级" in section and "已催办" in section
    home = client.get("/").content.decode()
    assert f"/approvals/{case.pk}/" in home[home.index('data-todo="escalated"'):]
    with translation.override("en"):
        case_act(actor=b.head, case_id=case.pk, decision="approve")
    assert ApprovalCase.objects.get(pk=case.pk).status == CaseStatus.APPROVED
    assert list(escalated_to(b.head)) == []


def test_an_hq_step_escalates_to_the_head_office():
    admin, hq = hq_admin()
    b = make_branch()
    case = _case_waiting_since(b, OPENED)
    CaseStep.objects.filter(case=case).update(organisation=hq, post="hq")
    reminders_run(business_date=dt.date(2026, 10, 13))
    assert Reminder.objects.get(step__case=case, kind="escalate").escalated_to_id == hq.pk
    assert [s.case_id for s in escalated_to(admin)] == [case.pk]
    assert list(escalated_to(b.head)) == []


def test_an_overdue_callback_is_reminded_to_its_outlet_then_escalated_to_the_branch_head():
    outlet = OutletFactory()
    staff = StaffFactory(outlet=outlet)
    rel = matched_relationship(staff, outlet)
    outlet_head = RoleFactory(kind="outlet_head", organisation=outlet).user
    head = RoleFactory(kind="branch_head", organisation=outlet.branch).user
    Callback.objects.filter(relationship=rel).update(due_on=OPENED, status=CallbackStatus.PENDING)
    assert reminders_run(business_date=dt.date(2026, 10, 9)) == {"callbacks_reminded": 1}
    assert reminders_run(business_date=dt.date(2026, 10, 13)) == {"callbacks_escalated": 1}
    assert Notification.objects.filter(user=outlet_head, key__startswith="reminder:").count() == 1
    assert Notification.objects.filter(user=head, key__startswith="reminder:").count() == 1


def test_the_nightly_run_records_the_reminder_stage_in_its_ledger(b):
    case = _case_waiting_since(b, OPENED)
    nightly("2026-10-13")
    run = BatchRun.objects.get(business_date=dt.date(2026, 10, 13), stage="reminders")
    assert run.status == "succeeded" and run.counts == {"steps_reminded": 1, "steps_escalated": 1}
    assert _kinds(case) == ["escalate", "remind"]
