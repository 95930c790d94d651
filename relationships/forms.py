"""Forms of the relationships app's pages (callbacks). They parse input only; the rules are in the services."""
from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from relationships.models import DisputeResolution


class CallbackResultForm(forms.Form):
    result = forms.ChoiceField(label=_("Result"), widget=forms.RadioSelect, choices=[
        ("confirmed", _("The customer confirms the relationship")),
        ("disputed", _("The customer disputes the relationship"))])
    reason = forms.CharField(label=_("Reason (required for a dispute)"), required=False,
                             widget=forms.Textarea(attrs={"rows": 2}))


class ResolveForm(forms.Form):
    # Keep or end here; a reassignment has its own page (R-STAFF-1) and is decided with its case.
    decision = forms.ChoiceField(label=_("Decision"), widget=forms.RadioSelect, choices=[
        c for c in DisputeResolution.choices if c[0] != DisputeResolution.REASSIGNED])
    end_on = forms.DateField(label=_("Ends on (when ending)"), required=False,
                             widget=forms.DateInput(attrs={"type": "date"}))
    note = forms.CharField(label=_("Note"), widget=forms.Textarea(attrs={"rows": 2}))
