"""Relationship pages: scoped reads only (R-PERM-4). Customers are shown with the masked ID (R-PII-1)."""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import F, Prefetch
from django.shortcuts import get_object_or_404

from crm_platform.tables import table_page
from crm_platform.views import render_page
from permissions.scoping import visible_relationships, visible_reservations
from relationships.filters import RelationshipFilter
from relationships.models import RelationshipShare
from relationships.tables import RelationshipTable


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
    return render_page(request, "relationships/detail.html", {
        "relationship": relationship, "reservations": reservations,
    })
