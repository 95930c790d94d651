"""The staff member's page (R-STAFF-1): his outlets over time, his leaving date, and the history of what he held —
every share, ended ones included, with its dates. Scoped by `permissions.scoping` (R-PERM-4: 404 outside)."""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import F
from django.shortcuts import get_object_or_404, render

from common.pagination import CappedPaginator
from permissions.authority import may_act_for_branch
from permissions.scoping import visible_relationship_history, visible_staff
from relationships.models import RelationshipShare, StaffMembership

PAGE_SIZE = 50


@login_required
def staff_detail(request, pk: int):
    staff = get_object_or_404(visible_staff(request.user).select_related("outlet__branch"), pk=pk)
    shares = (RelationshipShare.objects.filter(staff=staff, relationship__in=visible_relationship_history(
        request.user).values("pk")).select_related("relationship__customer", "relationship__type")
              .order_by(F("effective_from").desc(), "-id"))
    page = CappedPaginator(shares, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "relationships/staff.html", {
        "staff": staff, "page_obj": page,
        "memberships": StaffMembership.objects.filter(staff=staff).select_related("outlet").order_by("valid_from"),
        "can_reassign": staff.outlet.branch_id is not None and may_act_for_branch(request.user, staff.outlet.branch_id)
        and bool(request.user.is_authenticated),
    })
