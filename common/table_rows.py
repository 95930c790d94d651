"""The body of a django-tables2 table written without per-cell introspection (issue 18, list pages).

For every cell, django-tables2 works out again what only depends on the column: the signature of the render
method (`inspect.signature`: 350 calls a page of 50 rows and 7 columns), the model field behind the accessor
(to find a `get_FOO_display`), the cell's attributes, and every `TemplateColumn` — each `DateColumn` and
`DateTimeColumn` is one — compiles its template anew for each cell. On a list page that was most of the time
of the request. `CompiledTable` works it out once per column and page (a `_ColumnPlan`) and writes the body
rows in one pass (`body_html`, used by `templates/includes/data_table.html`).

A link to a named URL whose arguments are the row's integers (`linkify=("approvals:case", {"pk": A("pk")})`) is
reversed once per column and page, not once per row (`_LinkPlan`): the reversed `<a href=…>` with stand-in
numbers is cut where they stand, and each row puts its own numbers back. The first row is checked against
django-tables2's own link; a column whose link this cannot write (a callable, a computed attribute, a converter
that does not write an integer as its digits, an argument that is not an integer) keeps django-tables2's link.

A cell's accessor on a model record is read attribute after attribute (`_Resolver`: django-tables2 first tries
`record[bit]` and catches the TypeError, per part and per cell), and a plain text cell is escaped by `html.escape`
itself (`_escaped`); anything else goes to django-tables2's accessor and Django's `conditional_escape`.

What a cell shows is what django-tables2 renders, step for step: the column's (or the table's `render_FOO`)
render method with the arguments it names, the choices' display value, the column's default for an empty
value, the link, the cell attributes and the template's localisation and escaping
(`tests/integration/common/test_table_rows.py` compares both renderings of every list table). Headers, sorting,
pagination and exports are django-tables2's own.
"""
from __future__ import annotations

import datetime as dt
import functools
import html
import inspect
import re
from collections.abc import Callable
from typing import Any

import django_tables2 as tables
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.template import Context, Template, defaultfilters
from django.urls import NoReverseMatch, reverse
from django.utils import formats
from django.utils.encoding import force_str
from django.utils.hashable import make_hashable
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import template_localtime  # type: ignore[attr-defined]  # not in django-stubs
from django_tables2.columns import DateColumn, DateTimeColumn, ManyToManyColumn, TemplateColumn
from django_tables2.columns.base import LinkTransform
from django_tables2.columns.linkcolumn import BaseLinkColumn
from django_tables2.rows import BoundPinnedRow, BoundRow
from django_tables2.utils import A, Accessor, AttributeDict, signature

# The arguments django-tables2 offers a render method (`BoundRow._optional_cell_arguments`).
CELL_ARGUMENTS = frozenset({"value", "record", "column", "bound_column", "bound_row", "table"})


def _escaped(text: Any) -> str:
    """`conditional_escape(text)`'s text, for a cell written into the row's HTML: a plain `str` (most cells) is
    escaped by `html.escape` itself, as Django's `escape` does, without its lazy-argument wrapper and `__html__`
    test per cell; anything else (safe HTML, a lazy text, a number) goes to `conditional_escape`."""
    if type(text) is str:
        return html.escape(text)
    return conditional_escape(text)


def caller(fn: Callable) -> Callable[[dict], Any]:
    """`django_tables2.utils.call_with_appropriate(fn, kwargs)` with `fn`'s signature read once, not per call."""
    names, catch_all = signature(fn)
    if catch_all:
        return lambda kwargs: fn(**kwargs)
    if any(name not in CELL_ARGUMENTS for name in names):
        return lambda kwargs: None  # call_with_appropriate does not call a function it cannot serve
    wanted = tuple(names)
    return lambda kwargs: fn(**{name: kwargs[name] for name in wanted})


@functools.lru_cache(maxsize=256)
def compiled_template(code: str) -> Template:
    """A `TemplateColumn`'s template code compiled once per process (django-tables2 compiles it per cell)."""
    return Template(code)


