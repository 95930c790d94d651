"""R-REM-1 / R-APR-9: the home page lists everything that waits for the user, with its age in working days and a
"view all" link instead of a silent cap; the inbox counts, ages, filters and sorts its steps, oldest first."""
from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from approvals.models import ApprovalCase, CaseStatus
from approvals.services import case_act
from permissions import services as perm_services
from permissions.models import Role, RoleKind
from relationships import views as relationship_views
from relationships.models import Callback, CoreLineStatus, CoreListLine, CoreListSubmission
from relationships.workdays import WorkdayAges
from tests.integration.relationships.test_callbacks import matched_relationship
from tests.support.approvals import branch_created_case, holder, make_branch
from tests.support.factories import HQFactory, OutletFactory, RoleFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


def _section(html: str, key: str) -> str:
    start = html.find(f'data-todo="{key}"')
    assert start >= 0, f"no {key} section"
    return html[start:html.find("</section>", start)]


def _age_open(case: ApprovalCase, day: dt.date) -> None:
    """The case opened on `day` (Shanghai noon)."""
    ApprovalCase.objects.filter(pk=case.pk).update(
        created_at=dt.datetime.combine(day, dt.time(12), tzinfo=dt.timezone(dt.timedelta(hours=8))))


def test_working_day_age_skips_the_national_day_holiday_and_counts_its_make_up_saturday():
    """R-APR-9: waited since 2026-09-30: Oct 1–7 are holidays, Oct 8/9 and the make-up Saturday Oct 10 count."""
    ages = WorkdayAges(today=dt.date(2026, 10, 13))
    assert ages.age(dt.date(2026, 9, 30)) == 5          # 8, 9, 10 (Saturday worked), 12, 13
    assert ages.age(dt.date(2026, 10, 13)) == 0
    assert WorkdayAges(today=dt.date(2026, 10, 7)).age(dt.date(2026, 9, 30)) == 0


def test_home_lists_a_returned_case_for_its_applicant_and_no_one_else(client):
    """R-REM-1: returned cases reach the applicant's (and filer's) home page."""
    b = make_branch()
    approver = holder("designated_person", b.branch, actor=b.head)
    case = branch_created_case(b)
    case_act(actor=approver, case_id=case.pk, decision="return", reason="比例有误")
    assert ApprovalCase.objects.get(pk=case.pk).status == CaseStatus.RETURNED
    link = reverse("approvals:case", args=[case.pk])
    client.force_login(b.staff.user)
    assert link in _section(client.get("/").content.decode(), "returned")
    client.force_login(b.head)  # the filer
    assert link in _section(client.get("/").content.decode(), "returned")
    client.force_login(b.colleague.user)
    assert link not in _section(client.get("/").content.decode(), "returned")


def _perm_org():
    hq = HQFactory()
    hq_user = UserFactory(username="hq-office-w")
    Role.objects.create(user=hq_user, kind=RoleKind.HQ, organisation=hq)
    b = make_branch()
    other = make_branch()
    admin = UserFactory()
    perm_services.branch_admin_assign(actor=hq_user, user=admin, branch=b.branch, reason="branch admin")
    app = perm_services.application_file(actor=b.staff.user, subject=b.staff.user, action="grant",
                                         role_kind=RoleKind.OUTLET_HEAD, organisation=b.outlet,
                                         reason="takes over the outlet", signed_off=True)
    return b, other, admin, app


def test_home_lists_a_pending_permission_application_for_its_branch_head_then_for_the_admin_to_apply(client):
    """R-REM-1: the branch head sees it to approve, another branch's head does not; once approved the branch
    permission admin sees it to apply."""
    b, other, admin, app = _perm_org()
    link = reverse("permissions:application", args=[app.pk])
    client.force_login(b.head)
    assert link in _section(client.get("/").content.decode(), "to_approve")
    client.force_login(other.head)
    assert link not in client.get("/").content.decode()
    client.force_login(admin)
    assert 'data-todo="to_apply"' in (html := client.get("/").content.decode()) and link not in html
    perm_services.application_approve(actor=b.head, application_id=app.pk)
    assert link in _section(client.get("/").content.decode(), "to_apply")
    client.force_login(b.head)
    assert link not in client.get("/").content.decode()


def test_home_shows_the_count_and_a_view_all_link_instead_of_cutting_the_steps_silently(client):
    """R-REM-1: 12 waiting steps: the ten oldest, the count 12 and a link to the inbox."""
    b = make_branch()
    approver = holder("designated_person", b.branch, actor=b.head)
    cases = [branch_created_case(b, key=f"w{i}") for i in range(12)]
    client.force_login(approver)
    section = _section(client.get("/").content.decode(), "steps")
    assert '<span class="count">12</span>' in section and reverse("approvals:inbox") in section
    assert reverse("approvals:case", args=[cases[0].pk]) in section
    assert reverse("approvals:case", args=[cases[11].pk]) + '"' not in section


