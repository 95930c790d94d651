"""Performance exports (R-PERF-4): the §12 CSV contract, and the report table as CSV or Excel."""
from __future__ import annotations

import io
from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from openpyxl.styles import Font

from common.spreadsheets import append_row, csv_writer, workbook
from performance.selectors import LEVELS, SECTION12_HEADER, section12_rows
from performance.services import parse_period


def section12_export(qs, period: str | None):
    """(header, rows) of `manage.py export performance [--period YYYY-MM] FILE`; a bad period is a ValueError."""
    month = None
    if period:
        try:
            month = parse_period(period)
        except ValidationError as exc:
            raise ValueError(" ".join(exc.messages)) from exc
    return SECTION12_HEADER, section12_rows(qs, month)


TABLE_METRICS = ("assets", "avg_daily_assets", "net_commission", "turnover", "trade_count", "new_customers")


def table_header(level: str) -> list[str]:
    names = {"staff": [_("staff number"), _("name"), _("outlet")],
             "outlet": [_("code"), _("outlet"), _("branch company")],
             "branch": [_("code"), _("branch company")],
             "region": [_("code"), _("region")]}[level]
    return [_("period"), _("rank"), *names, _("assets"), _("average daily assets"), _("net commission"),
            _("turnover"), _("trade count"), _("new effective customers")]


def table_values(rows: list[dict], level: str, period_label: str):
    width = 3 if level in ("staff", "outlet") else 2
    for row in rows:
        labels = [row["code"], row["name"], row["parent"]][:width]
        yield [period_label, row["rank"], *labels, *(row[m] for m in TABLE_METRICS)]


def adjustments_header(level: str) -> list[str]:
    """R-PERF-5: the adjustments posted into the period, beside its figures: the period they belong to, their
    source, then the columns of the table."""
    header = table_header(level)
    return [_("posted in"), _("belongs to period"), _("source"), *header[2:]]


def adjustments_values(adjustments: Sequence[dict], level: str):
    width = 3 if level in ("staff", "outlet") else 2
    for row in adjustments:
        labels = [row["code"], row["name"], row["parent"]][:width]
        yield [f"{row['posted_in']:%Y-%m}", f"{row['belongs_to']:%Y-%m}", str(row["source_label"]), *labels,
               *(row[m] for m in TABLE_METRICS)]


def table_csv(rows: list[dict], level: str, period_label: str, adjustments: Sequence[dict] = ()) -> bytes:
    """The table; the period's adjustments, if any, follow after an empty line under their own header."""
    buf = io.StringIO()
    writer = csv_writer(buf, lineterminator="\n")
    writer.writerow(table_header(level))
    writer.writerows(table_values(rows, level, period_label))
    if adjustments:
        writer.writerow([])
        writer.writerow(adjustments_header(level))
        writer.writerows(adjustments_values(adjustments, level))
    return buf.getvalue().encode("utf-8-sig")  # with a BOM, so that Excel opens the Chinese text as UTF-8


def _sheet(ws, header: list[str], values) -> None:
    append_row(ws, header)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    first_metric = len(header) - len(TABLE_METRICS) + 1
    for line in values:
        append_row(ws, line)
    # Decimals are written as numbers, amounts and ratio-weighted counts alike shown with 2 decimals: the figures
    # of the page and the CSV (each rounded once, half-up, by the selectors).
    for row in ws.iter_rows(min_row=2, min_col=first_metric, max_col=first_metric + len(TABLE_METRICS) - 1):
        for cell in row:
            cell.number_format = "#,##0.00"
    ws.freeze_panes = "A2"


def table_xlsx(rows: list[dict], level: str, period_label: str, adjustments: Sequence[dict] = ()) -> bytes:
    """The table on the first sheet; the period's adjustments, if any, on a second sheet."""
    wb = workbook()
    ws = wb.active
    ws.title = f"{LEVELS[level]} {period_label}"[:31]
    _sheet(ws, table_header(level), table_values(rows, level, period_label))
    if adjustments:
        _sheet(wb.create_sheet(f"{_('Adjustments')} {period_label}"[:31]), adjustments_header(level),
               adjustments_values(adjustments, level))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
