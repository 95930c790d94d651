"""Performance pages (R-PERF-4, R-PERM-4): scoped rankings, SVG charts, exports, locking; constant queries."""
from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from performance.models import PeriodLock
from performance.services import compute_period
from relationships.models import RelationshipType
from relationships.services import Share, customer_get_or_create, relationship_create
from reservations.exchange.registry import load_feed
from tests.support.factories import HQFactory, OutletFactory, RoleFactory, StaffFactory, make_id_number
from tests.support.helpers import csv_bytes

pytestmark = pytest.mark.django_db

REPORT = reverse("performance:report")
HEADER = ["date", "id_number", "assets", "net_commission", "turnover", "trade_count", "transfer_in"]
MARCH = dt.date(2026, 3, 1)


def give(staff_ratios, assets: str, *, type_code: str = "NEW_DEV") -> list:
    """A customer held by (staff, ratio) pairs since February, with one metrics line for 2 March."""
    idn = make_id_number()
    cust = customer_get_or_create(id_number=idn, name="客户")
    relationship_create(actor="test", customer=cust, rel_type=RelationshipType.objects.get(pk=type_code),
                        shares=[Share(s, Decimal(r)) for s, r in staff_ratios],
                        effective_from=dt.date(2026, 2, 1), source="test")
    return ["2026-03-02", idn, assets, "1.00", "100.00", "1", "0"]


def load(lines):
    result = load_feed(actor="test", kind="metrics", content=csv_bytes(HEADER, lines))
    assert not result.errors


@pytest.fixture
def world():
    """Branch 1 with two outlets (three staff), branch 2 with one staff member; March computed."""
    o1 = OutletFactory()
    o2 = OutletFactory(parent=o1.branch)
    o3 = OutletFactory()
    a = StaffFactory(outlet=o1, staff_no="A001", name="甲员工")
    b = StaffFactory(outlet=o1, staff_no="A002", name="乙员工")
    c = StaffFactory(outlet=o2, staff_no="A003", name="丙员工")
    d = StaffFactory(outlet=o3, staff_no="D001", name="丁员工")
    load([give([(a, "0.5"), (b, "0.5")], "1000.00"), give([(c, "1")], "3000.00"), give([(d, "1")], "5000.00"),
          give([(a, "1")], "100.00", type_code="MAINTENANCE")])
    compute_period(period=MARCH)
    return {"o1": o1, "o2": o2, "o3": o3, "a": a, "b": b, "c": c, "d": d}


def page(client, user, **params):
    client.force_login(user)
    response = client.get(REPORT, {"period": "2026-03", **params})
    assert response.status_code == 200
    return response.content.decode()


def test_staff_sees_only_his_own_figures(client, world):
    html = page(client, world["a"].user)
    assert "A001" in html and "600.00" in html          # 500 + 100, across both types
    for other in ("A002", "A003", "D001"):
        assert other not in html
    # Asking for another level or organisation does not widen what he sees.
    html = page(client, world["a"].user, level="branch", organisation=world["o1"].branch_id)
    assert "A002" not in html and "丙员工" not in html


def test_branch_user_ranks_his_branch_only(client, world):
    user = RoleFactory(kind="branch", organisation=world["o1"].branch).user
    html = page(client, user)
    assert html.index("A003") < html.index("A001") < html.index("A002")      # 3000, 500 + 100, 500
    assert "D001" not in html and "丁员工" not in html
    html = page(client, user, level="outlet")
    assert world["o1"].name in html and world["o2"].name in html and world["o3"].name not in html
    # Another branch's user sees none of this branch's staff.
    other = RoleFactory(kind="branch", organisation=world["o3"].branch).user
    html = page(client, other)
    assert "D001" in html and not any(no in html for no in ("A001", "A002", "A003"))
    html = page(client, other, organisation=world["o1"].pk)   # an organisation outside his scope is refused
    assert "A001" not in html


def test_outlet_head_sees_his_outlet(client, world):
    user = RoleFactory(kind="outlet_head", organisation=world["o2"]).user
    html = page(client, user)
    assert "A003" in html and "A001" not in html and "D001" not in html


