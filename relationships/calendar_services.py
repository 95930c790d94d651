"""HQ's working-day calendar (R-CAL-1): the writes behind the admin pages, each one transaction with its audit row.

Who may call them is decided by the caller (the admin lets HQ's office only; `load_feed calendar` is an
operator's command and the feeds page is HQ's): this app sits below `permissions/`.
"""
from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from common.actors import actor_label
from relationships.audit import audit
from relationships.models import CalendarDay, CalendarYear

FIRST_YEAR, LAST_YEAR = 2000, 2999


def check_year(year: int, field: str | None = None) -> None:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        message = _("The year must be between %(first)d and %(last)d.") % {"first": FIRST_YEAR, "last": LAST_YEAR}
        raise ValidationError({field: [message]} if field else message)


def day_after(day: CalendarDay) -> dict:
    return {"date": day.date.isoformat(), "kind": "workday" if day.is_workday else "holiday", "note": day.note}


def calendar_day_save(*, actor, date: dt.date, is_workday: bool, note: str = "") -> CalendarDay:
    """Enter or change one day that differs from Monday–Friday working; it wins over the calendar library."""
    check_year(date.year, "date")
    note = (note or "").strip()[:100]
    with transaction.atomic():
        day = CalendarDay.objects.select_for_update().filter(date=date).first()
        before = day_after(day) if day else None
        if day is None:
            day = CalendarDay(date=date)
        day.is_workday, day.note = is_workday, note
        day.save()
        audit(actor=actor, action="calendar_day.save", target=day, before=before, after=day_after(day))
    return day


def calendar_day_delete(*, actor, day: CalendarDay) -> None:
    with transaction.atomic():
        before = day_after(day)
        target = ("relationships.calendarday", day.pk)
        day.delete()
        audit(actor=actor, action="calendar_day.delete", target=target, before=before)


def calendar_year_save(*, actor, year: int, note: str = "") -> CalendarYear:
    """Record that HQ has loaded `year`: its days no longer count as an unknown year (no warning, no mark)."""
    check_year(year, "year")
    with transaction.atomic():
        row = CalendarYear.objects.select_for_update().filter(year=year).first()
        before = {"year": row.year, "note": row.note} if row else None
        if row is None:
            row = CalendarYear(year=year)
        row.note, row.loaded_by = (note or "").strip()[:200], actor_label(actor)
        row.save()
        audit(actor=actor, action="calendar_year.save", target=row, before=before,
              after={"year": row.year, "note": row.note})
    return row


def calendar_year_delete(*, actor, calendar_year: CalendarYear) -> None:
    """The year counts as unknown again (its entered days still win over Monday–Friday)."""
    with transaction.atomic():
        before = {"year": calendar_year.year, "note": calendar_year.note}
        target = ("relationships.calendaryear", calendar_year.pk)
        calendar_year.delete()
        audit(actor=actor, action="calendar_year.delete", target=target, before=before)
