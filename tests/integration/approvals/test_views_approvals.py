"""Approval pages (thin views over the engine): inbox, case page, decisions; 404 outside scope (R-PERM-4)."""
from __future__ import annotations

import pytest
from django.urls import include, path

from approvals.models import ApprovalCase, CaseAction
from crm_platform import urls as root_urls
from relationships.models import Relationship
from tests.support.approvals import branch_created_case, holder, make_branch

# Until crm_platform/urls.py includes the app, mount it here for these tests only.
urlpatterns = list(root_urls.urlpatterns)
if not any(getattr(p, "namespace", None) == "approvals" for p in urlpatterns):
    urlpatterns.append(path("approvals/", include("approvals.urls")))

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]


@pytest.fixture
def b():
    return make_branch()


def test_inbox_lists_the_step_waiting_for_the_designated_person(client, b):
    case = branch_created_case(b)
    designated = holder("designated_person", b.branch, actor=b.head)
    client.force_login(designated)
    page = client.get("/approvals/")
    assert page.status_code == 200
    assert f"/approvals/{case.pk}/" in page.content.decode()


def test_case_page_shows_explanation_holders_and_the_decision_form(client, b):
    case = branch_created_case(b)
    client.force_login(holder("designated_person", b.branch, actor=b.head))
    html = client.get(f"/approvals/{case.pk}/").content.decode()
    assert case.explanation in html and b.staff.staff_no in html and "1.0000" in html
    assert f"/approvals/{case.pk}/decide/" in html


def test_case_page_is_404_for_a_user_of_another_branch(client, b):
    """R-PERM-4: outside scope answers 404, never the row."""
    case = branch_created_case(b)
    other = make_branch()
    client.force_login(other.head)
    assert client.get(f"/approvals/{case.pk}/").status_code == 404
    assert client.post(f"/approvals/{case.pk}/decide/", {"decision": "approve"}).status_code == 404
    client.force_login(b.head)
    assert client.get(f"/approvals/{case.pk}/").status_code == 200


def test_approving_through_the_page_creates_the_relationship_and_shows_the_timeline(client, b):
    case = branch_created_case(b)
    designated = holder("designated_person", b.branch, actor=b.head)
    client.force_login(designated)
    response = client.post(f"/approvals/{case.pk}/decide/", {"decision": "approve", "reason": ""})
    assert response.status_code == 302
    assert ApprovalCase.objects.get(pk=case.pk).status == "approved"
    assert Relationship.objects.filter(customer=case.customer).exists()
    html = client.get(f"/approvals/{case.pk}/").content.decode()
    assert designated.get_username() in html


def test_rejecting_without_a_reason_shows_the_error_on_the_page(client, b):
    """R-APR-4: reason required; nothing recorded."""
    case = branch_created_case(b)
    client.force_login(holder("designated_person", b.branch, actor=b.head))
    response = client.post(f"/approvals/{case.pk}/decide/", {"decision": "reject", "reason": ""})
    assert response.status_code == 400
    assert 'role="alert"' in response.content.decode()
    assert not CaseAction.objects.filter(case=case).exists()


def test_applicant_sees_his_case_without_a_decision_form(client, b):
    case = branch_created_case(b)
    client.force_login(b.staff.user)
    html = client.get(f"/approvals/{case.pk}/").content.decode()
    assert f"/approvals/{case.pk}/decide/" not in html


def test_broker_case_page_offers_the_documents_form_and_records_them(client, b):
    """R-APR-5: the branch records the forms from the case page."""
    from approvals.models import CaseDocuments
    from approvals.services import case_open
    from relationships.models import RelationshipType
    from relationships.services import customer_get_or_create
    from tests.support.factories import StaffFactory, make_id_number
    broker = StaffFactory(outlet=b.outlet, kind="broker")
    case = case_open(actor="test", reason="broker", rel_type=RelationshipType.objects.get(code="BROKER_DEV"),
                     customer=customer_get_or_create(id_number=make_id_number(), name="赵六"),
                     proposed_shares=[{"staff_id": broker.pk, "ratio": "1"}], dedupe_key="broker-view",
                     branch=b.branch, applicant=broker)
    reviewer = holder("account_opening_review", b.branch, actor=b.head)
    client.force_login(reviewer)
    assert f"/approvals/{case.pk}/documents/" in client.get(f"/approvals/{case.pk}/").content.decode()
    response = client.post(f"/approvals/{case.pk}/documents/", {"risk_disclosure_received": "on",
                                                                "risk_disclosure_reviewed": "on"})
    assert response.status_code == 302
    docs = CaseDocuments.objects.get(case=case)
    assert docs.risk_disclosure_reviewed and not docs.service_confirmation_received


def test_hq_reviewer_inbox_lists_pending_special_new_cases(client, b):
    """R-APR-6."""
    from approvals.services import case_open
    from relationships.models import RelationshipType
    from relationships.services import customer_get_or_create
    from tests.support.approvals import hq_admin
    from tests.support.factories import make_id_number
    case = case_open(actor="test", reason="special_new", rel_type=RelationshipType.objects.get(code="NEW_DEV"),
                     customer=customer_get_or_create(id_number=make_id_number(), name="钱七"),
                     proposed_shares=[{"staff_id": b.staff.pk, "ratio": "1"}], dedupe_key="special-view",
                     branch=b.branch, applicant=b.staff)
    admin, hq = hq_admin()
    client.force_login(holder("hq", hq, actor=admin))
    assert f"/approvals/{case.pk}/" in client.get("/approvals/").content.decode()
