"""R-APR-10: the branch head's page of post designations and delegations with dates (add, end early, history),
HQ's for HQ posts; every change in the register; another organisation's user refused; end dates honoured at the
moment of acting; a waiting step handed to another current holder of its post, with the reason on the timeline."""
from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone, translation

from approvals.designations import designation_add, designation_end, step_reassign
from approvals.models import ApprovalCase, CaseAction, CaseStatus, PostAssignment
from approvals.reminders import reminders_run
from approvals.selectors import inbox_for
from approvals.services import case_act
from permissions.models import PermissionRegisterEntry, RegisterEvent
from tests.integration.approvals.test_reminders import OPENED, _case_waiting_since
from tests.support.approvals import hq_admin, make_branch
from tests.support.factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

DESIGNATIONS = reverse("approvals:designations")


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def _today() -> dt.date:
    return timezone.localdate()


def test_the_branch_head_designates_a_holder_on_his_page_and_it_is_in_the_register(client):
    b = make_branch()
    client.force_login(b.head)
    assert client.get(DESIGNATIONS).status_code == 200
    response = client.post(DESIGNATIONS, {"post": "designated_person", "organisation": b.branch.pk,
                                          "username": b.colleague.user.username,
                                          "valid_from": _today().isoformat(), "reason": "新任指定人员"})
    assert response.status_code == 302, response.content.decode()[:3000]
    a = PostAssignment.objects.get(user=b.colleague.user)
    assert a.post == "designated_person" and a.organisation == b.branch and a.created_by == b.head
    entry = PermissionRegisterEntry.objects.get(event=RegisterEvent.POST_DESIGNATED)
    assert entry.branch == b.branch and entry.subject_user == b.colleague.user and entry.reason == "新任指定人员"
    assert b.colleague.user.username in client.get(DESIGNATIONS).content.decode()


