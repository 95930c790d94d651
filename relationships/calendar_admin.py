"""HQ's working-day calendar in the admin (R-CAL-1): the days that differ from Monday–Friday, and the years loaded.

HQ's office only: a branch permission admin neither sees nor edits the calendar. Every write goes through
`relationships.calendar_services`, which writes the audit row in the same transaction.
"""
from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import ExtractYear
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from permissions.admin_base import HQOfficeAdmin
from relationships.calendar_services import (
    calendar_day_delete,
    calendar_day_save,
    calendar_year_delete,
    calendar_year_save,
    check_year,
)
from relationships.models import CalendarDay, CalendarYear
from relationships.workdays import package_years


class HQCalendarAdmin(HQOfficeAdmin):
    """Lists, adds, changes and deletes for HQ's office; nothing at all for anyone else."""

    def has_delete_permission(self, request, obj=None):
        return self._hq(request)


class CalendarDayForm(forms.ModelForm):
    class Meta:
        model = CalendarDay
        fields = ("date", "is_workday", "note")
        help_texts = {"is_workday": _("Ticked: a weekend day that is worked. Not ticked: a day off.")}

    def validate_unique(self):  # the service replaces the day of an already entered date
        pass

    def clean_date(self):
        day = self.cleaned_data["date"]
        check_year(day.year)
        return day


@admin.register(CalendarDay)
class CalendarDayAdmin(HQCalendarAdmin):
    scope = staticmethod(lambda user: CalendarDay.objects.all())
    form = CalendarDayForm
    list_display = ("date", "weekday", "is_workday", "note")
    list_filter = ("is_workday",)
    date_hierarchy = "date"
    search_fields = ("note",)
    ordering = ("date",)

    @admin.display(description=_("weekday"))
    def weekday(self, obj):
        return date_format(obj.date, "l")

    def get_readonly_fields(self, request, obj=None):
        return ("date",) if obj is not None else ()

    def save_model(self, request, obj, form, change):
        d = form.cleaned_data
        saved = calendar_day_save(actor=request.user, date=obj.date if change else d["date"],
                                  is_workday=d["is_workday"], note=d.get("note", ""))
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        calendar_day_delete(actor=request.user, day=obj)

    def delete_queryset(self, request, queryset):
        for day in queryset:
            calendar_day_delete(actor=request.user, day=day)


class CalendarYearForm(forms.ModelForm):
    class Meta:
        model = CalendarYear
        fields = ("year", "note")
        help_texts = {"year": _("Record a year only once all of its holidays and worked weekend days are entered: "
                                "from then on its days are no longer counted Monday to Friday.")}

    def validate_unique(self):
        pass

    def clean_year(self):
        year = self.cleaned_data["year"]
        check_year(year)
        return year


@admin.register(CalendarYear)
class CalendarYearAdmin(HQCalendarAdmin):
    scope = staticmethod(lambda user: CalendarYear.objects.all())
    form = CalendarYearForm
    list_display = ("year", "days_entered", "note", "loaded_at", "loaded_by")
    ordering = ("-year",)

    def get_queryset(self, request):
        days = (CalendarDay.objects.annotate(y=ExtractYear("date")).filter(y=OuterRef("year"))
                .order_by().values("y").annotate(n=Count("id")).values("n"))
        return super().get_queryset(request).annotate(
            days_entered_count=Subquery(days, output_field=IntegerField()))

    @admin.display(description=_("days entered"))
    def days_entered(self, obj):
        return obj.days_entered_count or 0

    def get_readonly_fields(self, request, obj=None):
        return ("year", "loaded_at", "loaded_by") if obj is not None else ()

    def changelist_view(self, request, extra_context=None):
        years = package_years()
        extra_context = {**(extra_context or {}), "title": _(
            "Calendar years HQ has loaded (the calendar library knows %(first)d–%(last)d)") % {
            "first": years.start, "last": years.stop - 1}}
        return super().changelist_view(request, extra_context)

    def save_model(self, request, obj, form, change):
        d = form.cleaned_data
        saved = calendar_year_save(actor=request.user, year=obj.year if change else d["year"], note=d.get("note", ""))
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        calendar_year_delete(actor=request.user, calendar_year=obj)

    def delete_queryset(self, request, queryset):
        for row in queryset:
            calendar_year_delete(actor=request.user, calendar_year=row)
