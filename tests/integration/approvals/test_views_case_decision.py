"""The case page's decision form and the final approver's holder editor (R-APR-3/4, R-RES-4, R-ATT-1)."""
from __future__ import annotations

import pytest
from django.urls import reverse

from approvals.models import ApprovalCase, CaseAction, CaseReason, Post
from approvals.services import case_act, case_open
from relationships.models import Relationship, RelationshipType
from relationships.services import customer_get_or_create
from tests.support.approvals import branch_created_case, holder, make_branch, today
from tests.support.factories import StaffFactory, make_id_number

pytestmark = pytest.mark.django_db
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


@pytest.fixture
def b():
    return make_branch()


def three_level_case(b, *, shares=None, opening_date=None, id_number=None):
    """A late NEW_DEV case at `b` (R-MATCH-4 → the 3-level chain) and its three post holders."""
    customer = customer_get_or_create(id_number=id_number or make_id_number(), name="李四")
    case = case_open(actor=b.head, reason=CaseReason.LATE, rel_type=RelationshipType.objects.get(code="NEW_DEV"),
                     customer=customer, proposed_shares=shares or [{"staff_id": b.staff.pk, "ratio": "1.0000"}],
                     dedupe_key=f"late:test:{customer.pk}", branch=b.branch, applicant=b.staff,
                     opening_date=opening_date or today(), opening_outlet=b.outlet)
    holders = [holder(post, b.branch, actor=b.head)
               for post in (Post.ACCOUNT_OPENING_REVIEW, Post.OUTLET_REVIEW, Post.FINAL_APPROVAL)]
    return case, holders


def rows(prefix: str, pairs: list[tuple], extra: int = 0) -> dict:
    data = {f"{prefix}-TOTAL_FORMS": str(len(pairs) + extra), f"{prefix}-INITIAL_FORMS": "0",
            f"{prefix}-MIN_NUM_FORMS": "0", f"{prefix}-MAX_NUM_FORMS": "20"}
    for i, (staff, ratio) in enumerate(pairs):
        data[f"{prefix}-{i}-staff"] = str(staff.pk) if staff else ""
        data[f"{prefix}-{i}-ratio"] = ratio
    return data


def select_of(html: str, name: str) -> str:
    start = html.index(f'name="{name}"')
    return html[start:html.index("</select>", start)]


def _approve_two_steps(case, holders):
    for user in holders[:2]:
        case_act(actor=user, case_id=case.pk, decision="approve")


# --- the holder editor ------------------------------------------------------------------------------------

def test_final_approver_picks_holders_only_among_staff_the_type_may_be_attached_to(client, b):
    """R-ATT-1: the picker offers staff with open attach permission and a valid qualification, judged by the
    same service as the approval; there is no `staff_no:ratio` text box (R-APR-4)."""
    closed = StaffFactory(outlet=b.outlet, attach_open=False)
    unqualified = StaffFactory(outlet=b.outlet, qualifications=[])
    case, holders = three_level_case(b)
    _approve_two_steps(case, holders)
    client.force_login(holders[2])
    html = client.get(reverse("approvals:case", args=[case.pk])).content.decode()
    assert 'name="holders-0-staff"' in html and 'name="holders-0-ratio"' in html
    picker = select_of(html, "holders-0-staff")
    assert f'value="{b.colleague.pk}"' in picker and f'value="{b.staff.pk}" selected' in picker
    assert f'value="{closed.pk}"' not in picker and f'value="{unqualified.pk}"' not in picker
    assert 'name="shares"' not in html and "staff_no:ratio" not in html


def test_only_the_final_step_gets_the_holder_editor(client, b):
    """R-APR-4: earlier steps decide without changing holders."""
    case, holders = three_level_case(b)
    client.force_login(holders[0])
    html = client.get(reverse("approvals:case", args=[case.pk])).content.decode()
    assert reverse("approvals:decide", args=[case.pk]) in html
    assert "holders-0-staff" not in html


def test_final_approver_changes_holders_and_ratios_through_the_rows(client, b):
    """R-APR-4 within R-RES-4: the approved relationship carries the edited holders."""
    case, holders = three_level_case(b)
    _approve_two_steps(case, holders)
    client.force_login(holders[2])
    response = client.post(reverse("approvals:decide", args=[case.pk]), {
        "decision": "approve", "reason": "", **rows("holders", [(b.staff, "0.7"), (b.colleague, "0.3"),
                                                                (None, "")])})
    assert response.status_code == 302
    rel = Relationship.objects.get(customer=case.customer)
    assert sorted((s.staff_id, str(s.ratio)) for s in rel.shares.all()) == sorted(
        [(b.staff.pk, "0.7000"), (b.colleague.pk, "0.3000")])


