"""Reservation and relationship lists as django-tables2 tables: filters, sorting, capped pagination,
CSV/Excel export (scoped, masked IDs only), constant query counts; the register form's live ratio total."""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from relationships.models import Relationship, RelationshipType
from relationships.services import Share, customer_get_or_create, relationship_create
from reservations.models import Reservation, ReservationStatus
from reservations.tables import ReservationTable
from tests.support.factories import StaffFactory, make_id_number
from tests.support.helpers import ID18, queries_for, reserve

pytestmark = pytest.mark.django_db

RES_LIST = reverse("reservations:list")
REL_LIST = reverse("relationships:list")


def _reserve_many(staff, n, *, start=0, name="客户"):
    ids = []
    for i in range(n):
        idn = make_id_number(seq=100 + start + i)
        reserve(staff, id_number=idn, name=f"{name}{start + i}",
                when=timezone.now() - dt.timedelta(days=1, minutes=start + i))
        ids.append(idn)
    return ids


def _relationship(staff, *, name="张三", id_number=None, effective_from=dt.date(2026, 3, 5), type_code="NEW_DEV"):
    customer = customer_get_or_create(id_number=id_number or make_id_number(), name=name)
    return relationship_create(actor="test", customer=customer, rel_type=RelationshipType.objects.get(pk=type_code),
                               shares=[Share(staff, Decimal("1"))], effective_from=effective_from,
                               source="reservation")


def _links(html, prefix):
    return re.findall(rf'href="/{prefix}/(\d+)/"', html)


def _xlsx_text(response) -> str:
    sheet = load_workbook(io.BytesIO(response.getvalue())).active
    return "\n".join(" ".join("" if c is None else str(c) for c in row) for row in sheet.iter_rows(values_only=True))


# --- reservations -------------------------------------------------------------------------------------------

def test_reservation_filters_narrow_results(staff_client, staff):
    _reserve_many(staff, 2, name="王五")
    _reserve_many(staff, 1, start=10, name="赵六")
    flagged = Reservation.objects.filter(customer_name="赵六10").get()
    Reservation.objects.filter(pk=flagged.pk).update(status=ReservationStatus.FLAGGED)
    html = staff_client.get(RES_LIST, {"customer_name": "王五"}).content.decode()
    assert "王五0" in html and "王五1" in html and "赵六10" not in html
    html = staff_client.get(RES_LIST, {"status": ReservationStatus.FLAGGED}).content.decode()
    assert _links(html, "reservations") == [str(flagged.pk)]
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    html = staff_client.get(RES_LIST, {"registered_after": tomorrow}).content.decode()
    assert _links(html, "reservations") == []
    yesterday = (timezone.localdate() - dt.timedelta(days=3)).isoformat()
    html = staff_client.get(RES_LIST, {"registered_after": yesterday, "type": "NEW_DEV"}).content.decode()
    assert len(_links(html, "reservations")) == 3
    assert staff_client.get(RES_LIST, {"status": "bogus", "registered_after": "x"}).status_code == 200


def test_reservation_sorting_param_orders_rows(staff_client, staff):
    _reserve_many(staff, 3)
    by_name = list(Reservation.objects.order_by("customer_name").values_list("pk", flat=True))
    html = staff_client.get(RES_LIST, {"sort": "customer_name"}).content.decode()
    assert _links(html, "reservations") == [str(pk) for pk in by_name]
    html = staff_client.get(RES_LIST, {"sort": "-customer_name"}).content.decode()
    assert _links(html, "reservations") == [str(pk) for pk in reversed(by_name)]


