"""Who sees the work rows (R-PERM-4): reservations, performance figures, the run ledger, account events,
callbacks (R-CB-1), branch requests (R-BR-1) and core-list lines (R-CORE-2)."""
from __future__ import annotations

from django.db.models import QuerySet

from performance.models import PerformanceAdjustment, StaffPerformance
from permissions.scoping.core import _at_outlets, _filter, scope_for
from relationships.models import AccountEvent, BranchRequest, Callback, CoreListLine
from reservations.models import BatchRun, Reservation


def visible_reservations(user) -> QuerySet:
    return _filter(Reservation.objects.all(), scope_for(user), staff="staff_id", outlet="outlet_id")


def visible_staff_performance(user) -> QuerySet:
    """R-PERF-4 / R-PERM-4: own figures (with the broker tree), outlet, branch, or everything for HQ."""
    return _filter(StaffPerformance.objects.all(), scope_for(user), staff="staff_id", outlet="outlet_id")


def visible_performance_adjustments(user) -> QuerySet:
    """R-PERF-5: adjustments are seen as the staff figures they adjust (R-PERF-4 / R-PERM-4)."""
    return _filter(PerformanceAdjustment.objects.all(), scope_for(user), staff="staff_id", outlet="outlet_id")


def visible_batch_runs(user) -> QuerySet:
    """The run ledger is operations data: branch and HQ roles see it."""
    scope = scope_for(user)
    return BatchRun.objects.all() if (scope.everything or scope.branch_ids) else BatchRun.objects.none()


def visible_account_events(user) -> QuerySet:
    """Account events (the core system's openings) are seen by the branch or outlet where they happened."""
    return _at_outlets(AccountEvent.objects.all(), scope_for(user))


def visible_callbacks(user) -> QuerySet:
    """R-CB-1: callbacks are the outlet's work (and its branch's); holders never see their own callbacks."""
    return _at_outlets(Callback.objects.all(), scope_for(user))


def visible_branch_requests(user) -> QuerySet:
    """R-BR-1: the branch's own requests; HQ all."""
    scope = scope_for(user)
    if scope.everything:
        return BranchRequest.objects.all()
    return BranchRequest.objects.filter(branch_id__in=scope.branch_ids)


def visible_core_lines(user) -> QuerySet:
    """R-CORE-2: the branch's core-list lines; the advisor his own; HQ all."""
    return _filter(CoreListLine.objects.all(), scope_for(user), staff="advisor_id", outlet="advisor__outlet_id",
                   branch="submission__branch_id")
