"""Forms of the §7/§8/§11 pages. They parse input only; the rules live in the services
(`reservations.secondary`, `reservations.branch_created`, `relationships.callbacks`)."""
from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from relationships.models import CustomerClassKind, DisputeResolution, RelationshipType, Staff
from reservations.forms import RelationshipTypeChoiceField


class ClassFilterForm(forms.Form):
    kind = forms.ChoiceField(label=_("Classification"), required=False,
                             choices=[("", _("All"))] + list(CustomerClassKind.choices))
    assigned = forms.ChoiceField(label=_("Pre-assignment"), required=False, choices=[
        ("", _("All")), ("no", _("Not pre-assigned")), ("yes", _("Pre-assigned"))])
    outlet = forms.ModelChoiceField(label=_("Outlet"), required=False, queryset=None, empty_label=_("All outlets"))
    since_from = forms.DateField(label=_("Since (from)"), required=False,
                                 widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, outlets=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["outlet"].queryset = outlets


class StaffChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.name}（{obj.staff_no}）· {obj.outlet.name}"


class PreassignForm(forms.Form):
    """Bulk selection: the ticked customers (their open class rows) and one assignee."""

    staff = StaffChoiceField(label=_("Assign to"), queryset=Staff.objects.none())
    replace = forms.BooleanField(label=_("Replace an existing pre-assignment of this branch"), required=False)

    def __init__(self, *args, staff_qs=None, **kwargs):
        super().__init__(*args, **kwargs)
        if staff_qs is not None:
            self.fields["staff"].queryset = staff_qs


class EndAssignmentForm(forms.Form):
    note = forms.CharField(label=_("Reason"), max_length=300, required=False)


class SecondaryReserveForm(forms.Form):
    phone = forms.CharField(label=_("Phone"), max_length=32,
                            widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "tel"}))
    own_ratio = forms.CharField(label=_("Your split ratio"), max_length=20, initial="1",
                                help_text=_("Up to 4 decimal places; all ratios together may not exceed 1."),
                                widget=forms.TextInput(attrs={"inputmode": "decimal"}))


class SpecialNewForm(forms.Form):
    customer_name = forms.CharField(label=_("Customer name"), max_length=100)
    id_number = forms.CharField(label=_("ID card number"), max_length=32,
                                widget=forms.TextInput(attrs={"autocomplete": "off"}))
    phone = forms.CharField(label=_("Phone"), max_length=32,
                            widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "tel"}))
    own_ratio = forms.CharField(label=_("Your split ratio"), max_length=20, initial="1",
                                widget=forms.TextInput(attrs={"inputmode": "decimal"}))
    explanation = forms.CharField(label=_("How the customer was developed"), required=False,
                                  widget=forms.Textarea(attrs={"rows": 3}))


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


class CallbackResultForm(forms.Form):
    result = forms.ChoiceField(label=_("Result"), widget=forms.RadioSelect, choices=[
        ("confirmed", _("The customer confirms the relationship")),
        ("disputed", _("The customer disputes the relationship"))])
    reason = forms.CharField(label=_("Reason (required for a dispute)"), required=False,
                             widget=forms.Textarea(attrs={"rows": 2}))


class ResolveForm(forms.Form):
    decision = forms.ChoiceField(label=_("Decision"), widget=forms.RadioSelect, choices=DisputeResolution.choices)
    end_on = forms.DateField(label=_("Ends on (when ending)"), required=False,
                             widget=forms.DateInput(attrs={"type": "date"}))
    note = forms.CharField(label=_("Note"), widget=forms.Textarea(attrs={"rows": 2}))