def test_reservation_list_paginates_50_a_page(staff_client, staff):
    _reserve_many(staff, 51)
    first = staff_client.get(RES_LIST).content.decode()
    second = staff_client.get(RES_LIST, {"page": 2}).content.decode()
    assert len(_links(first, "reservations")) == 50 and len(_links(second, "reservations")) == 1


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_reservation_export_is_scoped_and_masked(client, staff, outlet, fmt):
    ids = _reserve_many(staff, 3, name="王五")
    colleague = StaffFactory(outlet=outlet)
    _reserve_many(colleague, 1, start=50, name="赵六")
    client.force_login(staff.user)
    response = client.get(RES_LIST, {"_export": fmt})
    assert response.status_code == 200
    text = response.getvalue().decode("utf-8-sig") if fmt == "csv" else _xlsx_text(response)
    assert "王五0" in text and "王五2" in text and "赵六" not in text
    assert not ID18.search(text) and not any(idn in text for idn in ids)
    assert Reservation.objects.filter(customer_name="王五0").get().id_masked in text
    # another branch's user exports none of these rows
    client.force_login(StaffFactory().user)
    other = client.get(RES_LIST, {"_export": fmt})
    other_text = other.getvalue().decode("utf-8-sig") if fmt == "csv" else _xlsx_text(other)
    assert "王五" not in other_text
    assert "王五" not in client.get(RES_LIST).content.decode()


@pytest.mark.parametrize("params", [{}, {"_export": "csv"}, {"_export": "xlsx"}])
def test_reservation_list_and_export_query_counts_constant(staff_client, staff, django_assert_max_num_queries,
                                                           params):
    _reserve_many(staff, 3)
    few = queries_for(staff_client, RES_LIST, params)
    _reserve_many(staff, 27, start=3)
    with django_assert_max_num_queries(few):
        staff_client.get(RES_LIST, params).getvalue()


# --- relationships ------------------------------------------------------------------------------------------

def test_relationship_filters_narrow_results(staff_client, staff):
    early = _relationship(staff, name="王五", effective_from=dt.date(2026, 1, 5))
    late = _relationship(staff, name="赵六", effective_from=dt.date(2026, 4, 5))
    Relationship.objects.filter(pk=late.pk).update(effective_to=dt.date(2026, 5, 1))
    html = staff_client.get(REL_LIST, {"effective_after": "2026-03-01"}).content.decode()
    assert _links(html, "relationships") == [str(late.pk)]
    html = staff_client.get(REL_LIST, {"effective_before": "2026-03-01", "type": "NEW_DEV"}).content.decode()
    assert _links(html, "relationships") == [str(early.pk)]
    html = staff_client.get(REL_LIST, {"state": "active"}).content.decode()
    assert _links(html, "relationships") == [str(early.pk)]
    html = staff_client.get(REL_LIST, {"state": "ended"}).content.decode()
    assert _links(html, "relationships") == [str(late.pk)] and "status-ended" in html and "2026-05-01" in html
    assert staff_client.get(REL_LIST, {"state": "bogus", "effective_after": "x"}).status_code == 200


def test_relationship_sorting_param_orders_rows(staff_client, staff):
    a = _relationship(staff, effective_from=dt.date(2026, 1, 5))
    b = _relationship(staff, effective_from=dt.date(2026, 4, 5))
    assert _links(staff_client.get(REL_LIST, {"sort": "effective_from"}).content.decode(),
                  "relationships") == [str(a.pk), str(b.pk)]
    assert _links(staff_client.get(REL_LIST, {"sort": "-effective_from"}).content.decode(),
                  "relationships") == [str(b.pk), str(a.pk)]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_relationship_export_is_scoped_and_masked(client, staff, outlet, fmt):
    idn = make_id_number(seq=321)
    rel = _relationship(staff, name="王五", id_number=idn)
    _relationship(StaffFactory(outlet=outlet), name="赵六")
    client.force_login(staff.user)
    response = client.get(REL_LIST, {"_export": fmt})
    assert response.status_code == 200
    text = response.getvalue().decode("utf-8-sig") if fmt == "csv" else _xlsx_text(response)
    assert "王五" in text and "赵六" not in text and rel.customer.id_masked in text
    assert idn not in text and not ID18.search(text)
    client.force_login(StaffFactory().user)
    other = client.get(REL_LIST, {"_export": fmt})
    assert "王五" not in (other.getvalue().decode("utf-8-sig") if fmt == "csv" else _xlsx_text(other))
    assert "王五" not in client.get(REL_LIST).content.decode()


@pytest.mark.parametrize("params", [{}, {"_export": "csv"}, {"_export": "xlsx"}])
def test_relationship_list_and_export_query_counts_constant(staff_client, staff, outlet,
                                                            django_assert_max_num_queries, params):
    for _ in range(3):
        _relationship(staff)
    few = queries_for(staff_client, REL_LIST, params)
    for _ in range(27):
        _relationship(staff)
    with django_assert_max_num_queries(few):
        staff_client.get(REL_LIST, params).getvalue()


