"""Performance exports (R-PERF-4): the §12 CSV contract, and the report table as CSV or Excel."""
from __future__ import annotations

import io

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


def table_csv(rows: list[dict], level: str, period_label: str) -> bytes:
    buf = io.StringIO()
    writer = csv_writer(buf, lineterminator="\n")
    writer.writerow(table_header(level))
    writer.writerows(table_values(rows, level, period_label))
    return buf.getvalue().encode("utf-8-sig")  # with a BOM, so that Excel opens the Chinese text as UTF-8


def table_xlsx(rows: list[dict], level: str, period_label: str) -> bytes:
    wb = workbook()
    ws = wb.active
    ws.title = f"{LEVELS[level]} {period_label}"[:31]
    append_row(ws, table_header(level))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    first_metric = len(table_header(level)) - len(TABLE_METRICS) + 1
    for values in table_values(rows, level, period_label):
        append_row(ws, values)
    # Decimals are written as numbers, amounts and ratio-weighted counts alike shown with 2 decimals: the figures
    # of the page and the CSV (each rounded once, half-up, by the selectors).
    for row in ws.iter_rows(min_row=2, min_col=first_metric, max_col=first_metric + len(TABLE_METRICS) - 1):
        for cell in row:
            cell.number_format = "#,##0.00"
    ws.freeze_panes = "A2"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
