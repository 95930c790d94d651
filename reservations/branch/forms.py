"""Forms of the §8 pages. They parse input only; the rules live in `reservations.branch`'s services."""
from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from relationships.models import RelationshipType
from reservations.forms import RelationshipTypeChoiceField


class BranchRequestForm(forms.Form):
    relationship_type = RelationshipTypeChoiceField(
        label=_("Relationship type"), queryset=RelationshipType.objects.filter(creation="branch"), empty_label=None)
    id_number = forms.CharField(label=_("ID card number"), max_length=32,
                                widget=forms.TextInput(attrs={"autocomplete": "off"}))
    participants = forms.CharField(
        label=_("Holders and split ratios"), max_length=500,
        help_text=_("Staff numbers with their ratios, separated by semicolons: S00012:0.6;S00013:0.4"))
    effective_from = forms.DateField(label=_("Effective from"), widget=forms.DateInput(attrs={"type": "date"}))
    reason = forms.CharField(label=_("Reason"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class ReplaceForm(forms.Form):
    participants = forms.CharField(
        label=_("New holders and split ratios"), max_length=500,
        help_text=_("Staff numbers with their ratios, separated by semicolons: S00012:0.6;S00013:0.4"))
    effective_from = forms.DateField(label=_("New version effective from"),
                                     widget=forms.DateInput(attrs={"type": "date"}))
    reason = forms.CharField(label=_("Reason"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class EndRelationshipForm(forms.Form):
    on = forms.DateField(label=_("Ends on"), help_text=_("The first day the relationship no longer counts."),
                         widget=forms.DateInput(attrs={"type": "date"}))
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 2}))


class CoreRemoveForm(forms.Form):
    reason = forms.CharField(label=_("Reason for removal"), max_length=500,
                             error_messages={"required": _("Give the reason for removing the customer from the core "
                                                           "list.")})


class CoreLineForm(forms.Form):
    id_number = forms.CharField(label=_("ID card number"), max_length=32, required=False,
                                widget=forms.TextInput(attrs={"autocomplete": "off"}))
    staff_no = forms.CharField(label=_("Advisor's staff number"), max_length=32, required=False)


CoreLineFormSet = forms.formset_factory(CoreLineForm, extra=10, max_num=500, validate_max=True)


class CoreUploadForm(forms.Form):
    file = forms.FileField(label=_("Core list file (CSV)"),
                           help_text=_("UTF-8 CSV with the columns id_number, relationship_type, participants, "
                                       "effective_from (relationship_type CORE_SERVICE, participants the advisor's "
                                       "staff number)."))
