"""Exports are safe to open in Excel (issue 'The night never jams', item 4), cell by cell, without a database."""
from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from common.spreadsheets import append_row, csv_cell, is_formula_like, workbook


@pytest.mark.parametrize("value", ["=1+1", "+cmd", "-2+3", "@SUM(A1)", "\tx", "\rx", "＝1+1"])
def test_formula_like_text_is_neutralised_in_csv(value):
    assert is_formula_like(value)
    assert csv_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["-12.5", "+3", "0.25", "张三", 42, None])
def test_plain_numbers_names_and_non_text_are_left_alone(value):
    assert csv_cell(value) == value


def test_xlsx_writes_formula_like_text_as_text_and_control_characters_as_a_replacement():
    book = workbook()
    append_row(book.active, ["=HYPERLINK(\"x\")", "a\x01b", 7])
    out = io.BytesIO()
    book.save(out)
    sheet = load_workbook(io.BytesIO(out.getvalue())).active
    first, second, third = (cell.value for cell in sheet[1])
    assert first == "=HYPERLINK(\"x\")" and sheet["A1"].data_type == "s"
    assert second == "a\ufffdb"
    assert third == 7