def test_holder_rows_over_one_are_refused_and_nothing_is_decided(client, b):
    """R-RES-4: the sum may not exceed 1; the message is on the page, the case still waits."""
    case, holders = three_level_case(b)
    _approve_two_steps(case, holders)
    client.force_login(holders[2])
    response = client.post(reverse("approvals:decide", args=[case.pk]), {
        "decision": "approve", **rows("holders", [(b.staff, "0.7"), (b.colleague, "0.4")])}, **ZH)
    assert response.status_code == 400
    assert "超过1" in response.content.decode() or "超过 1" in response.content.decode()
    assert ApprovalCase.objects.get(pk=case.pk).status == "pending"
    assert not Relationship.objects.filter(customer=case.customer).exists()


def test_live_total_names_an_invalid_ratio_instead_of_a_zero_total(client, b):
    """R-RES-4: while a ratio is invalid the total says so rather than showing 0.0000."""
    case, holders = three_level_case(b)
    _approve_two_steps(case, holders)
    client.force_login(holders[2])
    url = reverse("approvals:holders_summary", args=[case.pk])
    ok = client.post(url, rows("holders", [(b.staff, "0.6"), (b.colleague, "0.25")])).content.decode()
    assert "0.8500" in ok and "0.1500" in ok
    bad = client.post(url, rows("holders", [(b.staff, "abc"), (b.colleague, "0.25")]), **ZH).content.decode()
    assert "0.0000" not in bad and "0.2500" not in bad and "abc" in bad
    assert "无法计算" in bad


def test_without_javascript_recalculate_shows_the_total_adds_rows_and_decides_nothing(client, b):
    case, holders = three_level_case(b)
    _approve_two_steps(case, holders)
    client.force_login(holders[2])
    response = client.post(reverse("approvals:decide", args=[case.pk]), {
        "_recalculate": "1", "decision": "approve", **rows("holders", [(b.staff, "0.6"), (b.colleague, "0.3")])})
    html = response.content.decode()
    assert response.status_code == 200
    assert "0.9000" in html and "0.1000" in html
    assert 'name="holders-3-staff"' in html   # two rows as typed and two blank ones
    assert ApprovalCase.objects.get(pk=case.pk).status == "pending"
    assert not CaseAction.objects.filter(case=case, step_order=3).exists()


# --- the decision form ------------------------------------------------------------------------------------

def test_decision_form_preselects_no_decision(client, b):
    case = branch_created_case(b)
    client.force_login(holder("designated_person", b.branch, actor=b.head))
    html = client.get(reverse("approvals:case", args=[case.pk])).content.decode()
    select = select_of(html, "decision")
    assert '<option value="" selected>' in select
    assert 'value="approve" selected' not in select and 'value="reject" selected' not in select
    response = client.post(reverse("approvals:decide", args=[case.pk]), {"reason": ""})
    assert response.status_code == 400 and not CaseAction.objects.filter(case=case).exists()


def test_decision_form_shows_only_to_someone_who_may_act_now(client, b):
    """R-APR-3: the later step's holder, the applicant and the branch head see the case without the form;
    the same predicate refuses them in the service."""
    case, holders = three_level_case(b)
    decide = reverse("approvals:decide", args=[case.pk])
    for user in (holders[1], holders[2], b.staff.user, b.head):
        client.force_login(user)
        assert decide not in client.get(reverse("approvals:case", args=[case.pk])).content.decode()
    client.force_login(holders[0])
    assert decide in client.get(reverse("approvals:case", args=[case.pk])).content.decode()
    client.force_login(holders[1])
    response = client.post(decide, {"decision": "approve"})
    assert response.status_code == 400 and not CaseAction.objects.filter(case=case).exists()


def test_reject_asks_for_confirmation_before_it_is_recorded(client, b):
    """R-APR-4: a reject (reason required) is recorded only once confirmed, without JavaScript."""
    case = branch_created_case(b)
    client.force_login(holder("designated_person", b.branch, actor=b.head))
    decide = reverse("approvals:decide", args=[case.pk])
    page = client.post(decide, {"decision": "reject", "reason": "客户不认识该员工"}, **ZH)
    html = page.content.decode()
    assert page.status_code == 200 and 'name="confirmed" value="1"' in html and "客户不认识该员工" in html
    assert not CaseAction.objects.filter(case=case).exists()
    done = client.post(decide, {"decision": "reject", "reason": "客户不认识该员工", "confirmed": "1"}, **ZH,
                       follow=True)
    assert ApprovalCase.objects.get(pk=case.pk).status == "rejected"
    assert "已驳回" in done.content.decode()


