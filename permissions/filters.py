"""Filters of the permission register (R-PERM-3): event, branch company, whom it concerns, date range.

The GET parameter names (`event`, `branch`, `who`, `date_from`, `date_to`) are those the register page has
always used, so bookmarked and exported links keep working. The branch choices are only the branches the
user can see (R-PERM-4); the rows themselves are scoped before they reach the filter.
"""
from __future__ import annotations

import django_filters
from django import forms
from django.utils.translation import gettext_lazy as _

from permissions.models import PermissionRegisterEntry, RegisterEvent
from permissions.scoping import visible_organisations
from relationships.models import Organisation, OrgKind


def _visible_branches(request):
    """A branch the user cannot see is neither offered nor accepted (the form rejects it as an invalid choice)."""
    if request is None:
        return Organisation.objects.none()
    return visible_organisations(request.user).filter(kind=OrgKind.BRANCH).order_by("code")


class RegisterFilter(django_filters.FilterSet):
    event = django_filters.ChoiceFilter(label=_("Event"), choices=RegisterEvent.choices, empty_label=_("all"))
    branch = django_filters.ModelChoiceFilter(label=_("Branch company"), queryset=_visible_branches,
                                              empty_label=_("all"))
    who = django_filters.CharFilter(label=_("Concerns"), field_name="subject_label", lookup_expr="icontains",
                                    max_length=100)
    date_from = django_filters.DateFilter(label=_("From"), field_name="at", lookup_expr="date__gte",
                                          widget=forms.DateInput(attrs={"type": "date"}))
    date_to = django_filters.DateFilter(label=_("To"), field_name="at", lookup_expr="date__lte",
                                        widget=forms.DateInput(attrs={"type": "date"}))

    class Meta:
        model = PermissionRegisterEntry
        fields = ()
