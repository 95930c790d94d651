"""Issue 18, list pages: the body rows of every list table are written once per page by
`common.table_rows.CompiledTable`, and say exactly what django-tables2's own row loop says (links, choices
displays, defaults, dates in the office's time zone, escaping), without its per-cell introspection."""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from itertools import count

import django_tables2 as tables
import pytest
from django.template import Context, Template, defaultfilters
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe
from django_tables2.columns import base

from approvals.tables import CaseTable, HQCaseTable, InboxStepTable
from common import table_rows
from common.table_rows import CompiledTable
from permissions.tables import RegisterTable
from relationships.models import Relationship, RelationshipType
from relationships.services import Share, customer_get_or_create, relationship_create
from relationships.tables import CustomerTable, RelationshipTable
from reservations.models import Reservation, ReservationStatus
from reservations.tables import ReservationTable
from tests.integration.approvals.test_views_case_list import _case
from tests.support.approvals import make_branch
from tests.support.factories import StaffFactory, make_id_number
from tests.support.helpers import reserve

pytestmark = pytest.mark.django_db

LIST_TABLES = [RelationshipTable, CustomerTable, ReservationTable, CaseTable, HQCaseTable, InboxStepTable,
               RegisterTable]


def _render(table) -> str:
    context = Context({"table": table, "request": RequestFactory().get("/")})
    return Template("{% load django_tables2 %}{% render_table table %}").render(context)


def _stock_body(table) -> str:
    """The table's body as django-tables2's own template writes it (its row loop, cell by cell)."""
    table._counter = count()
    template_name = table.template_name
    table.template_name = "django_tables2/table.html"
    try:
        html = _render(table)
    finally:
        table.template_name = template_name
    return _rows(html)


def _compiled_body(table) -> str:
    table._counter = count()
    return _rows(_render(table))


def _rows(html: str) -> str:
    body = html[html.index("<tbody"):html.index("</tbody>")]
    return re.sub(r">\s+<", "><", re.sub(r"\s+", " ", body)).replace("> <", "><").strip()


def test_every_list_table_is_compiled():
    assert all(issubclass(t, CompiledTable) for t in LIST_TABLES)


def _pages(client, url, *, names=("table",)):
    response = client.get(url)
    assert response.status_code == 200
    return [response.context[name] for name in names if response.context.get(name) is not None]


def test_relationship_customer_and_reservation_rows_are_those_django_tables2_writes(client):
    staff = StaffFactory(name="李<四>")  # a name to escape
    other = StaffFactory(outlet=staff.outlet)
    shares = [Share(staff, Decimal("0.6")), Share(other, Decimal("0.4"))]
    for i in range(3):
        customer = customer_get_or_create(id_number=make_id_number(seq=300 + i), name=f"客户&{i}")
        rel = relationship_create(actor="test", customer=customer, rel_type=RelationshipType.objects.get(pk="NEW_DEV"),
                                  shares=shares, effective_from=dt.date(2026, 3, 5) + dt.timedelta(days=i),
                                  source="reservation")
    Relationship.objects.filter(pk=rel.pk).update(effective_to=dt.date(2026, 4, 1))  # ended: its status cell
    for i in range(3):
        reserve(staff, id_number=make_id_number(seq=400 + i), name=f"预约{i}",
                when=timezone.now() - dt.timedelta(days=1, minutes=i))
    Reservation.objects.filter(customer_name="预约1").update(status=ReservationStatus.FLAGGED, status_note="<注>")
    client.force_login(staff.user)
    seen = 0
    for url in (reverse("relationships:list"), reverse("relationships:customers"), reverse("reservations:list"),
                reverse("relationships:list") + "?sort=-type", reverse("reservations:list") + "?sort=status"):
        for table in _pages(client, url):
            stock = _stock_body(table)
            assert stock.count("<tr") >= 3
            assert _compiled_body(table) == stock
            seen += 1
    assert seen == 5


def test_case_and_inbox_rows_are_those_django_tables2_writes(client):
    b = make_branch()
    for i in range(3):
        _case(b, name=f"王<{i}>", id_number=make_id_number(seq=500 + i))
    client.force_login(b.head)
    cases = _pages(client, reverse("approvals:cases"))
    assert cases
    for table in cases:
        stock = _stock_body(table)
        assert stock.count("<tr") == 3 and "王&lt;0&gt;" in stock
        assert _compiled_body(table) == stock


def test_an_empty_list_says_so_in_one_row():
    table = RelationshipTable([])
    html = _render(table)
    assert _rows(html).count("<tr") == 1 and 'class="muted"' in html


def test_a_page_reads_each_render_signature_once_per_column_not_per_cell(monkeypatch):
    """The cost django-tables2 pays per cell (issue 18): 50 rows × 7 columns read 350 signatures a page."""
    read = []
    original = table_rows.signature
    monkeypatch.setattr(table_rows, "signature", lambda fn: read.append(fn) or original(fn))

    class Plain(CompiledTable):
        name = tables.Column(linkify=lambda record: f"/x/{record['n']}/")
        n = tables.Column()
        when = tables.DateColumn(format="Y-m-d")

        def render_n(self, value, record):
            return f"#{value}"

    table = Plain([{"name": f"r{i}", "n": i, "when": dt.date(2026, 3, 1)} for i in range(50)])
    body = table.body_html()
    assert body.count("<tr") == 50 and "#49" in body and "2026-03-01" in body and 'href="/x/7/"' in body
    assert len(read) == 3


