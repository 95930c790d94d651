"""The scope of a user (what he may see, R-PERM-4 / R-ORG-3) and the filters every scoping function is built from.

Scoping is by indexed foreign keys (staff, outlet, branch), never by per-row grants.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Q, QuerySet

from permissions.models import Role, RoleKind
from relationships.models import Organisation, Staff

OUTLET_ROLES = {RoleKind.OUTLET_HEAD, RoleKind.OUTLET_STAFF}
BRANCH_ROLES = {RoleKind.BRANCH, RoleKind.BRANCH_HEAD, RoleKind.BRANCH_PERMISSION_ADMIN}
HQ_ROLES = {RoleKind.HQ, RoleKind.HQ_REVIEWER}


@dataclass
class Scope:
    everything: bool = False
    hq_office: bool = False  # holds HQ's authority (`permissions.authority.is_hq_office`), not only its view
    branch_ids: set[int] = field(default_factory=set)
    outlet_ids: set[int] = field(default_factory=set)
    staff_ids: set[int] = field(default_factory=set)
    # His roles as (kind, organisation id, organisation kind), read once per request: the second factor, the PII
    # reveal, the HQ reviewer's inbox and the escalations read them from here instead of asking again.
    roles: tuple[tuple[str, int, str], ...] = ()

    @property
    def role_kinds(self) -> set[str]:
        return {kind for kind, _org_id, _org_kind in self.roles}

    @property
    def empty(self) -> bool:
        return not (self.everything or self.branch_ids or self.outlet_ids or self.staff_ids)


def scope_for(user) -> Scope:
    """What `user` may see; cached on the user object for the request. Two queries: his roles, and his staff record
    through the user's own `staff` accessor, so that the navigation and the pages that read `user.staff` (issue 18:
    it was fetched twice per request) find it already cached."""
    if not getattr(user, "is_authenticated", False):
        return Scope()
    cached = getattr(user, "_crm_scope", None)
    if cached is not None:
        return cached
    scope = Scope()
    if user.is_superuser:
        scope.everything = scope.hq_office = True
    scope.roles = tuple(Role.objects.filter(user=user).values_list("kind", "organisation_id", "organisation__kind"))
    for kind, org_id, _org_kind in scope.roles:
        if kind == RoleKind.HQ:
            scope.hq_office = True
        if kind in HQ_ROLES:
            scope.everything = True
        elif kind in BRANCH_ROLES:
            scope.branch_ids.add(org_id)
        elif kind in OUTLET_ROLES:
            scope.outlet_ids.add(org_id)
    staff = getattr(user, "staff", None)  # the reverse one-to-one: cached on the user, None when he has none
    if staff is not None:
        scope.staff_ids.add(staff.pk)
        if staff.kind == "broker":  # R-ORG-3: a parent broker sees his child brokers' customers
            scope.staff_ids |= _broker_descendants(staff.pk)
    user._crm_scope = scope
    return scope


def _broker_descendants(root_id: int) -> set[int]:
    found: set[int] = set()
    frontier = {root_id}
    while frontier:
        frontier = set(Staff.objects.filter(parent_id__in=frontier).values_list("id", flat=True)) - found
        found |= frontier
    return found


def _branch_outlets(branch_ids) -> QuerySet:
    """The outlets of these branches as a subquery. `outlet_id IN (…)` lets PostgreSQL walk the outlet_id
    index outlet by outlet; a join on the outlet's branch inside a list's subplan scanned whole tables."""
    return Organisation.objects.filter(branch_id__in=branch_ids).values("id")


def _filter(qs: QuerySet, scope: Scope, *, staff: str, outlet: str, branch: str | None = None) -> QuerySet:
    """Rows of the scope's staff, outlets or branches. Without `branch`, a branch sees the rows at its outlets."""
    if scope.everything:
        return qs
    if scope.empty:
        return qs.none()
    cond = Q()
    if scope.staff_ids:
        cond |= Q(**{f"{staff}__in": scope.staff_ids})
    if scope.outlet_ids:
        cond |= Q(**{f"{outlet}__in": scope.outlet_ids})
    if scope.branch_ids:
        cond |= (Q(**{f"{branch}__in": scope.branch_ids}) if branch
                 else Q(**{f"{outlet}__in": _branch_outlets(scope.branch_ids)}))
    return qs.filter(cond)


def _at_outlets(qs: QuerySet, scope: Scope) -> QuerySet:
    """Rows that belong to an outlet (`outlet_id`): the outlet's and its branch's work, whoever else they name."""
    if scope.everything:
        return qs
    if not (scope.branch_ids or scope.outlet_ids):
        return qs.none()
    return qs.filter(Q(outlet_id__in=scope.outlet_ids) | Q(outlet_id__in=_branch_outlets(scope.branch_ids)))


def _his_or_his_branches(qs: QuerySet, user, *, own: Q, branch: str) -> QuerySet:
    """Rows about `user` himself (`own`) or belonging to his branches (`branch` field); everything for HQ."""
    if not getattr(user, "is_authenticated", False):
        return qs.none()
    scope = scope_for(user)
    if scope.everything:
        return qs
    return qs.filter(own | Q(**{f"{branch}__in": scope.branch_ids}))
