"""Mainland working days (R-MATCH-4, R-CAL-1): public holidays off, adjusted weekend working days (调休) on.

Two sources, and HQ's wins:
- `chinesecalendar` carries the State Council's published calendar for the years it knows
  (`package_years()`; 1.11 knows 2004–2026);
- HQ's own calendar: `CalendarYear` rows say "HQ has loaded year Y" (the `calendar` feed creates
  them, HQ edits them in the admin), `CalendarDay` rows are the days that differ from Monday–Friday.
  A `CalendarDay` wins over the package for any date.

A year is *known* when the package knows it or HQ has a `CalendarYear` for it — one holiday entered
for a year does not make the year known. Days of an unknown year count Monday–Friday (unless HQ
entered that very day); every count says which unknown years it went through (`WorkdayCount`), so a
decision taken on such a count can be marked for review once the calendar is loaded.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

import chinese_calendar
from chinese_calendar.constants import holidays as _package_holidays
from django.utils import timezone
from django.utils.translation import gettext as _

from relationships.models import CalendarDay, CalendarYear


@lru_cache(maxsize=1)
def package_years() -> range:
    """The years `chinesecalendar` knows (the range it accepts without NotImplementedError)."""
    years = [day.year for day in _package_holidays]
    return range(min(years), max(years) + 1)


def hq_years(years: set[int] | None = None) -> set[int]:
    """The years HQ has loaded (`CalendarYear`), optionally only among `years`."""
    qs = CalendarYear.objects.all()
    if years is not None:
        qs = qs.filter(year__in=sorted(years))
    return set(qs.values_list("year", flat=True))


def unknown_years(years) -> list[int]:
    """Those of `years` that neither the package nor HQ's calendar knows, ascending."""
    wanted = {y for y in years if y not in package_years()}
    if not wanted:
        return []
    return sorted(wanted - hq_years(wanted))


CALENDAR_WARNING_DAYS = 60  # R-CAL-1: HQ's home page and the health check warn this long before an unknown year


def unknown_years_within(days: int, today: dt.date | None = None) -> list[int]:
    """R-CAL-1: the years touched by the next `days` days (today included) that neither calendar knows.

    HQ's home page and the health check warn while this is not empty (60 days ahead of the first unknown year).
    """
    today = today or timezone.localdate()
    last = today + dt.timedelta(days=max(days, 0))
    return unknown_years(range(today.year, last.year + 1))


def _overrides(start: dt.date, end: dt.date) -> dict[dt.date, bool]:
    return dict(CalendarDay.objects.filter(date__range=(start, end)).values_list("date", "is_workday"))


def _is_workday(day: dt.date, overrides: dict[dt.date, bool]) -> bool:
    if day in overrides:
        return overrides[day]
    if day.year in package_years():
        return chinese_calendar.is_workday(day)
    return day.weekday() < 5


def is_workday(day: dt.date) -> bool:
    return _is_workday(day, _overrides(day, day))


@dataclass(frozen=True)
class WorkdayCount:
    """The day a count of working days ended on, and the years it counted through that nobody knew."""

    day: dt.date
    unknown_years: tuple[int, ...] = ()

    @property
    def calendar_unknown(self) -> bool:
        return bool(self.unknown_years)


def count_workdays_after(day: dt.date, n: int) -> WorkdayCount:
    """The n-th working day strictly after `day`, and the unknown years among the days counted."""
    overrides = _overrides(day, day + dt.timedelta(days=n * 3 + 30))
    current, found = day, 0
    while found < n:
        current += dt.timedelta(days=1)
        if _is_workday(current, overrides):
            found += 1
    if current == day:
        return WorkdayCount(day)
    first = day + dt.timedelta(days=1)
    return WorkdayCount(current, tuple(unknown_years(range(first.year, current.year + 1))))


def calendar_unknown_note(count: WorkdayCount) -> str:
    """R-CAL-1: said on a decision (a late case, a refusal at registration) counted through an unknown year."""
    return _("The working-day calendar of %(years)s is not loaded yet: the deadline was counted Monday to Friday "
             "and is to be reviewed once it is.") % {"years": ", ".join(map(str, count.unknown_years))}


def nth_workday_after(day: dt.date, n: int) -> dt.date:
    """The n-th working day strictly after `day`."""
    return count_workdays_after(day, n).day


LATE_WINDOW_WORKDAYS = 7


def late_window(opening_date: dt.date) -> WorkdayCount:
    """R-MATCH-4 with R-CAL-1: the late-registration deadline and whether it was counted on an unknown year."""
    return count_workdays_after(opening_date, LATE_WINDOW_WORKDAYS)


def late_registration_deadline(opening_date: dt.date) -> dt.date:
    """R-MATCH-4: the last day (inclusive) a late reservation may be registered."""
    return late_window(opening_date).day


def workdays_between(start: dt.date, end: dt.date) -> int:
    """How many working days lie after `start` up to and including `end` (0 when `end` is not after `start`):
    a late reservation registered on the 3rd working day after the opening is late by 3 (R-MATCH-3/4)."""
    if end <= start:
        return 0
    overrides = _overrides(start + dt.timedelta(days=1), end)
    return sum(1 for n in range(1, (end - start).days + 1)
               if _is_workday(start + dt.timedelta(days=n), overrides))
class WorkdayAges:
    """R-APR-9 / R-REM-1: how many working days an item has waited, `(since, today]`, for a whole page of items.

    The days HQ changed are read once, for the oldest date asked so far (one query per page, whatever its rows).
    """

    def __init__(self, today: dt.date | None = None) -> None:
        self.today = today or timezone.localdate()
        self._start: dt.date | None = None
        self._overrides: dict[dt.date, bool] = {}
        self._cache: dict[dt.date, int] = {}

    def age(self, since: dt.date | dt.datetime | None) -> int | None:
        if since is None:
            return None
        if isinstance(since, dt.datetime):
            since = timezone.localtime(since).date()
        if since >= self.today:
            return 0
        if since not in self._cache:
            if self._start is None or since < self._start:
                self._start = min(since, self.today - dt.timedelta(days=366))
                self._overrides = _overrides(self._start, self.today)
            day, count = since, 0
            while day < self.today:
                day += dt.timedelta(days=1)
                count += _is_workday(day, self._overrides)
            self._cache[since] = count
        return self._cache[since]


def nth_workday_back(day: dt.date, n: int) -> dt.date:
    """The n-th working day counting back from `day` itself: an item waiting since before it has waited n
    working days by `day` (R-APR-9). `n` ≥ 1."""
    overrides = _overrides(day - dt.timedelta(days=n * 3 + 30), day)
    current, found = day, 0
    while True:
        if _is_workday(current, overrides):
            found += 1
            if found >= n:
                return current
        current -= dt.timedelta(days=1)
