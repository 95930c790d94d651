"""Parsing only: the services decide (R-APR-3/4/5)."""
from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from approvals.models import CaseDocuments
from relationships.models import Staff


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(label=gettext_lazy("Decision"), choices=[
        ("approve", gettext_lazy("Approve")), ("reject", gettext_lazy("Reject")),
        ("return", gettext_lazy("Return for correction"))])
    reason = forms.CharField(label=gettext_lazy("Reason"), required=False, widget=forms.Textarea(attrs={"rows": 3}),
                             help_text=gettext_lazy("Required to reject or return."))
    step_id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    shares = forms.CharField(
        label=gettext_lazy("Holders and ratios (final approval only)"), required=False,
        help_text=gettext_lazy("Leave empty to keep the proposal. Format: staff_no:ratio;staff_no:ratio"))

    def clean_shares(self):
        return parse_shares(self.cleaned_data.get("shares", ""))


def parse_shares(raw: str) -> list[dict] | None:
    """`S001:0.6;S002:0.4` → [{"staff_id": …, "ratio": "0.6"}, …]; the service checks R-RES-4."""
    raw = (raw or "").strip()
    if not raw:
        return None
    pairs = []
    for part in filter(None, (p.strip() for p in raw.split(";"))):
        staff_no, sep, ratio = part.partition(":")
        if not sep or not staff_no.strip() or not ratio.strip():
            raise ValidationError(_("“%(part)s” is not staff_no:ratio.") % {"part": part})
        pairs.append((staff_no.strip(), ratio.strip()))
    ids = dict(Staff.objects.filter(staff_no__in=[p[0] for p in pairs]).values_list("staff_no", "id"))
    unknown = [p[0] for p in pairs if p[0] not in ids]
    if unknown:
        raise ValidationError(_("Unknown staff number(s): %(nos)s.") % {"nos": ", ".join(unknown)})
    return [{"staff_id": ids[no], "ratio": ratio} for no, ratio in pairs]


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
    shares = forms.CharField(label=gettext_lazy("Corrected holders and ratios"), required=False,
                             help_text=gettext_lazy("Leave empty to keep the proposal. Format: staff_no:ratio;…"))
    explanation = forms.CharField(label=gettext_lazy("Explanation"), required=False,
                                  widget=forms.Textarea(attrs={"rows": 3}))

    def clean_shares(self):
        return parse_shares(self.cleaned_data.get("shares", ""))
