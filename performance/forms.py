"""The report's filters (parsing only), the lock form and the reopen form."""
from __future__ import annotations

import datetime as dt
import re

from django import forms
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _

from performance.selectors import LEVELS, METRICS, Query
from permissions.scoping import scope_for, visible_organisations
from relationships.models import RelationshipType

_PERIOD = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def parse_report_period(text: str) -> tuple[str, dt.date]:
    """'2026' → year, '2026-03' → month, '2026-03-05' → day."""
    match = _PERIOD.match((text or "").strip())
    if not match:
        raise forms.ValidationError(_("Enter a year (2026), a month (2026-03) or a day (2026-03-05)."))
    year, month, day = match.groups()
    try:
        if day:
            return "day", dt.date(int(year), int(month), int(day))
        if month:
            return "month", dt.date(int(year), int(month), 1)
        return "year", dt.date(int(year), 1, 1)
    except ValueError:
        raise forms.ValidationError(_("Enter a year (2026), a month (2026-03) or a day (2026-03-05).")) from None


class TypeChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.name_en if (get_language() or "").startswith("en") and obj.name_en else obj.name


class OrganisationChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return gettext("%(name)s (%(code)s)") % {"name": obj.name, "code": obj.code}


class ReportFilterForm(forms.Form):
    period = forms.CharField(label=_("Period"), max_length=10, required=False,
                             help_text=_("A year (2026), a month (2026-03) or a day (2026-03-05)."))
    level = forms.ChoiceField(label=_("Rank by"), required=False, choices=list(LEVELS.items()))
    metric = forms.ChoiceField(label=_("Figure"), required=False, choices=list(METRICS.items()))
    organisation = OrganisationChoiceField(label=_("Organisation"), required=False, queryset=None,
                                           empty_label=_("All in my scope"))
    relationship_type = TypeChoiceField(label=_("Relationship type"), required=False,
                                        queryset=RelationshipType.objects.order_by("sort_order", "code"),
                                        empty_label=_("All types"))

    def __init__(self, data=None, *, user, default_period: str):
        super().__init__(data)
        self.default_period = default_period
        scope = scope_for(user)
        # Staff without an organisation role see their own figures only: no ranking of others to choose.
        self.staff_only = not (scope.everything or scope.branch_ids or scope.outlet_ids)
        if self.staff_only:
            self.fields["level"].choices = [("staff", LEVELS["staff"])]
            del self.fields["organisation"]
        else:
            self.fields["organisation"].queryset = (visible_organisations(user)
                                                    .filter(kind__in=["branch", "outlet"]).order_by("code"))
        self.fields["period"].widget.attrs["placeholder"] = default_period

    def clean_period(self):
        text = self.cleaned_data.get("period") or self.default_period
        parse_report_period(text)
        return text

    def query(self) -> Query:
        """The validated query, or the defaults when the form is unbound or invalid."""
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        kind, day = parse_report_period(data.get("period") or self.default_period)
        org = data.get("organisation")
        rel_type = data.get("relationship_type")
        return Query(kind=kind, day=day, level=data.get("level") or "staff", metric=data.get("metric") or "assets",
                     organisation_id=org.pk if org else None, organisation_kind=org.kind if org else None,
                     type_code=rel_type.pk if rel_type else None)


class LockForm(forms.Form):
    period = forms.RegexField(label=_("Period"), regex=r"^\d{4}-\d{2}$", max_length=7)


class ReopenForm(forms.Form):
    """R-PERF-5: the period to reopen and the reason (required; the service checks it too)."""

    period = forms.RegexField(label=_("Period"), regex=r"^\d{4}-\d{2}$", max_length=7, widget=forms.HiddenInput)
    reason = forms.CharField(label=_("Reason for reopening"), max_length=1000, required=False,
                             widget=forms.Textarea(attrs={"rows": 3}),
                             help_text=_("Written to the period register with your name."))
