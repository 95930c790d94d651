"""HQ's working-day calendar (R-CAL-1)."""
from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class CalendarDay(models.Model):
    """HQ's calendar (R-CAL-1): a day that differs from Monday–Friday working; wins over `chinesecalendar`."""

    date = models.DateField(_("date"), unique=True)
    is_workday = models.BooleanField(_("working day"))
    note = models.CharField(_("note"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("calendar day")
        verbose_name_plural = _("calendar days")
        ordering = ["date"]

    def __str__(self) -> str:
        return self.date.isoformat()


class CalendarYear(models.Model):
    """R-CAL-1: HQ has loaded this year's calendar, so its days no longer count as an unknown year.

    Explicit, because a year is not known merely because one of its holidays was entered.
    """

    year = models.PositiveSmallIntegerField(_("year"), unique=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    loaded_at = models.DateTimeField(_("loaded at"), auto_now=True)
    loaded_by = models.CharField(_("loaded by"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("calendar year")
        verbose_name_plural = _("calendar years")
        ordering = ["-year"]
        constraints = [models.CheckConstraint(condition=Q(year__gte=2000) & Q(year__lte=2999),
                                              name="calendar_year_in_range")]

    def __str__(self) -> str:
        return str(self.year)
