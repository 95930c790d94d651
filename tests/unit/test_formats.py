"""Numbers and money formatted for the page's language (issue 7): grouped thousands, two decimals for yuan."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import formats, translation


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_money_and_counts_are_grouped_by_thousands(language):
    template = Template("{% load amounts %}{{ a|money }} {{ n|count }} {{ none|money }}")
    with translation.override(language):
        text = template.render(Context({"a": Decimal("1234567.8"), "n": 12345, "none": None}))
    assert text == "1,234,567.80 12,345 —"


def test_chinese_pages_show_iso_dates_in_tables_and_chinese_long_dates():
    with translation.override("zh-hans"):
        assert formats.date_format(dt.date(2026, 3, 5), "SHORT_DATE_FORMAT") == "2026-03-05"
        assert formats.date_format(dt.date(2026, 3, 5)) == "2026年3月5日"