def _template_render(column: TemplateColumn) -> Callable:
    """`TemplateColumn.render` with its template compiled once (the same context, the same parent context)."""
    template = compiled_template(column.template_code)

    def render(record, table, value, bound_column, **kwargs):
        parent_context = getattr(table, "context", None)
        if parent_context is None:
            parent_context = Context()
        context = column.get_context_data(record=record, table=table, value=value, bound_column=bound_column,
                                          **kwargs)
        with parent_context.update(context):
            parent_context["request"] = getattr(table, "request", None)
            return template.render(parent_context)

    return render


# The template of django-tables2's DateColumn and DateTimeColumn (`columns/datecolumn.py`).
_DATE_TEMPLATE = re.compile(r'\{\{ value\|date:"([^"]*)"\|default:default \}\}')


# A date format of numbers only (`Y-m-d`, `Y-m-d H:i`): Django's `dateformat` writes each of these letters as the
# number, zero-padded (`"%04d" % year`, `"%02d" % month`, …), and every other character as it is.
_NUMERIC_FORMAT = re.compile(r"(?:[YmdHis]|[^A-Za-z\\])*")
_NUMBERS = {"Y": "{0.year:04d}", "m": "{0.month:02d}", "d": "{0.day:02d}", "H": "{0.hour:02d}",
            "i": "{0.minute:02d}", "s": "{0.second:02d}"}


def _numeric_date(fmt: str) -> Callable[[dt.date], str] | None:
    """`dateformat.format(value, fmt)` as one `str.format` for a format of numbers only (None for any other: day and
    month names, time zones, escapes), read once per column instead of parsed per cell. A date (not a datetime)
    with a time letter is Django's error, so it is left to Django."""
    if not _NUMERIC_FORMAT.fullmatch(fmt):
        return None
    template = "".join(_NUMBERS.get(c) or c.replace("{", "{{").replace("}", "}}") for c in fmt)
    has_time = any(c in "His" for c in fmt)

    def write(value):
        if not isinstance(value, dt.date) or (has_time and not isinstance(value, dt.datetime)):
            return defaultfilters.date(value, fmt)
        return template.format(value)

    return write


def _date_render(fmt: str) -> Callable:
    """What `{{ value|date:fmt|default:default }}` writes (the date filter reads the value in the office's time
    zone), without a template."""
    numeric = _numeric_date(fmt)

    def render(value, bound_column):
        value = template_localtime(value)
        if numeric is None or value in (None, ""):
            text = defaultfilters.date(value, fmt)
        else:
            text = numeric(value)
        return conditional_escape(text or bound_column.default)

    return render


_DJANGO_DISPLAY = getattr(models.Model, "_get_FIELD_display")  # noqa: B009 -- private, not in django-stubs


@functools.lru_cache(maxsize=256)
def _default_display(model: Any, name: str) -> bool:
    """Whether `model.get_<name>_display` is Django's own (a model may write its own)."""
    found = inspect.getattr_static(model, f"get_{name}_display", None)
    return isinstance(found, functools.partialmethod) and found.func is _DJANGO_DISPLAY


def _has_callable(attrs: dict) -> bool:
    return any(callable(v) for v in attrs.values())


@functools.lru_cache(maxsize=256)
def _attributes_only(cls: type) -> bool:
    """Whether `obj[bit]` fails on every instance of `cls` (no `__getitem__`: a model instance, a date), so that
    django-tables2's accessor goes on to `getattr(obj, bit)` after catching that TypeError."""
    return not hasattr(cls, "__getitem__")


class _Resolver:
    """`accessor.resolve(record)` for a record reached attribute by attribute (a model instance and its related
    objects), without django-tables2's failed `obj[bit]` (a TypeError raised and caught) for each part of the
    accessor in each cell and its split of the accessor per call. Anything else (a dict, a list, a class, a
    missing attribute, a method that alters data) is resolved by the accessor itself, as before."""

    def __init__(self, accessor: Accessor):
        self.accessor = accessor
        self.bits = tuple(accessor.bits)
        self.args, self.kwargs = accessor.callable_args, accessor.callable_kwargs

    def __call__(self, record):
        current = record
        for bit in self.bits:
            if isinstance(current, type) or not _attributes_only(type(current)):  # type: ignore[arg-type]  # a class is hashable
                return self.accessor.resolve(record)
            try:
                current = getattr(current, bit)
            except (TypeError, AttributeError):
                return self.accessor.resolve(record)  # its error, as django-tables2 words it
            if callable(current):
                if getattr(current, "alters_data", False):
                    return self.accessor.resolve(record)  # refused, as django-tables2 refuses it
                if not getattr(current, "do_not_call_in_templates", False):
                    current = current(*self.args, **self.kwargs)
            if current is None:
                break
        return current


