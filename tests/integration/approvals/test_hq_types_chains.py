"""R-TYPE-1 / R-TYPE-2: HQ maintains relationship types and chains with their steps in the admin; a new chain version
applies to cases opened after it (running cases keep theirs); a type's `chain_always` and a branch-created type's
row chain are honoured; an 11th type added in the admin matches and goes through its own chain in the nightly run."""
from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import translation

from approvals.chain_services import chain_activate, chain_new_version
from approvals.chains import chain_code_for
from approvals.models import ApprovalCase, CaseReason, CaseStatus, Chain, ChainStep
from approvals.services import case_act, needs_documents
from relationships.models import Relationship, RelationshipType
from relationships.types import core_type, development_type_codes, secondary_type, special_new_type_code
from reservations.models import Reservation
from tests.support.approvals import branch_created_case, holder, make_branch
from tests.support.factories import make_id_number
from tests.support.helpers import at, event_row, load_events, nightly, reserve

pytestmark = pytest.mark.django_db


@pytest.fixture
def hq_client(hq_admin_client):
    hq_admin_client.admin = hq_admin_client.user
    return hq_admin_client


def _add_chain_in_admin(client, code: str, steps: list[tuple[int, str, str]]):
    data = {"code": code, "name": "自定义两级审批", "steps-TOTAL_FORMS": str(len(steps)), "steps-INITIAL_FORMS": "0",
            "steps-MIN_NUM_FORMS": "0", "steps-MAX_NUM_FORMS": "1000"}
    for i, (order, post, scope) in enumerate(steps):
        data |= {f"steps-{i}-order": str(order), f"steps-{i}-post": post, f"steps-{i}-scope": scope}
    response = client.post(reverse("admin:approvals_chain_add"), data)
    assert response.status_code == 302, response.content.decode()[-3000:]
    return Chain.objects.get(code=code)


def _add_type_in_admin(client, **overrides):
    data = {"code": "TEAM_DEV", "name": "团队开发关系", "name_en": "Team development",
            "holder_kinds": "advisor,account_manager,other_front", "qualification": "futures",
            "creation": "auto_match", "match_event_kind": "open", "match_account_type": "futures",
            "match_customer": "any", "chain_late": "", "chain_always": "team_two", "reservable": "on",
            "sort_order": "11"} | overrides
    response = client.post(reverse("admin:relationships_relationshiptype_add"), data)
    assert response.status_code == 302, response.content.decode()[-3000:]
    return RelationshipType.objects.get(code=data["code"])


def test_an_11th_type_with_its_own_chain_added_in_the_admin_goes_end_to_end_through_the_nightly_run(hq_client):
    chain = _add_chain_in_admin(hq_client, "team_two", [(1, "designated_person", "branch"),
                                                       (2, "final_approval", "branch")])
    assert chain.active and list(chain.steps.values_list("order", "post")) == [(1, "designated_person"),
                                                                               (2, "final_approval")]
    rt = _add_type_in_admin(hq_client)
    assert rt.holder_kinds == ["advisor", "account_manager", "other_front"]
    b = make_branch()
    first, final = (holder(p, b.branch, actor=b.head) for p in ("designated_person", "final_approval"))
    idn = make_id_number()
    r = reserve(b.staff, id_number=idn, type_code="TEAM_DEV", when=at("2026-03-02 09:00"))
    load_events([event_row(when=at("2026-03-03 10:00"), id_number=idn, name="张三", outlet=b.outlet,
                           account_type="futures")])
    nightly("2026-03-03")
    r = Reservation.objects.get(pk=r.pk)
    case = ApprovalCase.objects.get(pk=r.approval_case_id)
    assert case.chain == chain and case.type_id == "TEAM_DEV"                       # chain_always honoured
    assert "Broker" not in case.explanation and "经纪人" not in case.explanation
    assert not needs_documents(case)
    with translation.override("en"):
        case_act(actor=first, case_id=case.pk, decision="approve")
        case_act(actor=final, case_id=case.pk, decision="approve")
    assert ApprovalCase.objects.get(pk=case.pk).status == CaseStatus.APPROVED
    rel = Relationship.objects.get(customer=case.customer, type_id="TEAM_DEV")
    assert rel.effective_to is None
    response = hq_client.get(reverse("relationships:list"), {"_export": "csv"})
    exported = response.getvalue().decode("utf-8-sig")
    assert "团队开发关系" in exported or "TEAM_DEV" in exported