def test_designating_another_branchs_user_is_refused_with_a_clear_message(client):
    b, other = make_branch(), make_branch()
    with pytest.raises(ValidationError, match="belongs to another organisation"):
        designation_add(actor=b.head, post="final_approval", organisation=b.branch, user=other.staff.user,
                        valid_from=_today())
    client.force_login(b.head)
    response = client.post(DESIGNATIONS, {"post": "final_approval", "organisation": b.branch.pk,
                                          "username": other.staff.user.username, "valid_from": _today().isoformat()},
                           HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400 and "belongs to another organisation" in response.content.decode()
    assert not PostAssignment.objects.filter(user=other.staff.user).exists()


def test_hq_designates_hq_reviewers_on_the_same_page_and_a_branch_head_cannot(client):
    admin, hq = hq_admin()
    reviewer = UserFactory()
    designation_add(actor=admin, post="hq", organisation=hq, user=reviewer, valid_from=_today(), reason="总部审核")
    assert PermissionRegisterEntry.objects.filter(event=RegisterEvent.POST_DESIGNATED, branch=None).count() == 1
    b = make_branch()
    with pytest.raises(PermissionDenied):
        designation_add(actor=b.head, post="hq", organisation=hq, user=UserFactory(), valid_from=_today())
    client.force_login(admin)
    assert reviewer.username in client.get(DESIGNATIONS).content.decode()
    client.force_login(b.staff.user)
    assert client.get(DESIGNATIONS).status_code == 403


def test_ending_a_designation_early_is_honoured_at_the_moment_of_acting_and_kept_in_history(client):
    b = make_branch()
    holder = UserFactory()
    a = designation_add(actor=b.head, post="designated_person", organisation=b.branch, user=holder,
                        valid_from=_today() - dt.timedelta(days=10))
    case = _case_waiting_since(b, _today())
    designation_end(actor=b.head, assignment_id=a.pk, on=_today() - dt.timedelta(days=1), reason="调岗")
    with pytest.raises(PermissionDenied):
        case_act(actor=holder, case_id=case.pk, decision="approve")
    assert list(inbox_for(holder)) == []
    assert PermissionRegisterEntry.objects.filter(event=RegisterEvent.POST_DESIGNATION_ENDED, reason="调岗").exists()
    client.force_login(b.head)
    html = client.get(DESIGNATIONS).content.decode()
    assert html.index("history-heading") < html.index(holder.username)


def test_a_designation_ending_today_still_acts_today():
    b = make_branch()
    holder = UserFactory()
    designation_add(actor=b.head, post="designated_person", organisation=b.branch, user=holder,
                    valid_from=_today() - dt.timedelta(days=3), valid_to=_today())
    case = _case_waiting_since(b, _today())
    case_act(actor=holder, case_id=case.pk, decision="approve")
    assert ApprovalCase.objects.get(pk=case.pk).status == CaseStatus.APPROVED


def test_another_branchs_head_cannot_end_a_designation():
    b, other = make_branch(), make_branch()
    a = designation_add(actor=b.head, post="designated_person", organisation=b.branch, user=UserFactory(),
                        valid_from=_today())
    with pytest.raises(PermissionDenied):
        designation_end(actor=other.head, assignment_id=a.pk, on=_today(), reason="x")


def test_a_waiting_step_is_handed_to_another_current_holder_with_the_reason_on_the_case_timeline(client):
    b = make_branch()
    first, second = StaffFactory(outlet=b.outlet).user, StaffFactory(outlet=b.outlet).user
    for user in (first, second):
        designation_add(actor=b.head, post="designated_person", organisation=b.branch, user=user,
                        valid_from=_today() - dt.timedelta(days=30))
    case = _case_waiting_since(b, OPENED)
    reminders_run(business_date=dt.date(2026, 10, 13))                     # escalated to the branch head
    client.force_login(b.head)
    step = case.steps.get()
    assert reverse("approvals:step_reassign", args=[step.pk]) in client.get(reverse("approvals:inbox")).content.decode()
    response = client.post(reverse("approvals:step_reassign", args=[step.pk]),
                           {"to_user": second.pk, "reason": "张经理休假"})
    assert response.status_code == 302
    assert [s.case_id for s in inbox_for(second)] == [case.pk] and list(inbox_for(first)) == []
    with pytest.raises(PermissionDenied):
        case_act(actor=first, case_id=case.pk, decision="approve")
    action = CaseAction.objects.get(case=case, decision="reassign")
    assert action.reason == "张经理休假" and action.actor == b.head
    page = client.get(reverse("approvals:case", args=[case.pk]), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "张经理休假" in page and "环节已转交" in page and ">reassign<" not in page  # the action in words
    assert PermissionRegisterEntry.objects.filter(event=RegisterEvent.STEP_REASSIGNED, subject_user=second).exists()
    case_act(actor=second, case_id=case.pk, decision="approve")
    assert ApprovalCase.objects.get(pk=case.pk).status == CaseStatus.APPROVED


def test_a_step_is_handed_only_to_a_current_holder_of_its_post_and_only_by_the_head():
    b = make_branch()
    holder = StaffFactory(outlet=b.outlet).user
    designation_add(actor=b.head, post="designated_person", organisation=b.branch, user=holder,
                    valid_from=_today() - dt.timedelta(days=30))
    case = _case_waiting_since(b, _today())
    step = case.steps.get()
    with pytest.raises(ValidationError, match="does not hold the post"):
        step_reassign(actor=b.head, step_id=step.pk, to_user=b.colleague.user, reason="x")
    with pytest.raises(PermissionDenied):
        step_reassign(actor=make_branch().head, step_id=step.pk, to_user=holder, reason="x")
    with pytest.raises(ValidationError):
        step_reassign(actor=b.head, step_id=step.pk, to_user=holder, reason=" ")


def test_the_designations_page_lists_every_waiting_step_of_the_branch_to_hand_over(client):
    """R-APR-10: not only escalated steps — the head hands any waiting step of his branch to another holder."""
    b = make_branch()
    holder_user = StaffFactory(outlet=b.outlet).user
    designation_add(actor=b.head, post="designated_person", organisation=b.branch, user=holder_user,
                    valid_from=_today() - dt.timedelta(days=30))
    case = _case_waiting_since(b, _today())
    client.force_login(b.head)
    html = client.get(DESIGNATIONS).content.decode()
    section = html[html.index('id="waiting-heading"'):html.index('id="history-heading"')]
    assert reverse("approvals:step_reassign", args=[case.steps.get().pk]) in section
    client.force_login(make_branch().head)
    assert f"/approvals/{case.pk}/" not in client.get(DESIGNATIONS).content.decode()


def test_the_designations_page_costs_the_same_for_one_and_many_waiting_steps(client, django_assert_max_num_queries):
    b = make_branch()
    designation_add(actor=b.head, post="designated_person", organisation=b.branch,
                    user=StaffFactory(outlet=b.outlet).user, valid_from=_today() - dt.timedelta(days=30))
    _case_waiting_since(b, _today())
    client.force_login(b.head)
    client.get(DESIGNATIONS)
    with django_assert_max_num_queries(60) as few:
        client.get(DESIGNATIONS)
    for _i in range(6):
        _case_waiting_since(b, _today())
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(DESIGNATIONS).status_code == 200


def test_a_designation_made_in_the_admin_site_is_in_the_register_too(client):
    admin, _hq = hq_admin()
    admin.is_staff = True
    admin.save(update_fields=["is_staff"])
    b = make_branch()
    client.force_login(admin)
    response = client.post(reverse("admin:approvals_postassignment_add"), {
        "post": "designated_person", "organisation": b.branch.pk, "user": b.colleague.user.pk,
        "valid_from": _today().isoformat()})
    assert response.status_code == 302, response.content.decode()[-2000:]
    entry = PermissionRegisterEntry.objects.get(event=RegisterEvent.POST_DESIGNATED)
    assert entry.subject_user == b.colleague.user and entry.branch == b.branch
