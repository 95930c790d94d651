"""Widgets shared by the list filters."""
from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from django_filters.widgets import DateRangeWidget


class LabelledDateRangeWidget(DateRangeWidget):
    """A from–to pair of date pickers. One <label> cannot name two inputs, so the pair sits in a fieldset
    (templates/includes/_list_filters.html) and each input carries its own accessible name."""

    def __init__(self, attrs=None):
        super().__init__(attrs={"type": "date", **(attrs or {})})
        self.widgets[0].attrs["aria-label"] = _("from")
        self.widgets[1].attrs["aria-label"] = _("to")
