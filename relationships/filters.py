"""Filters of the relationship list: type, active or ended, effective date range."""
from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy as _
from django_filters.widgets import DateRangeWidget

from relationships.models import Relationship, RelationshipType

ACTIVE, ENDED = "active", "ended"


class RelationshipFilter(django_filters.FilterSet):
    type = django_filters.ModelChoiceFilter(label=_("Relationship type"), queryset=RelationshipType.objects.all(),
                                            empty_label=_("All types"))
    state = django_filters.ChoiceFilter(label=_("Status"), choices=[(ACTIVE, _("active")), (ENDED, _("ended"))],
                                        empty_label=_("All statuses"), method="filter_state")
    effective = django_filters.DateFromToRangeFilter(label=_("Effective from"), field_name="effective_from",
                                                     widget=DateRangeWidget(attrs={"type": "date"}))

    class Meta:
        model = Relationship
        fields = ()

    def filter_state(self, queryset, name, value):
        if value == ACTIVE:
            return queryset.filter(effective_to__isnull=True)
        if value == ENDED:
            return queryset.filter(effective_to__isnull=False)
        return queryset
