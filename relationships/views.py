"""Relationship pages: scoped reads only (R-PERM-4). Customers are shown with the masked ID (R-PII-1)."""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import F, Prefetch
from django.shortcuts import get_object_or_404

from django_tables2.export import TableExport

from crm_platform.views import render_page
from permissions.scoping import visible_relationships, visible_reservations
from relationships.filters import RelationshipFilter
from relationships.models import RelationshipShare
from relationships.tables import RelationshipTable, configure

PAGE_SIZE = 50


def _relationships(user):
    shares = RelationshipShare.objects.select_related("staff").order_by(F("effective_to").desc(nulls_first=True), "-ratio", "id")
    return (visible_relationships(user)
            .select_related("customer", "type", "outlet")
            .prefetch_related(Prefetch("shares", queryset=shares)))


@login_required
def relationship_list(request):
    """Scoped (R-PERM-4), filtered, sorted, 50 a page with a capped count (no COUNT(*) over millions);
    `?_export=csv|xlsx` exports the same rows (masked IDs only)."""
    qs = _relationships(request.user)
    filters = RelationshipFilter(request.GET or None, queryset=qs, request=request)
    rows = filters.qs if filters.is_bound else qs
    export_format = request.GET.get("_export")
    if export_format not in ("csv", "xlsx"):
        export_format = None
    table = configure(RelationshipTable(rows), request, export_format)
    if export_format:
        return TableExport(export_format, table).response(f"relationships.{export_format}")
    query = request.GET.copy()
    query.pop("page", None)
    export_query = query.copy()
    export_query.pop("_export", None)
    return render_page(request, "relationships/list.html",
                       {"table": table, "page_obj": table.page, "filters": filters, "query": query.urlencode(),
                        "export_query": export_query.urlencode()})


@login_required
def relationship_detail(request, pk: int):
    relationship = get_object_or_404(_relationships(request.user), pk=pk)
    reservations = (visible_reservations(request.user).filter(relationship=relationship)
                    .select_related("type", "staff", "outlet").order_by("-registered_at", "-id"))
    return render_page(request, "relationships/detail.html", {
        "relationship": relationship, "reservations": reservations,
    })
