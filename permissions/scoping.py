"""R-PERM-4 / R-ORG-3: one scoping function per model; every page, export and admin list uses it.

Scoping is by indexed foreign keys (staff, outlet, branch), never by per-row grants.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Q, QuerySet

from permissions.models import Role, RoleKind
from relationships.models import Organisation, Relationship, Staff

OUTLET_ROLES = {RoleKind.OUTLET_HEAD, RoleKind.OUTLET_STAFF}
BRANCH_ROLES = {RoleKind.BRANCH, RoleKind.BRANCH_HEAD, RoleKind.BRANCH_PERMISSION_ADMIN}
HQ_ROLES = {RoleKind.HQ, RoleKind.HQ_REVIEWER}


@dataclass
class Scope:
    everything: bool = False
    branch_ids: set[int] = field(default_factory=set)
    outlet_ids: set[int] = field(default_factory=set)
    staff_ids: set[int] = field(default_factory=set)

    @property
    def empty(self) -> bool:
        return not (self.everything or self.branch_ids or self.outlet_ids or self.staff_ids)


def scope_for(user) -> Scope:
    """What `user` may see; cached on the user object for the request."""
    if not getattr(user, "is_authenticated", False):
        return Scope()
    cached = getattr(user, "_crm_scope", None)
    if cached is not None:
        return cached
    scope = Scope()
    if user.is_superuser:
        scope.everything = True
    for kind, org_id, org_kind in Role.objects.filter(user=user).values_list(
            "kind", "organisation_id", "organisation__kind"):
        if kind in HQ_ROLES:
            scope.everything = True
        elif kind in BRANCH_ROLES:
            scope.branch_ids.add(org_id)
        elif kind in OUTLET_ROLES:
            scope.outlet_ids.add(org_id)
    staff = Staff.objects.filter(user=user).first()
    if staff is not None:
        scope.staff_ids.add(staff.pk)
        if staff.kind == "broker":  # R-ORG-3: a parent broker sees his child brokers' customers
            scope.staff_ids |= _broker_descendants(staff.pk)
    user._crm_scope = scope
    return scope


def _broker_descendants(root_id: int) -> set[int]:
    found, frontier = set(), {root_id}
    while frontier:
        frontier = set(Staff.objects.filter(parent_id__in=frontier).values_list("id", flat=True)) - found
        found |= frontier
    return found


def _filter(qs: QuerySet, scope: Scope, *, staff: str, outlet: str, branch: str) -> QuerySet:
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
        cond |= Q(**{f"{branch}__in": scope.branch_ids})
    return qs.filter(cond)


def visible_reservations(user) -> QuerySet:
    from reservations.models import Reservation

    return _filter(Reservation.objects.all(), scope_for(user), staff="staff_id", outlet="outlet_id",
                   branch="outlet__branch_id")


def visible_relationships(user) -> QuerySet:
    scope = scope_for(user)
    qs = Relationship.objects.all()
    if scope.everything:
        return qs
    if scope.empty:
        return qs.none()
    cond = Q()
    if scope.staff_ids:
        cond |= Q(shares__staff_id__in=scope.staff_ids, shares__effective_to__isnull=True)
    if scope.outlet_ids:
        cond |= Q(outlet_id__in=scope.outlet_ids)
    if scope.branch_ids:
        cond |= Q(outlet__branch_id__in=scope.branch_ids)
    return qs.filter(cond).distinct()


def visible_batch_runs(user) -> QuerySet:
    """The run ledger is operations data: branch and HQ roles see it."""
    from reservations.models import BatchRun

    scope = scope_for(user)
    return BatchRun.objects.all() if (scope.everything or scope.branch_ids) else BatchRun.objects.none()


def visible_organisations(user) -> QuerySet:
    scope = scope_for(user)
    qs = Organisation.objects.all()
    if scope.everything:
        return qs
    return qs.filter(Q(branch_id__in=scope.branch_ids) | Q(id__in=scope.outlet_ids))