# --- register form: live ratio total ------------------------------------------------------------------------

def test_ratio_summary_shows_total_and_unallocated(staff_client):
    url = reverse("reservations:ratio_summary")
    html = staff_client.post(url, {"own_ratio": "0.6", "co-0-ratio": "0.25", "co-1-ratio": ""}).content.decode()
    assert "0.8500" in html and "0.1500" in html
    over = staff_client.post(url, {"own_ratio": "0.8", "co-0-ratio": "0.5"}).content.decode()
    assert "1.3000" in over and "errorlist" in over
    assert staff_client.post(url, {"own_ratio": "abc"}).status_code == 200
    assert staff_client.get(url).status_code == 200
    register = staff_client.get(reverse("reservations:create")).content.decode()
    assert url in register and "vendor/htmx.min.js" in register
    assert "1.0000" in register  # the total is on the page before any script runs


def test_without_javascript_recalculate_shows_the_total_adds_rows_and_registers_nothing(staff_client, outlet):
    """R-RES-4's running total without JavaScript: the form comes back with the total and more blank rows."""
    a, b = StaffFactory(outlet=outlet), StaffFactory(outlet=outlet)
    response = staff_client.post(reverse("reservations:create"), {
        "_recalculate": "1", "relationship_type": RelationshipType.objects.get(code="NEW_DEV").pk,
        "customer_name": "张三", "id_number": make_id_number(seq=77), "phone": "13812345678", "own_ratio": "0.6",
        "co-TOTAL_FORMS": "3", "co-INITIAL_FORMS": "0", "co-MIN_NUM_FORMS": "0", "co-MAX_NUM_FORMS": "20",
        "co-0-staff_no": a.staff_no, "co-0-ratio": "0.3", "co-1-staff_no": "", "co-1-ratio": "",
        "co-2-staff_no": b.staff_no, "co-2-ratio": "0.2"}, HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert response.status_code == 200 and not Reservation.objects.exists()
    assert "1.1000" in html and "exceeds 1" in html
    assert 'name="co-TOTAL_FORMS" value="5"' in html  # the two filled rows, then three blank ones
    assert f'value="{a.staff_no}"' in html and f'value="{b.staff_no}"' in html and 'value="张三"' in html
    assert 'class="errorlist" id=' not in html  # nothing was validated: no field errors


# --- exports are whole, read in chunks ------------------------------------------------------------------------

def test_csv_export_streams_every_row_in_chunks_never_a_silent_cap(staff_client, staff, monkeypatch):
    import common.tables as list_tables
    monkeypatch.setattr(list_tables, "EXPORT_CHUNK", 2)
    _reserve_many(staff, 7, name="王五")
    response = staff_client.get(RES_LIST, {"_export": "csv", "sort": "customer_name"})
    assert response.streaming
    rows = list(csv.reader(io.StringIO(response.getvalue().decode("utf-8-sig"))))
    assert len(rows) == 1 + 7
    header = rows[0]
    names = [r[header.index(str(ReservationTable.base_columns["customer_name"].verbose_name))] for r in rows[1:]]
    assert names == sorted(names) and len(set(names)) == 7  # the page's sort order, every row once
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", rows[1][0])  # local time, not an ISO UTC stamp


def test_excel_export_beyond_the_sheet_limit_says_so_in_its_last_row(staff_client, staff, monkeypatch):
    import common.tables as list_tables
    monkeypatch.setattr(list_tables, "XLSX_MAX_ROWS", 4)
    _reserve_many(staff, 5)
    sheet = load_workbook(io.BytesIO(staff_client.get(RES_LIST, {"_export": "xlsx"}).getvalue())).active
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 4 and "CSV" in rows[-1][0]


def test_a_page_never_holds_more_rows_than_the_list_offers(staff_client, staff):
    _reserve_many(staff, 51)
    html = staff_client.get(RES_LIST, {"per_page": 100000}).content.decode()
    assert len(_links(html, "reservations")) == 50