def test_home_page_queries_do_not_grow_with_the_waiting_items(client, django_assert_max_num_queries):
    b = make_branch()
    approver = holder("designated_person", b.branch, actor=b.head)
    branch_created_case(b, key="q0")
    client.force_login(approver)
    client.get("/")
    with django_assert_max_num_queries(60) as few:
        client.get("/")
    for i in range(15):
        branch_created_case(b, key=f"q{i + 1}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get("/").status_code == 200


def test_core_list_lines_waiting_for_hq_are_on_hq_home_only(client):
    """R-REM-1: core-list lines for HQ (the branch does not get HQ's section)."""
    b = make_branch()
    sub = CoreListSubmission.objects.create(branch=b.branch, submitted_at=dt.datetime(2026, 9, 30, 4, tzinfo=dt.UTC))
    CoreListLine.objects.create(submission=sub, line_no=3, status=CoreLineStatus.PENDING, advisor=b.staff,
                                advisor_no=b.staff.staff_no, id_masked="1101**********1234")
    client.force_login(RoleFactory(kind="hq", organisation=HQFactory()).user)
    assert "1101**********1234" in _section(client.get("/").content.decode(), "core_lines")
    client.force_login(b.head)
    assert 'data-todo="core_lines"' not in client.get("/").content.decode()


def test_inbox_counts_ages_filters_by_reason_and_branch_and_puts_the_oldest_first(client):
    """R-REM-1: count, age column, filter by reason / type / branch, sorting by age (oldest first)."""
    b = make_branch()
    approver = holder("designated_person", b.branch, actor=b.head)
    newer, older = branch_created_case(b, key="n"), branch_created_case(b, key="o")
    _age_open(older, dt.date(2026, 9, 30))
    client.force_login(approver)
    html = client.get(reverse("approvals:inbox"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert html.index(f'/approvals/{older.pk}/') < html.index(f'/approvals/{newer.pk}/')
    assert "Waiting (working days)" in html and '<span class="count" aria-label="Count">2</span>' in html
    none = client.get(reverse("approvals:inbox"), {"reason": "late"}).content.decode()
    assert f'/approvals/{older.pk}/' not in none
    kept = client.get(reverse("approvals:inbox"), {"reason": "branch_created", "branch": b.branch.pk}).content.decode()
    assert f'/approvals/{older.pk}/' in kept and f'/approvals/{newer.pk}/' in kept
    newest_first = client.get(reverse("approvals:inbox"), {"steps-sort": "-age"}).content.decode()
    assert newest_first.index(f'/approvals/{newer.pk}/') < newest_first.index(f'/approvals/{older.pk}/')


def test_callbacks_beyond_ten_are_counted_with_a_link_to_the_list(client):
    """R-REM-1: callbacks are not cut at a silent cap."""
    outlet = OutletFactory()
    staff = StaffFactory(outlet=outlet)
    matched_relationship(staff, outlet)
    assert Callback.objects.count() == 1
    client.force_login(RoleFactory(kind="outlet_head", organisation=outlet).user)
    section = _section(client.get("/").content.decode(), "callbacks")
    assert '<span class="count">1</span>' in section


def test_the_callbacks_page_counts_and_pages_its_disputes_instead_of_cutting_them(client, monkeypatch):
    """R-REM-1: disputes waiting for the branch are counted and paged (their own page parameter)."""
    monkeypatch.setattr(relationship_views, "PAGE_SIZE", 1)
    outlet = OutletFactory()
    staff = StaffFactory(outlet=outlet)
    first = matched_relationship(staff, outlet)
    Callback.objects.filter(relationship=first).update(status="disputed", reason="不认识")
    second = matched_relationship(staff, outlet, day="2026-03-04")
    Callback.objects.filter(relationship=second).update(status="disputed", reason="不认识")
    client.force_login(RoleFactory(kind="branch", organisation=outlet.branch).user)
    html = client.get(reverse("work:callbacks")).content.decode()
    section = html[html.index('id="disputed-heading"'):]
    assert '<span class="count">2</span>' in section and "?dpage=2" in section


def test_the_inbox_page_costs_the_same_for_few_and_many_steps(client, django_assert_max_num_queries):
    """R-REM-1: the inbox with its age column and the escalated table answers in constant queries."""
    b = make_branch()
    approver = holder("designated_person", b.branch, actor=b.head)
    _age_open(branch_created_case(b, key="i0"), dt.date(2026, 9, 30))   # the page reads the calendar once
    client.force_login(approver)
    client.get(reverse("approvals:inbox"))
    with django_assert_max_num_queries(40) as few:
        client.get(reverse("approvals:inbox"))
    for i in range(12):
        _age_open(branch_created_case(b, key=f"i{i + 1}"), dt.date(2026, 9, 30))
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(reverse("approvals:inbox")).status_code == 200
