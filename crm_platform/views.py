"""Pages that compose several apps: the home page (R-REM-1), the customer's history, the navigation by role."""
from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.db.models import F, Prefetch
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from common.pagination import capped_count
from crm_platform.todo import todo_sections, unread_notifications
from permissions.authority import BRANCH_ACTING_ROLES, is_hq_office
from permissions.scoping import (
    scope_for,
    visible_branch_requests,
    visible_callbacks,
    visible_customer_classes,
    visible_history_customers,
    visible_preassignments,
    visible_relationship_history,
    visible_relationships,
    visible_reservations,
)
from relationships.models import RelationshipShare
from relationships.selectors import current_staff
from relationships.workdays import CALENDAR_WARNING_DAYS, unknown_years_within
from reservations.branch.requests import may_change_branch_relationship
from reservations.models import ReservationStatus
from reservations.secondary.services import unreserved_assignments

EXPIRY_WINDOW_DAYS = 7


def nav_for(user) -> dict:
    """What the top navigation offers (R-PERM-4 decides the data; this only decides the links)."""
    scope = scope_for(user)
    staff = current_staff(user)
    return {
        "staff": staff,
        "can_register": staff is not None,
        "can_see_runs": scope.everything or bool(scope.branch_ids),
        "can_operate": is_hq_office(user),
        # §7 / §8 / §11 pages (the pages themselves check the roles that act).
        "can_branch_work": scope.everything or bool(scope.branch_ids),
        # The pre-assignment and awaiting-reassignment lists answer only those who act for a branch
        # (`acting_branch_ids`): HQ's office, a branch user or head — not a branch permission admin, whose scope is a
        # branch too.
        "acts_for_branch": scope.hq_office or bool(scope.role_kinds & set(BRANCH_ACTING_ROLES)),
        "can_callbacks": scope.everything or bool(scope.branch_ids or scope.outlet_ids),
    }


@login_required
def home(request):
    """For staff: their reservations expiring within 7 days and the flagged ones; for everyone a summary."""
    staff = current_staff(request.user)
    reservations = visible_reservations(request.user)
    expiring = flagged = None
    if staff is not None:
        today = timezone.localdate()
        own = reservations.filter(staff=staff).select_related("type", "staff", "outlet")
        expiring = list(own.filter(status=ReservationStatus.ACTIVE,
                                   valid_until__gte=today,
                                   valid_until__lte=today + dt.timedelta(days=EXPIRY_WINDOW_DAYS))
                        .order_by("valid_until", "id")[:50])
        flagged = list(own.filter(status=ReservationStatus.FLAGGED).order_by("-registered_at", "-id")[:50])
    todo = _todo(request.user, staff)  # R-REM-1: what needs this user
    calendar_unknown = _calendar_unknown_years(request.user)
    # Head office sees millions of rows: each tile counts up to a cap (an index range each, not a full scan).
    summary = [(label, capped_count(reservations.filter(status=value)), value)
               for value, label in ReservationStatus.choices]
    active_relationships = capped_count(visible_relationships(request.user).filter(effective_to__isnull=True))
    return render(request, "home.html", {
        "expiring": expiring, "flagged": flagged, "summary": summary,
        "active_relationships": active_relationships, "window_days": EXPIRY_WINDOW_DAYS, **todo,
        "calendar_unknown_years": calendar_unknown, "calendar_warning_days": CALENDAR_WARNING_DAYS,
    })


def _calendar_unknown_years(user) -> list[dict]:
    """R-CAL-1: for HQ, the coming years (within 60 days) neither calendar knows, with the day counting changes."""
    if not is_hq_office(user):
        return []
    return [{"year": year, "from": dt.date(year, 1, 1)} for year in unknown_years_within(CALENDAR_WARNING_DAYS)]


@login_required
def ping_page(request):
    """A signed-in page with no data: the base template, navigation and session of every page, nothing else. The
    yardstick `benchmarks/pages.py` measures every list page against."""
    return render(request, "ping.html")


TODO_LIMIT = 50


def _todo(user, staff) -> dict:
    """R-REM-1 beyond reservations (crm_platform.todo): steps waiting for him or escalated to him, returned cases,
    permission applications, callbacks and disputes, core lines; and customers pre-assigned to him that he has
    not reserved yet."""
    unreserved = list(unreserved_assignments(staff)[:TODO_LIMIT]) if staff is not None else None
    return {"todo": todo_sections(user, staff), "unreserved": unreserved, "today": timezone.localdate(),
            "unread_notifications": unread_notifications(user)}


@login_required
def customer_history(request, pk: int):
    """The customer's full relationship history: every version with its validity dates, and what led to it."""
    customer = get_object_or_404(visible_history_customers(request.user), pk=pk)
    shares = RelationshipShare.objects.select_related("staff__outlet").order_by("effective_from", "-ratio", "id")
    versions = list(visible_relationship_history(request.user).filter(customer=customer)
                    .select_related("type", "outlet").prefetch_related(Prefetch("shares", queryset=shares))
                    .order_by("type__sort_order", F("effective_from").desc(), "-id"))
    for rel in versions:
        rel.can_change = may_change_branch_relationship(request.user, rel)
    return render(request, "branch/customer.html", {
        "customer": customer,
        "versions": versions,
        "classes": visible_customer_classes(request.user).filter(customer=customer).select_related("outlet")
        .order_by("-detected_on", "-id"),
        "assignments": visible_preassignments(request.user).filter(customer=customer)
        .select_related("staff__outlet").order_by("-assigned_at", "-id"),
        "requests": visible_branch_requests(request.user).filter(customer=customer).select_related("type")
        .order_by("-requested_at", "-id"),
        "reservations": visible_reservations(request.user).filter(id_hash=customer.id_hash)
        .select_related("type", "staff", "outlet").order_by("-registered_at", "-id")[:50],
        "callbacks": visible_callbacks(request.user).filter(relationship__customer=customer)
        .select_related("relationship__type").order_by("-created_on", "-id"),
    })