def test_reject_without_a_reason_is_refused_before_the_confirmation(client, b):
    """R-APR-4: the missing reason is named on the field, not after confirming."""
    case = branch_created_case(b)
    client.force_login(holder("designated_person", b.branch, actor=b.head))
    response = client.post(reverse("approvals:decide", args=[case.pk]), {"decision": "return", "reason": " "})
    html = response.content.decode()
    assert response.status_code == 400 and 'name="confirmed" value="1"' not in html
    assert 'class="field has-error"' in html
    # The rule the message cites is a small link to the rules page, not a bracketed code.
    assert "[R-APR-4]" not in html and f'href="{reverse("rules")}#R-APR-4"' in html


def test_after_approving_the_message_says_where_the_case_went_and_who_holds_it(client, b):
    """已通过，已转至…：name — the next step's post, organisation and its holders, in words."""
    case, holders = three_level_case(b)
    staff_of_next = StaffFactory(outlet=b.outlet, user=holders[1], name="张审核")
    assert staff_of_next.user_id == holders[1].pk
    client.force_login(holders[0])
    page = client.post(reverse("approvals:decide", args=[case.pk]), {"decision": "approve"}, follow=True, **ZH)
    html = page.content.decode()
    assert "已通过，已转至" in html and "张审核" in html and b.branch.name in html


def test_withdraw_asks_for_confirmation(client, b):
    """R-APR-4: the applicant withdraws before the final step, once confirmed."""
    case, _holders = three_level_case(b)
    client.force_login(b.staff.user)
    url = reverse("approvals:withdraw", args=[case.pk])
    assert 'name="confirmed" value="1"' in client.post(url).content.decode()
    assert ApprovalCase.objects.get(pk=case.pk).status == "pending"
    page = client.post(url, {"confirmed": "1"}, follow=True, **ZH)
    assert ApprovalCase.objects.get(pk=case.pk).status == "withdrawn"
    assert "已撤回" in page.content.decode()


def test_case_page_queries_do_not_grow_with_holders(client, b, django_assert_max_num_queries):
    case, holders = three_level_case(b)
    _approve_two_steps(case, holders)
    client.force_login(holders[2])
    url = reverse("approvals:case", args=[case.pk])
    client.get(url)
    with django_assert_max_num_queries(40) as few:
        client.get(url)
    more = [StaffFactory(outlet=b.outlet) for _ in range(5)]
    ApprovalCase.objects.filter(pk=case.pk).update(proposed_shares=[
        {"staff_id": s.pk, "ratio": "0.1000"} for s in [b.staff, *more]])
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(url)




def test_applicant_corrects_a_returned_case_with_holder_rows_not_a_text_box(client, b):
    """R-APR-4: the returned case comes back with rows; the corrected holders restart the chain."""
    case, holders = three_level_case(b)
    case_act(actor=holders[0], case_id=case.pk, decision="return", reason="请补充合作开发人")
    client.force_login(b.staff.user)
    html = client.get(reverse("approvals:case", args=[case.pk])).content.decode()
    assert 'name="resubmit-0-staff"' in html and 'name="shares"' not in html
    response = client.post(reverse("approvals:resubmit", args=[case.pk]), {
        "explanation": "补充合作开发人", **rows("resubmit", [(b.staff, "0.5"), (b.colleague, "0.5")])}, follow=True,
        **ZH)
    case.refresh_from_db()
    assert case.status == "pending" and case.explanation_params["note"] == "补充合作开发人"
    assert sorted(s["staff_id"] for s in case.proposed_shares) == sorted([b.staff.pk, b.colleague.pk])
    assert "已重新提交，已转至" in response.content.decode()


def test_live_total_and_preview_queries_do_not_grow_with_rows(client, b, django_assert_max_num_queries):
    """The htmx fragment reads the same number of times for two holder rows or six."""
    case, holders = three_level_case(b, opening_date=today())
    _approve_two_steps(case, holders)
    more = [StaffFactory(outlet=b.outlet) for _ in range(4)]
    client.force_login(holders[2])
    url = reverse("approvals:holders_summary", args=[case.pk])
    two = rows("holders", [(b.staff, "0.5"), (b.colleague, "0.5")])
    client.post(url, two)
    with django_assert_max_num_queries(40) as few:
        client.post(url, two)
    six = rows("holders", [(s, "0.1") for s in (b.staff, b.colleague, *more)])
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert "0.6000" in client.post(url, six).content.decode()
