"""Filters of the "All cases" list: status, reason, relationship type, branch, opened date range, customer name.

They only narrow the already scoped queryset (`approvals.selectors.visible_cases`, R-PERM-4); the branch
choices are themselves scoped, so the form never names a branch the user may not see.
"""
from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from approvals.models import ApprovalCase, CaseReason, CaseStatus, CaseStep
from common.choices import ListedModelChoiceFilter
from common.widgets import LabelledDateRangeWidget
from permissions.scoping import visible_organisations
from relationships.models import Organisation, RelationshipType
from relationships.types import type_rows


def visible_branches(request) -> QuerySet:
    """The branch choices: only branches the requesting user can see (none without a request)."""
    if request is None:
        return Organisation.objects.none()
    return visible_organisations(request.user).filter(kind="branch").order_by("code", "id")


class CaseFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(label=_("Status"), choices=CaseStatus.choices,
                                         empty_label=_("All statuses"))
    reason = django_filters.ChoiceFilter(label=_("Reason"), choices=CaseReason.choices,
                                         empty_label=_("All reasons"))
    type = ListedModelChoiceFilter(label=_("Relationship type"), rows=type_rows,
                                   queryset=RelationshipType.objects.all(), empty_label=_("All types"))
    branch = django_filters.ModelChoiceFilter(label=_("Branch company"), queryset=visible_branches,
                                              empty_label=_("All branches"))
    opened = django_filters.DateFromToRangeFilter(label=_("Opened"), field_name="created_at",
                                                  widget=LabelledDateRangeWidget())
    customer_name = django_filters.CharFilter(label=_("Customer name"), field_name="customer__name",
                                              lookup_expr="icontains")

    class Meta:
        model = ApprovalCase
        fields = ()


class InboxFilter(django_filters.FilterSet):
    """R-REM-1: the inbox narrowed by reason, relationship type and branch (of the user's waiting steps only)."""

    reason = django_filters.ChoiceFilter(label=_("Reason"), field_name="case__reason", choices=CaseReason.choices,
                                         empty_label=_("All reasons"))
    type = ListedModelChoiceFilter(label=_("Relationship type"), rows=type_rows, field_name="case__type",
                                   queryset=RelationshipType.objects.all(), empty_label=_("All types"))
    branch = django_filters.ModelChoiceFilter(label=_("Branch company"), field_name="case__branch",
                                              queryset=visible_branches, empty_label=_("All branches"))

    class Meta:
        model = CaseStep
        fields = ()
