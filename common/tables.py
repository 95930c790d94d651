"""How every list page is built: django-filter for the filters, django-tables2 for sorting and paging (with a
capped count), and CSV / Excel exports that stream the same filtered, sorted, scoped rows.

Exports read the queryset in chunks (`iterator(chunk_size=…)`, prefetches included), so an export of a
million relationships holds a few thousand rows in memory at a time and is never silently cut short.
The only limit is Excel's own sheet size; a workbook that would pass it ends with a row saying so.
"""
from __future__ import annotations

import datetime as dt
import tempfile
from typing import Any

import django_tables2 as tables
from django.core.paginator import EmptyPage, Page, PageNotAnInteger
from django.db.models import Count, QuerySet, Window
from django.http import FileResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.encoding import force_str
from django.utils.functional import cached_property
from django.utils.translation import gettext
from django_tables2.rows import BoundRow, BoundRows

from common.pagination import CappedPaginator
from common.spreadsheets import append_row, csv_writer, workbook

PAGE_SIZE = 50
EXPORT_FORMATS = ("csv", "xlsx")
EXPORT_CHUNK = 2_000
XLSX_MAX_ROWS = 1_048_576  # Excel's sheet limit, header row included


class CappedTablePaginator(CappedPaginator):
    """`CappedPaginator` for django-tables2, which hands the paginator its `BoundRows`, not the queryset:
    count through the underlying queryset with the capped `LIMIT cap+1` subquery, never `COUNT(*)`."""

    def __init__(self, object_list, per_page, *, count_ids: QuerySet | None = None, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        self.count_ids = count_ids

    @cached_property
    def count(self) -> int:
        if self.count_ids is not None:  # the rows' ids alone, each once (an unfiltered list: `table_page`)
            return self.count_ids[: self.cap + 1].count()
        data = getattr(getattr(self.object_list, "data", None), "data", None)
        if isinstance(data, QuerySet):
            return data.order_by().values("pk")[: self.cap + 1].count()
        return min(len(self.object_list), self.cap + 1)


class SortedPagePaginator(CappedTablePaginator):
    """For a list whose order needs every row anyway (a sort key computed per row, like the inbox's waiting time):
    one query picks the page's ids with only the joins its filters need and counts the rows in the same pass (a
    window count over the rows it has sorted), a second reads the page's rows by primary key through `rows_for(ids)`
    with the joins and annotations the table shows. The separate count, and sorting every row with its display
    joins (and planning them), are gone. A page past the end falls back to counting, as every list does."""

    def __init__(self, object_list, per_page, *, rows_for, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        self.rows_for = rows_for

    def page(self, number):
        data = getattr(self.object_list, "data", None)
        qs = getattr(data, "data", None)
        table = getattr(self.object_list, "table", None)  # django-tables2's BoundRows
        if not isinstance(qs, QuerySet) or table is None:
            return super().page(number)
        try:
            number = int(number)
        except (TypeError, ValueError):
            raise PageNotAnInteger(self.error_messages["invalid_page"]) from None
        if number < 1:
            raise EmptyPage(self.error_messages["min_page"])
        bottom = (number - 1) * self.per_page
        picked = list(qs.annotate(_rows_total=Window(Count("*"))).values_list("pk", "_rows_total")
                      [bottom:bottom + self.per_page])
        if not picked:
            return super().page(number)
        self.__dict__["count"] = min(picked[0][1], self.cap + 1)
        if number > self.num_pages:
            raise EmptyPage(self.error_messages["no_results"])
        ids = [pk for pk, _total in picked]
        by_id = {row.pk: row for row in self.rows_for(ids)}
        rows = BoundRows(data=[by_id[pk] for pk in ids if pk in by_id], table=table)
        return Page(rows, number, self)


def export_format_of(request) -> str | None:
    fmt = request.GET.get("_export")
    return fmt if fmt in EXPORT_FORMATS else None


def configure(table, request, export_format: str | None = None, *, per_page: int = PAGE_SIZE,
              paginator_class=CappedTablePaginator, **paginator_kwargs):
    """Sort and paginate `table` from the request (an export is sorted the same way but not paginated)."""
    tables.RequestConfig(request, paginate=False if export_format else {
        "per_page": per_page, "paginator_class": paginator_class, **paginator_kwargs}).configure(table)
    if not export_format and table.paginator.per_page != per_page:
        # django-tables2 takes `?per_page=` from the URL; a page never holds more rows than the list offers.
        table.paginate(paginator_class=paginator_class, per_page=per_page, page=1, **paginator_kwargs)
    return table


def export_rows(table, exclude_columns=()):
    """Header, then one list of cell values per record, as `Table.as_values` would give, but chunked."""
    columns = [c for c in table.columns.iterall()
               if not (c.column.exclude_from_export or c.name in exclude_columns)]
    yield [force_str(c.header, strings_only=True) for c in columns]
    # Date columns export their value, not the text of their default rendering.
    raw = {c.name for c in columns if isinstance(c.column, (tables.DateColumn, tables.DateTimeColumn))
           and not hasattr(table, f"value_{c.name}")}
    data = table.data.data
    records = data.iterator(chunk_size=EXPORT_CHUNK) if isinstance(data, QuerySet) else data
    for record in records:
        row = BoundRow(record, table=table)
        yield [_plain(c.accessor.resolve(record, quiet=True) if c.name in raw else row.get_cell_value(c.name))
               for c in columns]


def _plain(value):
    """Times in the office's time zone, as the page shows them (Excel cannot hold an aware datetime)."""
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S") if timezone.is_aware(value) \
            else value.strftime("%Y-%m-%d %H:%M:%S")
    return force_str(value, strings_only=True)


class _Echo:
    def write(self, value):
        return value


def csv_stream_response(*parts, filename: str, bom: bool = True) -> StreamingHttpResponse:
    """Rows (from each iterable in turn) streamed as CSV; a page's export starts with a BOM so that Excel reads
    the Chinese, a §12 contract file does not. Every cell is neutralised (`common.spreadsheets`)."""
    writer = csv_writer(_Echo(), lineterminator="\r\n" if bom else "\n")

    def stream():
        if bom:
            yield "\ufeff"
        for part in parts:
            for row in part:
                yield writer.writerow(row)

    response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def export_response(table, export_format: str, basename: str, exclude_columns=()):
    """CSV streams; Excel is written to a temporary file first."""
    rows = export_rows(table, exclude_columns)
    if export_format == "csv":
        return csv_stream_response(rows, filename=f"{basename}.csv")

    # The sheet's name is read in Excel: the rows' name in the reader's language, not the file's basename (issue 19).
    model = getattr(table._meta, "model", None)
    sheet = str(model._meta.verbose_name_plural) if model is not None else basename
    return xlsx_response(rows, filename=f"{basename}.xlsx", sheet=sheet)


def xlsx_response(rows, *, filename: str, sheet: str) -> FileResponse:
    """Rows (header first) as a workbook written row by row to a temporary file, never held in memory; every text
    cell that could be taken for a formula is written as text (`common.spreadsheets`)."""
    book = workbook(write_only=True)
    worksheet = book.create_sheet(sheet[:31])
    for n, row in enumerate(rows, start=1):
        if n == XLSX_MAX_ROWS:
            append_row(worksheet, [gettext("Excel holds at most %(n)d rows; export CSV for the complete list.")
                                   % {"n": XLSX_MAX_ROWS - 2}])
            break
        append_row(worksheet, row)
    spool = tempfile.TemporaryFile()
    book.save(spool)
    spool.seek(0)
    return FileResponse(spool, as_attachment=True, filename=filename,
                        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def filtered_rows(filters):
    """The rows a bound FilterSet selects; an unfiltered request lists the whole (scoped) queryset."""
    return filters.qs if filters.is_bound else filters.queryset


def unfiltered(filters) -> bool:
    """Whether the FilterSet lists its whole queryset: unbound, or bound (a page number, a sort) with every filter
    valid and empty. A value this cannot tell empty (a date range) counts as a filter."""
    if not filters.is_bound:
        return True
    return filters.form.is_valid() and not any(filters.form.cleaned_data.values())


def table_page(request, *, queryset, table_class, filterset_class, basename: str, template: str,
               context: dict | None = None, exclude_columns=(), table_kwargs: dict | None = None,
               count_ids: QuerySet | None = None):
    """A list page: filter the (already scoped) queryset, sort, page 50 at a time with a capped count;
    `?_export=csv|xlsx` answers the same rows as a file. `count_ids`, the ids of `queryset`'s rows each once,
    counts an unfiltered list without reading its rows (issue 18); a filtered one counts its filtered rows."""
    filters = filterset_class(request.GET or None, queryset=queryset, request=request)
    rows = filtered_rows(filters)
    export_format = export_format_of(request)
    counting: dict[str, Any] = {"count_ids": count_ids} \
        if count_ids is not None and not export_format and unfiltered(filters) else {}
    table = configure(table_class(rows, **(table_kwargs or {})), request, export_format, **counting)
    if export_format:
        return export_response(table, export_format, basename, exclude_columns)
    query = request.GET.copy()
    query.pop("page", None)
    export_query = query.copy()
    export_query.pop("_export", None)
    return render(request, template, {
        "table": table, "page_obj": table.page, "filters": filters, "query": query.urlencode(),
        "export_query": export_query.urlencode(), **(context or {})})
