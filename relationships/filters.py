"""Filters of the relationship list (type, active or ended, effective date range) and of the customer list."""
from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Exists, OuterRef
from django.utils.translation import gettext_lazy as _

from common.choices import ListedModelChoiceFilter
from common.widgets import LabelledDateRangeWidget
from permissions.scoping import visible_customer_classes, visible_relationships
from relationships.identity import normalise_id_number
from relationships.models import Customer, CustomerClassKind, Relationship, RelationshipType
from relationships.pii import pii_hashes
from relationships.types import type_rows

ACTIVE, ENDED = "active", "ended"


class RelationshipFilter(django_filters.FilterSet):
    type = ListedModelChoiceFilter(label=_("Relationship type"), rows=type_rows,
                                   queryset=RelationshipType.objects.all(), empty_label=_("All types"))
    state = django_filters.ChoiceFilter(label=_("Status"), choices=[(ACTIVE, _("active")), (ENDED, _("ended"))],
                                        empty_label=_("All statuses"), method="filter_state")
    effective = django_filters.DateFromToRangeFilter(label=_("Effective from"), field_name="effective_from",
                                                     widget=LabelledDateRangeWidget())

    class Meta:
        model = Relationship
        fields = ()

    def filter_state(self, queryset, name, value):
        if value == ACTIVE:
            return queryset.filter(effective_to__isnull=True)
        if value == ENDED:
            return queryset.filter(effective_to__isnull=False)
        return queryset


class IdNumberField(forms.CharField):
    """An ID card number normalised as everywhere else (GB 11643, 15 → 18 digits), so that a mistyped number is
    a form error, not a silent "no such customer"."""

    def clean(self, value):
        value = super().clean(value)
        return normalise_id_number(value) if value else value


class IdNumberFilter(django_filters.CharFilter):
    """Exact match through the keyed hash (R-PII-1): the number is never compared, or stored, in clear."""

    field_class = IdNumberField

    def filter(self, qs, value):
        return qs.filter(id_hash__in=pii_hashes(value)) if value else qs  # every live key version


class CustomerFilter(django_filters.FilterSet):
    """Filters of the customer list. Type and class look only at relationships and classes the user may see
    (R-PERM-4): filtering on a hidden row would tell him it exists."""

    name = django_filters.CharFilter(label=_("Customer name"), lookup_expr="icontains")
    id_number = IdNumberFilter(label=_("ID card number"))
    type = ListedModelChoiceFilter(label=_("Relationship type"), rows=type_rows,
                                   queryset=RelationshipType.objects.all(), empty_label=_("All types"),
                                   method="filter_type")
    classification = django_filters.ChoiceFilter(label=_("Classification"), choices=CustomerClassKind.choices,
                                                 empty_label=_("All classifications"),
                                                 method="filter_classification")

    class Meta:
        model = Customer
        fields = ()

    def filter_queryset(self, queryset):
        """A filter that does not validate (an invalid ID number) matches nothing; dropping it would list
        every customer under the error."""
        if self.form.errors:
            return queryset.none()
        return super().filter_queryset(queryset)

    def filter_type(self, queryset, name, value):
        return queryset.filter(Exists(visible_relationships(self.request.user).filter(
            customer_id=OuterRef("pk"), type=value, effective_to__isnull=True)))

    def filter_classification(self, queryset, name, value):
        return queryset.filter(Exists(visible_customer_classes(self.request.user).filter(
            customer_id=OuterRef("pk"), kind=value, ended_on__isnull=True)))