_STAND_IN = 7_346_190_000  # + k: the k-th argument's stand-in while a link is reversed once for the column


class _LinkPlan:
    """A `LinkTransform` to a named URL whose arguments are accessors of integers, reversed once per page: the
    opening `<a …>` tag as pieces between the arguments (see the module's docstring). `None` from `of` when the
    link is not of that kind."""

    def __init__(self, link: LinkTransform, pieces: list[str], accessors: list[Accessor]):
        self.link, self.pieces, self.accessors = link, pieces, [_Resolver(a) for a in accessors]
        self.checked = False
        self.stock_only = False  # the first row's link differed: django-tables2's link for every row

    @classmethod
    def of(cls, link) -> _LinkPlan | None:
        if not isinstance(link, LinkTransform) or link.url is not None or _has_callable(link.attrs or {}):
            return None
        params = dict(link.reverse_args)
        viewname = params.pop("viewname", None)
        args, kwargs = params.pop("args", None) or (), params.pop("kwargs", None) or {}
        if not isinstance(viewname, str) or params:  # urlconf, current_app: as django-tables2 does
            return None
        accessors = [*args, *kwargs.values()]
        if not accessors or not all(isinstance(a, Accessor) for a in accessors):
            return None
        stand_ins = [str(_STAND_IN + k) for k in range(len(accessors))]
        try:
            url = reverse(viewname, args=stand_ins[:len(args)] or None,
                          kwargs=dict(zip(kwargs, stand_ins[len(args):], strict=True)) or None)
        except NoReverseMatch:
            return None
        attrs = AttributeDict(link.attrs or {})
        attrs["href"] = url
        opening = f"<a {attrs.as_html()}>"
        pieces = []
        for stand_in in stand_ins:
            if opening.count(stand_in) != 1:
                return None
            head, opening = opening.split(stand_in)
            pieces.append(head)
        pieces.append(opening)
        return cls(link, pieces, accessors)

    def __call__(self, content, **kwargs):
        """What `link(content, **kwargs)` writes."""
        if self.stock_only:
            return self.link(content, **kwargs)
        record = kwargs["record"]
        values = []
        for resolve in self.accessors:
            value = resolve(record)
            if type(value) is not int:
                return self.link(content, **kwargs)
            values.append(value)
        out = [self.pieces[0]]
        for value, piece in zip(values, self.pieces[1:], strict=True):
            out += (str(value), piece)
        link = mark_safe(f"{''.join(out)}{_escaped(content)}</a>")  # noqa: S308 -- escaped pieces
        if not self.checked:  # the first row: the very link django-tables2 writes, or its own from now on
            stock = self.link(content, **kwargs)
            self.checked = True
            if stock != link:
                self.stock_only = True
                return stock
        return link


