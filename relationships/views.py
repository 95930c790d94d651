"""Relationship pages: scoped reads only (R-PERM-4). Customers are shown with the masked ID (R-PII-1)."""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import F, Prefetch
from django.shortcuts import get_object_or_404

from crm_platform.views import render_page
from permissions.pagination import CappedPaginator
from permissions.scoping import visible_relationships, visible_reservations
from relationships.models import RelationshipShare

PAGE_SIZE = 50


def _relationships(user):
    shares = RelationshipShare.objects.select_related("staff").order_by(F("effective_to").desc(nulls_first=True), "-ratio", "id")
    return (visible_relationships(user)
            .select_related("customer", "type", "outlet")
            .prefetch_related(Prefetch("shares", queryset=shares)))


@login_required
def relationship_list(request):
    qs = _relationships(request.user).order_by("-effective_from", "-id")
    page = CappedPaginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))  # no COUNT(*) over millions
    return render_page(request, "relationships/list.html", {"page_obj": page})


@login_required
def relationship_detail(request, pk: int):
    relationship = get_object_or_404(_relationships(request.user), pk=pk)
    reservations = (visible_reservations(request.user).filter(relationship=relationship)
                    .select_related("type", "staff", "outlet").order_by("-registered_at", "-id"))
    return render_page(request, "relationships/detail.html", {
        "relationship": relationship, "reservations": reservations,
    })
