"""Forms of the §7 pages. They parse input only; the rules live in `reservations.secondary`'s services."""
from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from relationships.models import CustomerClassKind, Staff
from reservations.forms import ClaimForm


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
        # The staff number in brackets of the reader's language (full-width in Chinese only; issue 19).
        return f"{obj} · {obj.outlet.name}"


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


class SecondaryReserveForm(ClaimForm):
    """The assignee's reservation of his pre-assigned customer: the customer is known, he gives the phone."""

    field_order = ["phone", "own_ratio"]


class SpecialNewForm(ClaimForm):
    customer_name = forms.CharField(label=_("Customer name"), max_length=100)
    id_number = forms.CharField(label=_("ID card number"), max_length=32,
                                widget=forms.TextInput(attrs={"autocomplete": "off"}))
    explanation = forms.CharField(label=_("How the customer was developed"), required=False,
                                  widget=forms.Textarea(attrs={"rows": 3}))

    field_order = ["customer_name", "id_number", "phone", "own_ratio", "explanation"]
