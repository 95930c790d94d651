"""Mainland working days (R-MATCH-4): public holidays off, adjusted weekend working days (调休) on.

`chinesecalendar` carries the State Council's published calendar; `CalendarDay`
rows override it, so HQ can enter next year's calendar before the package knows it.
Outside the package's years, weekdays are working days.
"""
from __future__ import annotations

import datetime as dt

import chinese_calendar
import chinese_calendar.constants
from django.utils import timezone


def _overrides(start: dt.date, end: dt.date) -> dict[dt.date, bool]:
    from relationships.models import CalendarDay

    return dict(CalendarDay.objects.filter(date__range=(start, end)).values_list("date", "is_workday"))


def _is_workday(day: dt.date, overrides: dict[dt.date, bool]) -> bool:
    if day in overrides:
        return overrides[day]
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        return day.weekday() < 5


def is_workday(day: dt.date) -> bool:
    return _is_workday(day, _overrides(day, day))


def nth_workday_after(day: dt.date, n: int) -> dt.date:
    """The n-th working day strictly after `day`."""
    overrides = _overrides(day, day + dt.timedelta(days=n * 3 + 30))
    current, found = day, 0
    while found < n:
        current += dt.timedelta(days=1)
        if _is_workday(current, overrides):
            found += 1
    return current


LATE_WINDOW_WORKDAYS = 7


def late_registration_deadline(opening_date: dt.date) -> dt.date:
    """R-MATCH-4: the last day (inclusive) a late reservation may be registered."""
    return nth_workday_after(opening_date, LATE_WINDOW_WORKDAYS)


def unknown_years_within(days: int, today: dt.date | None = None) -> list[int]:
    """R-CAL-1: the years touched by the next `days` days that neither `chinesecalendar` knows nor HQ's
    `CalendarDay` table covers (a year counts as covered once it has any row). The health check fails on
    them, so a year the late-registration window would silently treat as weekdays-only is seen in time."""
    from relationships.models import CalendarDay

    start = today or timezone.localdate()
    years = range(start.year, (start + dt.timedelta(days=days)).year + 1)
    holidays = chinese_calendar.constants.holidays
    first, last = min(holidays).year, max(holidays).year
    missing = [year for year in years if not first <= year <= last]
    if not missing:
        return []
    covered = set(CalendarDay.objects.filter(date__year__in=missing).values_list("date__year", flat=True))
    return [year for year in missing if year not in covered]
