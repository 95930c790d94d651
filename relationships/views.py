"""Relationship pages: scoped reads only (R-PERM-4). Customers are shown with the masked ID (R-PII-1)."""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import F, Prefetch
from django.shortcuts import get_object_or_404, render

from common.tables import table_page
from permissions.scoping import (visible_customer_classes, visible_history_customers, visible_relationships,
                                 visible_reservations)
from relationships.filters import CustomerFilter, RelationshipFilter
from relationships.models import RelationshipShare
from relationships.tables import CustomerTable, RelationshipTable


def _relationships(user):
    shares = RelationshipShare.objects.select_related("staff").order_by(F("effective_to").desc(nulls_first=True), "-ratio", "id")
    return (visible_relationships(user)
            .select_related("customer", "type", "outlet")
            .prefetch_related(Prefetch("shares", queryset=shares)))


@login_required
def relationship_list(request):
    """Scoped (R-PERM-4), filtered, sorted, 50 a page with a capped count (no COUNT(*) over millions);
    `?_export=csv|xlsx` exports the same rows (masked IDs only)."""
    return table_page(request, queryset=_relationships(request.user), table_class=RelationshipTable,
                      filterset_class=RelationshipFilter, basename="relationships",
                      template="relationships/list.html")


@login_required
def relationship_detail(request, pk: int):
    relationship = get_object_or_404(_relationships(request.user), pk=pk)
    reservations = (visible_reservations(request.user).filter(relationship=relationship)
                    .select_related("type", "staff", "outlet").order_by("-registered_at", "-id"))
    return render(request, "relationships/detail.html", {
        "relationship": relationship, "reservations": reservations,
    })


def _customers(user):
    """Customers whose history page `user` may open, each with only his visible active relationships (current
    holders) and open classes prefetched: one query per list, not per row, and nothing outside the scope."""
    shares = (RelationshipShare.objects.filter(effective_to__isnull=True).select_related("staff")
              .order_by("-ratio", "id"))
    relationships = (visible_relationships(user).filter(effective_to__isnull=True).select_related("type")
                     .prefetch_related(Prefetch("shares", queryset=shares)).order_by("type__sort_order", "id"))
    classes = visible_customer_classes(user).filter(ended_on__isnull=True).order_by("-since", "-id")
    return visible_history_customers(user).prefetch_related(
        Prefetch("relationships", queryset=relationships, to_attr="visible_active_relationships"),
        Prefetch("classes", queryset=classes, to_attr="visible_open_classes"))


@login_required
def customer_list(request):
    """Scoped like the customer history page it links to (R-PERM-4), masked IDs only (R-PII-1); filtered,
    sorted, capped count; `?_export=csv|xlsx` exports the same rows."""
    return table_page(request, queryset=_customers(request.user), table_class=CustomerTable,
                      filterset_class=CustomerFilter, basename="customers",
                      template="relationships/customers.html")
