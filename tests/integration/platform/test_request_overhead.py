"""Issue 18, list pages: what every page pays before its own data. The staff record and the roles are read once per
request, by the user's scope (R-PERM-4); the navigation, the second factor's gate (R-SEC-AUTH-2), the PII rule
(R-PII-1), the inbox and the case list read them from there instead of asking again."""
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from approvals.selectors import inbox_for, is_hq_reviewer
from approvals.waiting import escalation_heads
from permissions.pii import needs_full_pii
from permissions.scoping import scope_for
from permissions.second_factor import needs_second_factor
from tests.support.approvals import branch_created_case, holder, make_branch
from tests.support.factories import RoleFactory, StaffFactory

pytestmark = pytest.mark.django_db


def _reads(captured, table: str) -> int:
    return sum(f'FROM "{table}"' in q["sql"] for q in captured.captured_queries)


def test_the_trivial_page_reads_the_staff_record_and_the_roles_once(client):
    """The scope and the navigation (his name, "my assigned customers") share one read of his staff record."""
    staff = StaffFactory()
    client.force_login(staff.user)
    with CaptureQueriesContext(connection) as captured:
        body = client.get("/ping-page/").content.decode()
    assert _reads(captured, "relationships_staff") == 1
    assert _reads(captured, "permissions_role") == 1
    assert len(captured.captured_queries) == 4  # session, user, roles, staff record
    assert str(staff) in body and reverse("work:mine") in body


@pytest.mark.second_factor
def test_r_sec_auth_2_the_second_factor_and_the_pii_rule_read_the_roles_the_scope_read(django_assert_num_queries):
    """A branch user needs full ID numbers (R-PII-1) and so a second factor: both answers come from the one read of
    his roles, as do the HQ reviewer's inbox and the escalations."""
    b = make_branch()
    branch_user = RoleFactory(kind="branch", organisation=b.branch).user
    with django_assert_num_queries(2):  # his roles, his (absent) staff record
        assert needs_second_factor(branch_user) and needs_full_pii(branch_user)
        assert scope_for(branch_user).branch_ids == {b.branch.pk}
        assert escalation_heads(branch_user) == set()
    staff_user = get_user_model().objects.get(pk=StaffFactory().user_id)  # as a request loads him
    with django_assert_num_queries(2):
        assert not needs_second_factor(staff_user)
        assert scope_for(staff_user).staff_ids == {staff_user.staff.pk}


def test_the_branch_head_is_escalated_to_at_his_branch_and_is_no_hq_reviewer():
    b = make_branch()
    assert escalation_heads(b.head) == {b.branch.pk}
    assert not is_hq_reviewer(b.head)


def test_r_apr_3_a_post_holder_without_a_staff_record_sees_the_waiting_step_a_holder_who_applied_does_not():
    """A designated person with no staff record can be no applicant, proposed holder or claimant: his inbox tests
    none of that. The applicant holding the post does not see his own case."""
    b = make_branch()
    case = branch_created_case(b, key="own")
    outsider = holder("designated_person", b.branch, actor=b.head)
    assert [s.case_id for s in inbox_for(outsider)] == [case.pk]
    applicant = holder("designated_person", b.branch, actor=b.head, user=b.staff.user)
    assert list(inbox_for(applicant)) == []
    proposed = holder("designated_person", b.branch, actor=b.head, user=b.colleague.user)
    other = branch_created_case(b, key="colleague", shares=[{"staff_id": b.colleague.pk, "ratio": "1.0000"}])
    assert other.pk not in {s.case_id for s in inbox_for(proposed)}
    assert case.pk in {s.case_id for s in inbox_for(proposed)}