def test_a_type_naming_an_unknown_chain_is_refused_in_the_admin(hq_client):
    response = hq_client.post(reverse("admin:relationships_relationshiptype_add"), {
        "code": "X_DEV", "name": "某关系", "name_en": "X", "holder_kinds": "advisor", "qualification": "securities",
        "creation": "branch", "chain_always": "no_such_chain", "sort_order": "12"})
    assert response.status_code == 200 and not RelationshipType.objects.filter(code="X_DEV").exists()


def test_a_branch_created_type_enters_the_chain_its_row_names_not_one_level(hq_client):
    chain = _add_chain_in_admin(hq_client, "team_two", [(1, "designated_person", "branch"),
                                                       (2, "final_approval", "branch")])
    _add_type_in_admin(hq_client, code="BRANCH_TEAM", creation="branch", match_event_kind="", match_account_type="",
                       match_customer="", chain_always="team_two", reservable="")
    b = make_branch()
    case = branch_created_case(b, type_code="BRANCH_TEAM")
    assert case.chain == chain and case.steps.count() == 2
    assert chain_code_for(CaseReason.BRANCH_CREATED, RelationshipType.objects.get(code="EXISTING_DEV")) == "one_level"


def test_a_new_chain_version_applies_to_cases_opened_after_it_and_running_cases_keep_theirs(hq_client):
    b = make_branch()
    holder("designated_person", b.branch, actor=b.head)
    running = branch_created_case(b, key="before")
    v1 = Chain.objects.get(code="one_level", active=True)
    v2 = chain_new_version(actor=hq_client.admin, chain_id=v1.pk)
    assert not v2.active and v2.version == v1.version + 1
    ChainStep.objects.create(chain=v2, order=2, post="final_approval", scope="branch")
    chain_activate(actor=hq_client.admin, chain_id=v2.pk)
    later = branch_created_case(b, key="after")
    assert later.chain == v2 and later.steps.count() == 2
    assert ApprovalCase.objects.get(pk=running.pk).chain == v1 and running.steps.count() == 1
    assert list(Chain.objects.filter(code="one_level", active=True)) == [v2]


def test_the_steps_of_a_chain_in_use_are_not_editable_and_only_hq_sees_the_chains(client, hq_client):
    b = make_branch()
    branch_created_case(b)
    in_use = Chain.objects.get(code="one_level", active=True)
    html = hq_client.get(reverse("admin:approvals_chain_change", args=[in_use.pk])).content.decode()
    assert 'name="steps-0-post"' not in html
    client.force_login(b.head)
    b.head.is_staff = True
    b.head.save(update_fields=["is_staff"])
    assert client.get(reverse("admin:approvals_chain_changelist")).status_code in (302, 403)


def test_the_rules_read_the_type_rows_not_code_lists(hq_client):
    """R-TYPE-2: development types (R-CORE-1), the special-new type per staff kind (R-SEC-5), the secondary and
    core types are the rows' attributes; a type HQ adds as a development type counts at once."""
    assert sorted(development_type_codes()) == ["BROKER_DEV", "CREDIT_DEV", "EXISTING_DEV", "NEW_DEV",
                                                "REPURCHASE_DEV", "SECONDARY_DEV"]
    assert special_new_type_code("broker") == "BROKER_DEV" and special_new_type_code("advisor") == "NEW_DEV"
    assert secondary_type().code == "SECONDARY_DEV" and core_type().code == "CORE_SERVICE"
    _add_chain_in_admin(hq_client, "team_two", [(1, "designated_person", "branch")])
    _add_type_in_admin(hq_client, is_development="on", special_new_for="broker", sort_order="0")
    assert "TEAM_DEV" in development_type_codes()
    assert special_new_type_code("broker") == "TEAM_DEV"           # first by the rows' order
