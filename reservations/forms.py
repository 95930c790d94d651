"""Reservation forms: they parse input only; every rule lives in `reservations.services` (R-RES-3/4)."""
from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from common.forms import add_service_errors
from relationships.models import RelationshipType, Staff

CO_DEVELOPER_EXTRA = 3
CO_DEVELOPER_MAX = 20


def type_label(rel_type: RelationshipType) -> str:
    """The type's name in the active language (the rows carry a Chinese and an English name)."""
    return rel_type.label


class RelationshipTypeChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return type_label(obj)


class ClaimForm(forms.Form):
    """What every claim on a customer asks of the staff member (reservation, secondary, special new)."""

    phone = forms.CharField(label=_("Phone"), max_length=32,
                            widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "tel"}))
    own_ratio = forms.CharField(label=_("Your split ratio"), max_length=20, initial="1",
                                help_text=_("Up to 4 decimal places; all ratios together may not exceed 1."),
                                widget=forms.TextInput(attrs={"inputmode": "decimal"}))


class ReservationForm(ClaimForm):
    relationship_type = RelationshipTypeChoiceField(
        label=_("Relationship type"), queryset=RelationshipType.objects.filter(reservable=True),
        empty_label=None)
    customer_name = forms.CharField(label=_("Customer name"), max_length=100)
    id_number = forms.CharField(label=_("ID card number"), max_length=32,
                                widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "text"}))

    field_order = ["relationship_type", "customer_name", "id_number", "phone", "own_ratio"]

    def __init__(self, *args, staff: Staff | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if staff is not None:  # only the types his kind may hold (the type's `holder_kinds`, as the service checks)
            field = self.fields["relationship_type"]
            field.queryset = field.queryset.filter(holder_kinds__contains=[staff.kind])


class CoDeveloperForm(forms.Form):
    """One co-developer row; a blank row is ignored."""

    staff_no = forms.CharField(label=_("Co-developer staff number"), max_length=32, required=False)
    ratio = forms.CharField(label=_("Co-developer split ratio"), max_length=20, required=False,
                            widget=forms.TextInput(attrs={"inputmode": "decimal"}))

    def clean(self):
        data = super().clean()
        staff_no = (data.get("staff_no") or "").strip()
        ratio = (data.get("ratio") or "").strip()
        data["staff"] = None
        if not staff_no and not ratio:
            return data
        if not staff_no:
            self.add_error("staff_no", _("Enter the co-developer's staff number."))
        if not ratio:
            self.add_error("ratio", _("Enter the co-developer's split ratio."))
        if staff_no:
            staff = Staff.objects.filter(staff_no=staff_no).first()
            if staff is None:
                self.add_error("staff_no", _("There is no staff member with number %(staff_no)s.")
                               % {"staff_no": staff_no})
            data["staff"] = staff
        data["staff_no"], data["ratio"] = staff_no, ratio
        return data


CoDeveloperFormSet = forms.formset_factory(CoDeveloperForm, extra=CO_DEVELOPER_EXTRA, max_num=CO_DEVELOPER_MAX,
                                           validate_max=True)


def co_developers(formset) -> list[tuple[Staff, str]]:
    """The filled rows of a valid formset as (staff, ratio text) pairs."""
    return [(f.cleaned_data["staff"], f.cleaned_data["ratio"]) for f in formset.forms
            if f.cleaned_data.get("staff") is not None]


def place_reservation_errors(exc, form, formset) -> None:
    """The service's errors next to their fields (R-RES-3); the participants' go above the co-developer rows,
    or next to the staff member's own ratio when he claims alone."""
    if co_developers(formset):
        add_service_errors(form, exc, formset=formset, formset_keys=("participants",))
    else:
        add_service_errors(form, exc, aliases={"participants": "own_ratio"})


class CorrectNameForm(forms.Form):
    customer_name = forms.CharField(label=_("Corrected customer name"), max_length=100)



class WithdrawForm(forms.Form):
    """R-RES-6: the optional reason asked on the withdrawal's confirmation page."""

    reason = forms.CharField(label=_("Reason (optional)"), required=False, max_length=500,
                             widget=forms.Textarea(attrs={"rows": 3}))
