"""Parsing only: the services decide (R-APR-3/4/5)."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import forms
from django.utils.translation import gettext, gettext_lazy

from approvals.models import CaseDocuments
from relationships.models import Staff

HOLDER_EXTRA = 2
HOLDER_MAX = 20
DECISION_CHOICES = [("approve", gettext_lazy("Approve")), ("reject", gettext_lazy("Reject")),
                    ("return", gettext_lazy("Return for correction"))]


class DecisionForm(forms.Form):
    # No decision is preselected: the blank choice comes first and a decision is required.
    decision = forms.ChoiceField(label=gettext_lazy("Decision"),
                                 choices=[("", gettext_lazy("— choose a decision —"))] + DECISION_CHOICES)
    reason = forms.CharField(label=gettext_lazy("Reason"), required=False, widget=forms.Textarea(attrs={"rows": 3}),
                             help_text=gettext_lazy("Required to reject or return."))
    step_id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    # Set by the confirmation page of a reject or return (works without JavaScript).
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)


def staff_label(staff: Staff) -> str:
    """“Zhang San (S001, Outlet X)” in the page's language."""
    return gettext("%(name)s (%(staff_no)s, %(outlet)s)") % {
        "name": staff.name, "staff_no": staff.staff_no, "outlet": staff.outlet.name if staff.outlet_id else "—"}


class HolderForm(forms.Form):
    """One holder row: a staff member picked from the eligible ones (R-ATT-1) and his ratio; a blank row is
    ignored. The service checks R-RES-4 and R-ATT-1 again. The eligible staff are read once per formset
    (a list), so the rows add no query."""

    staff = forms.TypedChoiceField(label=gettext_lazy("Holder"), coerce=int, required=False, empty_value=None)
    ratio = forms.CharField(label=gettext_lazy("Split ratio"), max_length=20, required=False,
                            widget=forms.TextInput(attrs={"inputmode": "decimal", "size": 8}))

    def __init__(self, *args, eligible: list[Staff] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.eligible = {s.pk: s for s in eligible or []}
        self.fields["staff"].choices = [("", gettext_lazy("— choose a staff member —"))] + [
            (s.pk, staff_label(s)) for s in eligible or []]

    def clean(self):
        data = super().clean()
        staff_id, ratio = data.get("staff"), (data.get("ratio") or "").strip()
        data["staff"] = self.eligible.get(staff_id) if staff_id is not None else None
        data["ratio"] = ratio
        if staff_id is None and not ratio and "staff" not in self.errors:
            return data
        if staff_id is None and "staff" not in self.errors:
            self.add_error("staff", gettext_lazy("Choose the holder of this ratio."))
        if not ratio:
            self.add_error("ratio", gettext_lazy("Enter this holder's split ratio."))
        return data


class BaseHolderFormSet(forms.BaseFormSet):
    def __init__(self, *args, eligible: list[Staff] | None = None, **kwargs):
        self.eligible = eligible or []
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index):
        return {**super().get_form_kwargs(index), "eligible": self.eligible}

    def shares(self) -> list[dict]:
        """The filled rows of a valid formset, in the service's form."""
        return [{"staff_id": f.cleaned_data["staff"].pk, "ratio": f.cleaned_data["ratio"]} for f in self.forms
                if f.cleaned_data.get("staff") is not None]


HolderFormSet = forms.formset_factory(HolderForm, formset=BaseHolderFormSet, extra=HOLDER_EXTRA,
                                      max_num=HOLDER_MAX, validate_max=True)


def holder_initial(shares: list[dict]) -> list[dict]:
    return [{"staff": int(s["staff_id"]), "ratio": str(s["ratio"])} for s in shares]


def same_shares(a: list[dict], b: list[dict]) -> bool:
    """Whether two proposals name the same holders with the same ratios (order and notation aside)."""
    def key(rows):
        try:
            return sorted((int(r["staff_id"]), Decimal(str(r["ratio"]))) for r in rows)
        except (InvalidOperation, KeyError, TypeError, ValueError):
            return None
    return key(a) is not None and key(a) == key(b)


class DocumentsForm(forms.Form):
    risk_disclosure_received = forms.BooleanField(
        label=gettext_lazy("Risk disclosure form received"), required=False)
    risk_disclosure_reviewed = forms.BooleanField(
        label=gettext_lazy("Risk disclosure form reviewed"), required=False)
    service_confirmation_received = forms.BooleanField(
        label=gettext_lazy("Customer service confirmation received"), required=False)
    service_confirmation_reviewed = forms.BooleanField(
        label=gettext_lazy("Customer service confirmation reviewed"), required=False)

    def documents(self) -> dict:
        return {f: self.cleaned_data[f] for f in CaseDocuments.FIELDS}


class ResubmitForm(forms.Form):
    explanation = forms.CharField(label=gettext_lazy("Explanation"), required=False,
                                  widget=forms.Textarea(attrs={"rows": 3}))