def test_hq_sees_everything_rolled_up_by_region_with_charts(client, world):
    user = RoleFactory(kind="hq", organisation=HQFactory()).user
    html = page(client, user, level="region", metric="assets")
    assert world["o1"].branch.region.name in html and world["o3"].branch.region.name in html
    assert html.count("<svg") == 2 and "<script" not in html and "http://www.w3.org/2000/svg" in html
    assert "9100.00" in html                              # the total: 1000 + 3000 + 5000 + 100
    html = page(client, user, level="staff", metric="assets")
    assert html.index("D001") < html.index("A003") < html.index("A001")   # ranked by assets
    html = page(client, user, relationship_type="MAINTENANCE")
    assert "A001" in html and "D001" not in html
    html = page(client, user, period="2026-03-02")             # a day
    assert "D001" in html
    html = page(client, user, period="2026")                   # a year
    assert "D001" in html


def test_report_queries_do_not_grow_with_rows(client, world, django_assert_max_num_queries):
    user = RoleFactory(kind="hq", organisation=HQFactory()).user
    client.force_login(user)
    client.get(REPORT, {"period": "2026-03"})                 # warm the session
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    with CaptureQueriesContext(connection) as few:
        client.get(REPORT, {"period": "2026-03", "level": "staff"})
    outlet = world["o1"]
    lines = [give([(StaffFactory(outlet=outlet), "1")], f"{i}.00") for i in range(1, 41)]
    load(lines)
    compute_period(period=MARCH)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(REPORT, {"period": "2026-03", "level": "staff"})
    assert response.content.decode().count('class="rank"') == 44
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(REPORT, {"period": "2026-03", "level": "outlet", "metric": "avg_daily_assets"})
    assert len(few.captured_queries) <= 16, "\n".join(q["sql"][:150] for q in few.captured_queries)


def test_exports_csv_and_excel_follow_the_filters_and_the_scope(client, world):
    user = RoleFactory(kind="branch", organisation=world["o1"].branch).user
    client.force_login(user)
    response = client.get(reverse("performance:export", args=["csv"]), {"period": "2026-03", "level": "staff"})
    assert response["Content-Disposition"].startswith("attachment")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [r[2] for r in rows[1:]] == ["A003", "A001", "A002"]
    assert rows[1][0] == "2026-03" and rows[1][1] == "1" and rows[1][5] == "3000.00"
    response = client.get(reverse("performance:export", args=["xlsx"]), {"period": "2026-03", "level": "outlet"})
    sheet = load_workbook(io.BytesIO(response.content)).active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert len(values) == 3 and {values[1][3], values[2][3]} == {world["o1"].name, world["o2"].name}
    assert Decimal(str(values[1][5])) == Decimal("3000")
    assert client.get(reverse("performance:export", args=["pdf"])).status_code == 404


def test_hq_locks_a_month_from_the_page_and_others_cannot(client, world):
    branch_user = RoleFactory(kind="branch", organisation=world["o1"].branch).user
    client.force_login(branch_user)
    assert "Lock 2026-03" not in page(client, branch_user) and "lock/" not in page(client, branch_user)
    assert client.post(reverse("performance:lock"), {"period": "2026-03"}).status_code == 403
    assert client.post(reverse("performance:lock"), {"period": "2026-03", "confirm": "yes"}).status_code == 403
    assert not PeriodLock.objects.exists()

    hq = RoleFactory(kind="hq", organisation=HQFactory()).user
    assert reverse("performance:lock") in page(client, hq)
    # The page's button asks first (a page of its own, no JavaScript): nothing is locked yet.
    asked = client.post(reverse("performance:lock"), {"period": "2026-03"}, HTTP_ACCEPT_LANGUAGE="en")
    assert asked.status_code == 200 and "Its figures will be frozen" in asked.content.decode()
    assert "Only head office can reopen it" in asked.content.decode()  # R-PERF-5: a lock is not for ever
    assert 'name="confirm" value="yes"' in asked.content.decode() and not PeriodLock.objects.exists()
    response = client.post(reverse("performance:lock"), {"period": "2026-03", "confirm": "yes"})
    assert response.status_code == 302 and PeriodLock.objects.get().locked_by == hq
    assert reverse("performance:lock") not in page(client, hq)
    client.post(reverse("performance:lock"), {"period": "2026-03", "confirm": "yes"})  # twice: a message, no second
    assert PeriodLock.objects.count() == 1


def test_report_needs_sign_in_and_survives_bad_filters(client, world):
    assert client.get(REPORT).status_code == 302
    hq = RoleFactory(kind="hq", organisation=HQFactory()).user
    html = page(client, hq, period="2026-13", level="galaxy")
    assert "errorlist" in html
