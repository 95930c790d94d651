"""Amounts and counts formatted for the page's language (grouping from `crm_platform/formats`), without
turning on thousand separators site-wide, where they would also land in ids and form values."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import template
from django.utils import formats

register = template.Library()


@register.filter
def money(value):
    """Yuan with two decimals and grouped thousands: 1,234,567.89."""
    if value in (None, ""):
        return "—"
    try:
        amount = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        return value
    return formats.number_format(amount, 2, use_l10n=True, force_grouping=True)


@register.filter
def count(value):
    """A whole number with grouped thousands: 12,345."""
    if value in (None, ""):
        return "—"
    try:
        return formats.number_format(int(value), 0, use_l10n=True, force_grouping=True)
    except (TypeError, ValueError):
        return value


@register.filter
def credited(value):
    """A count credited by split ratio (trades, new customers), as the exports have it: 1,234.50 (R-PERF-1).

    The selectors round it once, half-up, to 2 decimals; this only groups the thousands, so the page never
    shows a truncated 351 where the CSV and the workbook say 351.93.
    """
    return money(value)
