"""Filters of the reservation list: status, relationship type, registered date range, customer name."""
from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy as _

from common.choices import ListedModelChoiceFilter
from common.widgets import LabelledDateRangeWidget
from relationships.models import RelationshipType
from relationships.types import type_rows
from reservations.models import Reservation, ReservationStatus


class ReservationFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(label=_("Status"), choices=ReservationStatus.choices,
                                         empty_label=_("All statuses"))
    type = ListedModelChoiceFilter(label=_("Relationship type"), rows=type_rows,
                                   queryset=RelationshipType.objects.all(), empty_label=_("All types"))
    registered = django_filters.DateFromToRangeFilter(label=_("Registered at"), field_name="registered_at",
                                                      widget=LabelledDateRangeWidget())
    customer_name = django_filters.CharFilter(label=_("Customer name"), lookup_expr="icontains")

    class Meta:
        model = Reservation
        fields = ()