class _Linked(CompiledTable):
    """A case link on integers, and a night-report link on a text (which the reversed-once link cannot write)."""

    case = tables.Column(accessor="pk", linkify=("approvals:case", {"pk": tables.A("pk")}),
                         attrs={"a": {"class": "x&y"}})
    night = tables.Column(accessor="day", linkify=("reservations:night", {"day": tables.A("day")}))


def _stock_cells(table) -> list[str]:
    return [str(cell) for row in table.rows for cell in (row.get_cell("case"), row.get_cell("night"))]


def test_a_link_is_reversed_once_per_column_and_page_not_per_row(monkeypatch):
    """Issue 18: 50 rows with a link each reversed 50 URLs a page; the page reverses the column's URL once (and
    django-tables2's own link once, for the first row's check), and writes the very `<a>` django-tables2 writes."""
    reversed_ = []
    original = base.reverse
    monkeypatch.setattr(base, "reverse", lambda *a, **kw: reversed_.append(a) or original(*a, **kw))
    rows = [{"pk": i, "day": f"2026-03-{1 + i % 28:02d}"} for i in range(1, 51)]
    table = _Linked(rows)
    body = table.body_html()
    assert body.count("<tr") == 50
    assert f'<a class="x&amp;y" href="{reverse("approvals:case", kwargs={"pk": 37})}">37</a>' in body
    night_links = len(rows)  # the text argument: django-tables2's link, row by row
    assert len(reversed_) == 1 + night_links
    stock = _stock_cells(_Linked(rows))
    assert all(cell in body for cell in stock)


def test_a_link_whose_argument_is_no_integer_is_django_tables2s_own():
    rows = [{"pk": "12", "day": "2026-03-01"}, {"pk": 13, "day": "2026-03-02"}]
    body = _Linked(rows).body_html()
    assert all(cell in body for cell in _stock_cells(_Linked(rows)))


@pytest.mark.parametrize("fmt", ["Y-m-d", "Y-m-d H:i", "Y/m/d H:i:s", "d.m.Y {x}", "Y年m月d日", "N j, Y", r"Y \Y"])
def test_a_date_cell_writes_what_the_date_filter_writes(fmt):
    """Issue 18: a date column of numbers only (Y-m-d, Y-m-d H:i) is written by one format per column, not the
    date filter's parse per cell; any other format (names, escapes) is the filter's. Times in the office's zone."""
    class Bound:
        default = "—"

    render = table_rows._date_render(fmt)
    values = [dt.date(2026, 3, 5), dt.datetime(2026, 3, 5, 23, 7, 9, tzinfo=dt.UTC), dt.datetime(999, 1, 2, 3, 4),
              None, ""]
    for value in values:
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime) and any(c in fmt for c in "His"):
            continue  # Django refuses a time letter for a date
        expected = conditional_escape(
            defaultfilters.date(timezone.template_localtime(value), fmt) or Bound.default)
        assert render(value, Bound) == expected, (fmt, value)


def test_a_cell_is_escaped_as_conditional_escape_escapes_it():
    """Issue 18: a plain text cell is escaped by `html.escape` directly (Django's `escape` behind its lazy-argument
    wrapper, once per cell); safe HTML, lazy texts and numbers are still `conditional_escape`'s."""
    for text in ["王<五> & 'x' \"y\"", "", "plain", mark_safe("<b>safe</b>"), lazy(lambda: "<i>", str)(), 7,
                 Decimal("0.5000"), None]:
        assert table_rows._escaped(text) == conditional_escape(text)


class _Plain:
    """A record reached attribute by attribute, as a model instance is."""

    def __init__(self, **attrs):
        self.__dict__.update(attrs)

    def shout(self):
        return "HI"

    def delete(self):
        raise AssertionError("never called")

    delete.alters_data = True  # type: ignore[attr-defined]


def test_a_cells_accessor_resolves_what_django_tables2s_accessor_resolves():
    """Issue 18: a record's attributes are read without django-tables2's failed `record[bit]` per part of the
    accessor; what comes out (values, None across a null relation, a method's result) and what is refused (a
    missing attribute, a method that alters data) is the accessor's own."""
    record = _Plain(customer=_Plain(name="王<五>", outlet=None), items=["a", "b"], pk=3)
    for path in ["pk", "customer__name", "customer__outlet__name", "shout", "customer__name__upper", "items__1",
                 ""]:
        assert table_rows._Resolver(tables.A(path))(record) == tables.A(path).resolve(record), path
    assert table_rows._Resolver(tables.A("customer__name"))({"customer__name": "dict"}) == "dict"
    for path in ["missing", "customer__missing", "delete"]:
        with pytest.raises(ValueError) as ours:
            table_rows._Resolver(tables.A(path))(record)
        with pytest.raises(ValueError) as theirs:
            tables.A(path).resolve(record)
        assert str(ours.value) == str(theirs.value)
