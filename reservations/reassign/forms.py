"""Parsing only (R-STAFF-1): which of a staff member's relationships, from when; the holders are the approval
pages' holder rows (`approvals.forms.HolderFormSet`)."""
from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy

from relationships.models import CustomerClassKind, RelationshipType


class ReassignFilterForm(forms.Form):
    """Narrow the staff member's relationships: by type, the customer's class and the relationship's outlet."""

    types = forms.ModelMultipleChoiceField(label=gettext_lazy("Relationship types"), required=False,
                                           queryset=RelationshipType.objects.all(),
                                           widget=forms.CheckboxSelectMultiple)
    classes = forms.MultipleChoiceField(label=gettext_lazy("Customer class"), required=False,
                                        choices=CustomerClassKind.choices, widget=forms.CheckboxSelectMultiple)
    outlets = forms.MultipleChoiceField(label=gettext_lazy("Outlet"), required=False,
                                        widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, outlets=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["types"].label_from_instance = lambda t: t.label
        self.fields["outlets"].choices = [(str(o.pk), o.name) for o in outlets]


class ReassignForm(forms.Form):
    effective_from = forms.DateField(label=gettext_lazy("Effective from"),
                                     help_text=gettext_lazy("The new holders' first day; the current ones keep the "
                                                            "days before it."),
                                     widget=forms.DateInput(attrs={"type": "date"}))
    scope = forms.ChoiceField(label=gettext_lazy("Which relationships"), initial="chosen", choices=[
        ("chosen", gettext_lazy("The ones ticked below")),
        ("all", gettext_lazy("Every relationship matching the filter"))], widget=forms.RadioSelect)
    note = forms.CharField(label=gettext_lazy("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class DisputeReassignForm(forms.Form):
    effective_from = forms.DateField(label=gettext_lazy("Effective from"),
                                     help_text=gettext_lazy("The right holders' first day (the relationship's start "
                                                            "gives them every day of it)."),
                                     widget=forms.DateInput(attrs={"type": "date"}))
    note = forms.CharField(label=gettext_lazy("Note"), widget=forms.Textarea(attrs={"rows": 2}))
