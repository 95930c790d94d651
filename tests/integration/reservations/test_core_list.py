"""§8 R-CORE-1/2/3 — core lists: eligibility on submission, HQ line by line, January and July only."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import translation

from approvals.models import ApprovalCase
from approvals.services import case_act
from relationships.models import CoreListLine, Relationship, RelationshipType
from relationships.services import Share, relationship_create
from reservations.branch.core_lists import CoreLineInput, core_list_remove, core_list_submit
from reservations.branch.feed import parse_core_csv
from reservations.exchange.registry import load_feed
from tests.support.approvals import holder, hq_admin, make_branch
from tests.support.factories import OutletFactory, StaffFactory
from tests.support.helpers import at, csv_bytes
from tests.support.secondary import branch_user, customer_of, open_account

pytestmark = pytest.mark.django_db
D = dt.date
JANUARY = at("2026-01-12 10:00")


@pytest.fixture
def b():
    b = make_branch()
    b.boss = branch_user(b.branch)
    b.advisor = StaffFactory(outlet=b.outlet, kind="advisor")
    return b


def customers(b, n: int, *, opened: str = "2024-06-03 10:00") -> list[str]:
    return [open_account(b.outlet, when=opened) for _ in range(n)]


def submit(b, ids, *, advisor=None, when=JANUARY, start=1):
    lines = [CoreLineInput(line_no=start + i, id_number=idn, staff_no=(advisor or b.advisor).staff_no)
             for i, idn in enumerate(ids)]
    return core_list_submit(actor=b.boss, branch=b.branch, lines=lines, submitted_at=when)


def test_an_eligible_line_goes_to_hq_and_becomes_core_service_on_approval(b):
    """R-CORE-2: HQ reviews line by line (core_list chain); approved lines become CORE_SERVICE."""
    idn, = customers(b, 1)
    result = submit(b, [idn])
    assert (result.accepted, result.refused) == (1, [])
    line = CoreListLine.objects.get()
    case = ApprovalCase.objects.get(dedupe_key=f"core_line:{line.pk}")
    assert (case.reason, case.chain.code, list(case.steps.values_list("post", flat=True))) == (
        "core_list", "core_list", ["hq"])
    admin, hq = hq_admin()
    reviewer = holder("hq", hq, actor=admin)
    case_act(actor=reviewer, case_id=case.pk, decision="approve")
    rel = Relationship.objects.get(type_id="CORE_SERVICE")
    assert list(rel.shares.values_list("staff_id", "ratio")) == [(b.advisor.pk, Decimal("1.0000"))]
    line.refresh_from_db()
    assert (line.status, line.relationship_id) == ("approved", rel.pk)


def test_hq_rejects_a_line_and_the_others_stand(b):
    ids = customers(b, 2)
    submit(b, ids)
    admin, hq = hq_admin()
    reviewer = holder("hq", hq, actor=admin)
    first, second = CoreListLine.objects.order_by("line_no")
    case_act(actor=reviewer, case_id=ApprovalCase.objects.get(dedupe_key=f"core_line:{first.pk}").pk,
             decision="reject", reason="服务记录不足")
    case_act(actor=reviewer, case_id=ApprovalCase.objects.get(dedupe_key=f"core_line:{second.pk}").pk,
             decision="approve")
    assert list(CoreListLine.objects.order_by("line_no").values_list("status", flat=True)) == ["rejected", "approved"]


def test_the_101st_core_customer_of_an_advisor_is_refused(b):
    """R-CORE-1: at most 100 per advisor, counted with what he already holds and what is under review."""
    held = customers(b, 40)
    for idn in held:
        relationship_create(actor="test", customer=customer_of(idn), rel_type=RelationshipType.objects.get(
            code="CORE_SERVICE"), shares=[Share(b.advisor, Decimal("1"))], effective_from=D(2025, 7, 1),
            source="core_list")
    submit(b, customers(b, 30))                      # 70 with those under review
    result = submit(b, customers(b, 31), start=1)    # the 31st line is his 101st
    assert result.accepted == 30
    assert len(result.refused) == 1 and result.refused[0][0] == 31
    assert "100" in result.refused[0][1] and "核心客户" in result.refused[0][1]


def test_a_core_list_change_in_february_is_refused(b):
    """R-CORE-3: only in January and July (calendar month of the submission)."""
    ids = customers(b, 1)
    with pytest.raises(ValidationError) as err:
        submit(b, ids, when=at("2026-02-02 10:00"))
    assert "1月和7月" in str(err.value)
    assert not CoreListLine.objects.exists()
    assert submit(b, ids, when=at("2026-07-31 23:00")).accepted == 1


@pytest.mark.parametrize("opened,accepted", [
    ("2025-01-12 10:00", True),     # exactly 12 months before 2026-01-12
    ("2025-01-13 10:00", False),    # 12 months less a day
])
def test_the_account_must_have_been_open_twelve_months(b, opened, accepted):
    """R-CORE-1: account open at least 12 months."""
    ids = customers(b, 1, opened=opened)
    assert submit(b, ids).accepted == int(accepted)


def test_a_customer_with_a_development_relationship_is_not_natural_new(b):
    idn, = customers(b, 1)
    relationship_create(actor="test", customer=customer_of(idn), rel_type=RelationshipType.objects.get(code="NEW_DEV"),
                        shares=[Share(b.staff, Decimal("1"))], effective_from=D(2024, 6, 3), source="reservation")
    with translation.override("en"):
        result = submit(b, [idn])
    assert result.accepted == 0 and "natural new" in result.refused[0][1]


@pytest.mark.parametrize("change", ["account_manager", "no_consulting", "lapsed_consulting"])
def test_only_investment_advisors_with_consulting_qualification(b, change):
    """R-CORE-1 / R-ORG-4: an investment advisor with a valid investment-consulting qualification."""
    if change == "account_manager":
        advisor = StaffFactory(outlet=b.outlet, kind="account_manager")
    elif change == "no_consulting":
        advisor = StaffFactory(outlet=b.outlet, kind="advisor", qualifications=["securities"])
    else:
        advisor = StaffFactory(outlet=b.outlet, kind="advisor", qualifications=["securities"])
        advisor.qualifications.create(kind="consulting", valid_from=D(2020, 1, 1), valid_to=D(2025, 12, 31))
    result = submit(b, customers(b, 1), advisor=advisor)
    assert result.accepted == 0 and str(advisor) in result.refused[0][1]  # why he may not hold it


def test_one_advisor_per_core_customer(b):
    idn, = customers(b, 1)
    other = StaffFactory(outlet=b.outlet, kind="advisor")
    assert submit(b, [idn]).accepted == 1
    with translation.override("en"):
        result = submit(b, [idn], advisor=other)
    assert result.accepted == 0 and "one advisor per core customer" in result.refused[0][1]
    # twice in one list: the second line is refused
    idn2, = customers(b, 1)
    result = submit(b, [idn2, idn2])
    assert result.accepted == 1 and result.refused[0][0] == 2


def test_lines_outside_the_branch_are_refused(b):
    far = open_account(OutletFactory())
    result = submit(b, [far])
    assert result.accepted == 0


def test_core_list_file_with_line_level_errors(b):
    """R-CORE-2 file upload; §12 relationships format."""
    good = customers(b, 1)[0]
    content = csv_bytes(["id_number", "relationship_type", "participants", "effective_from"], [
        [good, "CORE_SERVICE", b.advisor.staff_no, ""],
        [good, "MAINTENANCE", b.advisor.staff_no, ""],
        ["11010519850615000X", "CORE_SERVICE", b.advisor.staff_no, ""],
        [customers(b, 1)[0], "CORE_SERVICE", f"{b.advisor.staff_no}:0.5", ""],
    ])
    lines = parse_core_csv(content)
    result = core_list_submit(actor=b.boss, branch=b.branch, lines=lines, submitted_at=JANUARY, source="file")
    assert result.accepted == 1
    assert [n for n, _r in result.refused] == [3, 4, 5]


def test_relationships_feed_core_lines_outside_january_and_july_are_refused_line_by_line(b, settings):
    ids = customers(b, 2)
    content = csv_bytes(["id_number", "relationship_type", "participants", "effective_from"],
                        [[i, "CORE_SERVICE", b.advisor.staff_no, ""] for i in ids])
    result = load_feed(actor="test", kind="relationships", content=content, filename="core.csv")
    from django.utils import timezone
    if timezone.localdate().month in (1, 7):
        assert result.rows_loaded == 2
    else:
        assert result.rows_loaded == 0 and all("1月和7月" in r for _n, r in result.errors)
        assert [n for n, _r in result.errors] == [2, 3]


def test_core_page_lists_lines_and_refuses_outside_the_months(client, b):
    client.force_login(b.boss)
    response = client.get(reverse("work:core"))
    assert response.status_code == 200
    idn, = customers(b, 1)
    submit(b, [idn])
    html = client.get(reverse("work:core")).content.decode()
    assert CoreListLine.objects.get().id_masked in html
    client.force_login(branch_user(OutletFactory().branch))
    assert CoreListLine.objects.get().id_masked not in client.get(reverse("work:core")).content.decode()


# R-CORE-3: removing a customer from the core list is a change of the list too.

JULY = D(2026, 7, 10)


def make_core(b, idn, advisor=None):
    return relationship_create(actor="test", customer=customer_of(idn), rel_type=RelationshipType.objects.get(
        code="CORE_SERVICE"), shares=[Share(advisor or b.advisor, Decimal("1"))], effective_from=D(2025, 7, 1),
        source="core_list")


def test_removal_in_july_approved_by_hq_ends_the_core_relationship_and_frees_the_advisor(b):
    held = customers(b, 100)
    rels = [make_core(b, idn) for idn in held]
    newcomer, = customers(b, 1)
    assert submit(b, [newcomer], when=at("2026-07-10 10:00")).accepted == 0   # his 101st
    case = core_list_remove(actor=b.boss, relationship_id=rels[0].pk, reason="客户迁出", today=JULY)
    assert (case.reason, case.outcome, case.target_relationship_id, case.filed_by_id) == (
        "core_list", "end", rels[0].pk, b.boss.pk)
    assert "R-CORE-3" in case.explanation and "客户迁出" in case.explanation
    rels[0].refresh_from_db()
    assert rels[0].effective_to is None                                         # active while pending
    with pytest.raises(ValidationError):                                        # no second pending case
        core_list_remove(actor=b.boss, relationship_id=rels[0].pk, reason="again", today=JULY)
    admin, hq = hq_admin()
    case_act(actor=holder("hq", hq, actor=admin), case_id=case.pk, decision="approve")
    rels[0].refresh_from_db()
    assert rels[0].effective_to is not None
    assert Relationship.objects.filter(type_id="CORE_SERVICE", effective_to__isnull=True).count() == 99
    assert submit(b, [newcomer], when=at("2026-07-20 10:00"), start=2).accepted == 1


def test_removal_in_february_is_refused_with_the_month_message(b):
    rel = make_core(b, customers(b, 1)[0])
    with translation.override("en"), pytest.raises(ValidationError) as err:
        core_list_remove(actor=b.boss, relationship_id=rel.pk, reason="客户迁出", today=D(2026, 2, 2))
    assert "January and July" in str(err.value) and "[R-" not in str(err.value)
    assert not ApprovalCase.objects.filter(target_relationship=rel).exists()


def test_removal_needs_a_reason_and_a_core_relationship(b):
    rel = make_core(b, customers(b, 1)[0])
    with pytest.raises(ValidationError) as err:
        core_list_remove(actor=b.boss, relationship_id=rel.pk, reason="  ", today=JULY)
    assert "reason" in err.value.message_dict
    other = relationship_create(actor="test", customer=customer_of(customers(b, 1)[0]),
                                rel_type=RelationshipType.objects.get(code="NEW_DEV"),
                                shares=[Share(b.staff, Decimal("1"))], effective_from=D(2024, 6, 3),
                                source="reservation")
    with pytest.raises(ValidationError):
        core_list_remove(actor=b.boss, relationship_id=other.pk, reason="x", today=JULY)
    assert not ApprovalCase.objects.exists()


def test_another_branch_cannot_remove(client, b):
    rel = make_core(b, customers(b, 1)[0])
    stranger = branch_user(OutletFactory().branch)
    with pytest.raises(PermissionDenied):
        core_list_remove(actor=stranger, relationship_id=rel.pk, reason="x", today=JULY)
    client.force_login(stranger)
    assert client.post(reverse("work:core_remove", args=[rel.pk]), {"reason": "x"}).status_code == 404
    assert not ApprovalCase.objects.exists()


def test_core_page_lists_core_customers_and_removes_through_the_form(client, b, monkeypatch):
    from django.utils import timezone
    rel = make_core(b, customers(b, 1)[0])
    client.force_login(b.boss)
    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: JULY)
    html = client.get(reverse("work:core")).content.decode()
    assert reverse("work:core_remove", args=[rel.pk]) in html
    client.post(reverse("work:core_remove", args=[rel.pk]), {"reason": ""})
    assert not ApprovalCase.objects.exists()
    response = client.post(reverse("work:core_remove", args=[rel.pk]), {"reason": "客户迁出"})
    assert response.status_code == 302
    case = ApprovalCase.objects.get()
    assert (case.outcome, case.target_relationship_id) == ("end", rel.pk)
