"""Forms of HQ's operations pages: they parse input only."""
from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from reservations.exchange.columns import Coded
from reservations.exchange.registry import COLUMNS
from reservations.exchange.uploads import MAX_UPLOAD_BYTES
from reservations.models import FEED_KIND_LABELS


class FeedUploadForm(forms.Form):
    kind = forms.ChoiceField(label=_("Feed"), choices=[(k, FEED_KIND_LABELS[k]) for k in COLUMNS])
    file = forms.FileField(label=Coded(_("CSV file (%(utf8)s or %(gb)s) or Excel workbook (.xlsx), with a header "
                                         "row"), utf8="UTF-8", gb="GB18030"),
                           widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,.xlsx"}))

    def clean_file(self):
        f = self.cleaned_data["file"]
        if f.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(_("The file is larger than 50 MB; load it with manage.py load_feed."))
        return f


class NightlyForm(forms.Form):
    business_date = forms.DateField(label=_("Business date"), widget=forms.DateInput(attrs={"type": "date"}))