class _ColumnPlan:
    """What `BoundRow.get_cell` decides for each cell of one column, decided once."""

    def __init__(self, table: tables.Table, bound_column, model):
        column = bound_column.column
        self.bound_column = bound_column
        self.column = column
        self.accessor = A(bound_column.accessor)
        self.resolve = _Resolver(self.accessor)
        self.default = bound_column.default
        self.empty_values = column.empty_values
        self.link = _LinkPlan.of(bound_column.link) or bound_column.link
        self.text_fallback = isinstance(column, BaseLinkColumn) and column.text is not None
        self.many = isinstance(column, ManyToManyColumn)
        self.localize = bound_column.localize
        # The display value of a choices field: django-tables2 looks the field up for each record; the field is
        # the model's, the same for every row. Without a model (a list of records) it is looked up per row.
        self.field_known = model is not None and bool(self.accessor)
        self.field = self.accessor.get_field(model) if self.field_known else None
        self.choices = not self.field_known or bool(getattr(self.field, "choices", ()))
        render = bound_column.render
        date = isinstance(column, (DateColumn, DateTimeColumn)) and _DATE_TEMPLATE.fullmatch(
            column.template_code or "")
        if date and render == column.render:
            render = _date_render(date.group(1))
        elif isinstance(column, TemplateColumn) and column.template_code and render == column.render:
            render = _template_render(column)
        self.render = caller(render)
        merged = {**dict(table.attrs), **dict(column.attrs)}
        td = merged.get("td", merged.get("cell", {}))
        self.td_dynamic = _has_callable(td)
        self.td_html = None if self.td_dynamic else bound_column.attrs["td"].as_html()
        self._choices: dict | None = None
        self._displays: dict = {}  # a choice's display value, this page (one language)

    def _display(self, obj, name: str, field, display: Callable):
        """`obj.get_<name>_display()`, Django's own built once per page instead of once per cell."""
        if not _default_display(type(obj), name):  # type: ignore[arg-type]  # a class is hashable
            return display()
        value = getattr(obj, field.attname)
        key = make_hashable(value)
        if key not in self._displays:
            if self._choices is None:
                self._choices = dict(make_hashable(field.flatchoices))
            self._displays[key] = force_str(self._choices.get(key, value), strings_only=True)
        return self._displays[key]

    def _value(self, row: BoundRow) -> tuple[Any, bool]:
        """`BoundRow._get_and_render_with`'s value, and False when the cell is rendered without one (a link
        column with a text, whose accessor does not resolve)."""
        record = row.record
        value = None
        remainder: str | None = "value"
        if self.choices:
            penultimate, remainder = self.accessor.penultimate(record)
            if isinstance(penultimate, models.Model):
                try:
                    field = self.field if self.field_known else self.accessor.get_field(record)
                    display = getattr(penultimate, f"get_{remainder}_display", None)
                    if getattr(field, "choices", ()) and display:
                        value, remainder = self._display(penultimate, remainder, field, display), None
                except FieldDoesNotExist:
                    pass
        if remainder:
            try:
                value = self.resolve(record)
            except Exception:
                if self.text_fallback:
                    return None, False
        return value, True

    def cell(self, row: BoundRow):
        """The rendered content of this column's cell in `row` (`BoundRow.get_cell`)."""
        value, found = self._value(row)
        if found and (value in self.empty_values or (self.many and not value.exists())):
            return self.default
        kwargs = {"value": value, "record": row.record, "column": self.column, "bound_column": self.bound_column,
                  "bound_row": row, "table": row.table}
        content = self.render(kwargs)
        return self.link(content, **kwargs) if self.link else content

    def td(self, row: BoundRow, content) -> str:
        if not self.td_dynamic:
            return self.td_html  # type: ignore[return-value]
        self.bound_column.current_value, self.bound_column.current_record = content, row.record
        return self.bound_column.attrs["td"].as_html()

    def shown(self, content) -> str:
        """`{{ cell }}` (or `|localize`, `|unlocalize`) as django-tables2's template writes it."""
        if self.localize is None:
            value = formats.localize(template_localtime(content))
            return _escaped(value if isinstance(value, str) else str(value))
        return _escaped(str(formats.localize(content, use_l10n=bool(self.localize))))


class CompiledTable(tables.Table):
    """A django-tables2 table whose body rows are written by `_ColumnPlan`s (see the module's docstring)."""

    def _plans(self) -> list[_ColumnPlan]:
        model = getattr(self._meta, "model", None) or getattr(self.data, "model", None)
        return [_ColumnPlan(self, bound_column, model) for bound_column in self.columns]

    def body_html(self) -> SafeString:
        """The `<tr>` rows of the current page, as `django_tables2/table.html` writes them."""
        plans = self._plans()
        stock_attrs = not self.row_attrs
        out = []
        for row in self.paginated_rows:
            if isinstance(row, BoundPinnedRow):
                pinned = "".join(f"<td {column.attrs['td'].as_html()}>{conditional_escape(cell)}</td>"
                                 for column, cell in row.items())
                out.append(f"<tr {row.attrs.as_html()}>{pinned}</tr>")
                continue
            tr = ('class="odd"' if row.row_counter % 2 else 'class="even"') if stock_attrs \
                else row.attrs.as_html()
            cells = []
            for plan in plans:
                content = plan.cell(row)
                cells.append(f"<td {plan.td(row, content)}>{plan.shown(content)}</td>")
            out.append(f"<tr {tr}>{''.join(cells)}</tr>")
        return mark_safe("\n".join(out))  # noqa: S308 -- every cell is escaped by `shown`
