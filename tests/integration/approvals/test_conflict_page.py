"""R-MATCH-3: the conflict case page — every claimant side by side and one evidence timeline, within scope."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from approvals.models import ApprovalCase
from approvals.services import case_act
from relationships.models import CustomerClass, RelationshipType
from relationships.services import Share, relationship_create
from relationships.versions import relationship_end
from tests.support.approvals import holder, hq_admin, make_branch
from tests.support.factories import BranchFactory, OutletFactory, StaffFactory, make_id_number
from tests.support.helpers import at, event_row, load_events, nightly, reserve

pytestmark = pytest.mark.django_db


@pytest.fixture
def b():
    return make_branch()


def three_claimant_conflict(b, *, late_claimants=1, opened=dt.date(2026, 3, 4)):
    """Two on-time claimants (one of another branch) and `late_claimants` late ones; an earlier ended
    relationship of another type, a past classification, a withdrawn-free earlier history."""
    far = StaffFactory(outlet=OutletFactory(parent=BranchFactory()))
    idn = make_id_number()
    before = opened - dt.timedelta(days=2)
    reserve(b.staff, id_number=idn, when=at(f"{before} 09:00"), participants=[(b.staff, "0.7"), (b.colleague, "0.3")])
    reserve(far, id_number=idn, when=at(f"{before} 11:00"))
    load_events([event_row(when=at(f"{opened} 10:00"), id_number=idn, name="张三", outlet=b.outlet)])
    nightly(str(opened))
    case = ApprovalCase.objects.get(customer__events__business_date=opened)
    late = [StaffFactory(outlet=b.outlet) for _ in range(late_claimants)]
    for n, staff in enumerate(late):
        day = opened + dt.timedelta(days=2 + n // 3)
        reserve(staff, id_number=idn, when=at(f"{day} {9 + n % 3:02d}:00"))
    old = relationship_create(actor="test", customer=case.customer, rel_type=RelationshipType.objects.get(
        code="MAINTENANCE"), shares=[Share(b.colleague, Decimal("1"))], effective_from=dt.date(2025, 1, 2),
        source="branch", outlet=b.outlet)
    relationship_end(actor="test", relationship_id=old.pk, on=dt.date(2025, 6, 30), reason="moved")
    CustomerClass.objects.create(customer=case.customer, kind="dormant", since=dt.date(2024, 5, 1),
                                 detected_on=dt.date(2024, 5, 2), ended_on=dt.date(2024, 12, 1), outlet=b.outlet)
    return case, far, late


def test_conflict_page_shows_every_claimant_side_by_side_with_the_evidence_timeline(client, b):
    """R-MATCH-3: staff, outlet, branch, registration time, on time or late by how many working days, proposed
    ratios; then the opening, each registration, earlier relationships and classifications, every action."""
    case, far, (late,) = three_claimant_conflict(b)
    case_act(actor=holder("account_opening_review", b.branch, actor=b.head), case_id=case.pk, decision="approve")
    client.force_login(b.head)
    html = client.get(f"/approvals/{case.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    for staff in (b.staff, far, late):
        assert staff.staff_no in html and staff.outlet.name in html and staff.outlet.branch.name in html
    assert html.index(b.staff.staff_no) < html.index(far.staff_no) < html.index(late.staff_no)
    assert "2026-03-02 09:00" in html and "2026-03-06 09:00" in html
    assert html.count("on time") == 2 and "late by 2 working days" in html
    assert f"{b.colleague.staff_no} {b.colleague.name}: 0.3000" in html
    timeline = html[html.index('id="evidence-heading"'):]
    timeline = timeline[:timeline.index("</section>")]
    for words in ("Account opened", "Reservation registered", "Earlier relationship", "Classification",
                  "Approval action", "a claim joined the case", "approved", "dormant"):
        assert words in timeline, words
    assert timeline.count("Reservation registered") == 3
    assert "account_opening_review" not in timeline and ">approve<" not in timeline
    chinese = client.get(f"/approvals/{case.pk}/").content.decode()
    assert "逾期2个工作日" in chinese and "按时" in chinese and "争议方" in chinese


def test_the_customer_link_is_shown_only_to_viewers_who_may_open_the_customer_page(client, b):
    """R-PERM-4: the link leads within the viewer's scope; nobody is shown a link that answers 404."""
    case, far, (late,) = three_claimant_conflict(b)
    admin, hq = hq_admin()
    far_confirmer = holder("final_approval", far.outlet.branch, actor=admin)
    url = f"/work/customers/{case.customer_id}/"
    shown = {}
    for viewer in (b.head, admin, far_confirmer, late.user, far.user):
        client.force_login(viewer)
        page = client.get(f"/approvals/{case.pk}/")
        if page.status_code == 404:
            continue
        linked = f'href="{url}"' in page.content.decode()
        shown[viewer.pk] = linked
        assert linked == (client.get(url).status_code == 200), viewer
    assert shown[b.head.pk] and shown[admin.pk]


def test_conflict_page_costs_the_same_queries_for_three_and_eight_claimants(client, b):
    """A constant query count, whatever the number of claimants, co-developers, actions and earlier records."""
    def cost(user, case):
        client.force_login(user)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(f"/approvals/{case.pk}/").status_code == 200
        return len(captured.captured_queries)

    small, _far, _late = three_claimant_conflict(b, late_claimants=1)
    other = make_branch()
    big, _far2, _late2 = three_claimant_conflict(other, late_claimants=6, opened=dt.date(2026, 3, 11))
    assert small.claimants.count() == 3 and big.claimants.count() == 8
    assert cost(other.head, big) == cost(b.head, small)
