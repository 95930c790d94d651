"""R-PERM-4 / R-ORG-3: one scoping function per model; every page, export and admin list uses it.

Scoping is by indexed foreign keys (staff, outlet, branch), never by per-row grants. This package is the read
policy over the models of every app, so it imports them all (at the top: no models module imports it):
`core` (a user's scope and the filters built on it), `customers` (customers, relationships, classes,
pre-assignments), `people` (organisations, staff, users, roles, posts, the register) and `work` (reservations,
performance, the run ledger, events, callbacks, branch requests, core lists).
"""
from __future__ import annotations

from permissions.scoping.core import (
    BRANCH_ROLES,
    HQ_ROLES,
    OUTLET_ROLES,
    Scope,
    scope_for,
)
from permissions.scoping.customers import (
    visible_customer_classes,
    visible_customers,
    visible_history_customer_id_set,
    visible_history_customers,
    visible_preassignments,
    visible_relationship_history,
    visible_relationships,
)
from permissions.scoping.people import (
    visible_locked_accounts,
    visible_organisations,
    visible_permission_applications,
    visible_post_assignments,
    visible_qualifications,
    visible_register_entries,
    visible_roles,
    visible_staff,
    visible_users,
)
from permissions.scoping.work import (
    visible_account_events,
    visible_batch_runs,
    visible_branch_requests,
    visible_callbacks,
    visible_core_lines,
    visible_performance_adjustments,
    visible_reservations,
    visible_staff_performance,
)

__all__ = [
    "BRANCH_ROLES",
    "HQ_ROLES",
    "OUTLET_ROLES",
    "Scope",
    "scope_for",
    "visible_account_events",
    "visible_batch_runs",
    "visible_branch_requests",
    "visible_callbacks",
    "visible_core_lines",
    "visible_customer_classes",
    "visible_customers",
    "visible_history_customer_id_set",
    "visible_history_customers",
    "visible_locked_accounts",
    "visible_organisations",
    "visible_permission_applications",
    "visible_post_assignments",
    "visible_preassignments",
    "visible_qualifications",
    "visible_register_entries",
    "visible_relationship_history",
    "visible_relationships",
    "visible_reservations",
    "visible_roles",
    "visible_staff",
    "visible_performance_adjustments",
    "visible_staff_performance",
    "visible_users",
]
