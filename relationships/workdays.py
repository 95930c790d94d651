"""Mainland working days (R-MATCH-4): public holidays off, adjusted weekend working days (调休) on.

`chinesecalendar` carries the State Council's published calendar; `CalendarDay`
rows override it, so HQ can enter next year's calendar before the package knows it.
Outside the package's years, weekdays are working days.
"""
from __future__ import annotations

import datetime as dt

import chinese_calendar


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
