"""R-PERM-4 / R-ORG-3: one scoping function per model; every page, export and admin list uses it.

Scoping is by indexed foreign keys (staff, outlet, branch), never by per-row grants. This module is the read
policy over the models of every app, so it imports them all (at the top: no models module imports it).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db.models import CharField, Exists, Func, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Lower
from django.utils import timezone

from approvals.models import ApprovalCase, CaseAction, CaseStep, PostAssignment
from performance.models import StaffPerformance
from permissions.models import (
    LockedAccount,
    PermissionApplication,
    PermissionRegisterEntry,
    Role,
    RoleKind,
    people_only,
)
from relationships.models import (
    Account,
    AccountEvent,
    BranchRequest,
    Callback,
    CoreListLine,
    Customer,
    CustomerClass,
    Organisation,
    PreAssignment,
    Qualification,
    Relationship,
    RelationshipShare,
    Staff,
)
from reservations.models import BatchRun, Reservation

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
        scope.everything = scope.hq_office = True
    for kind, org_id, _org_kind in Role.objects.filter(user=user).values_list(
            "kind", "organisation_id", "organisation__kind"):
        if kind == RoleKind.HQ:
            scope.hq_office = True
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


def visible_reservations(user) -> QuerySet:
    return _filter(Reservation.objects.all(), scope_for(user), staff="staff_id", outlet="outlet_id")


def visible_relationships(user) -> QuerySet:
    """Own customers (active shares, and the broker tree), the outlet, the branch, or everything.

    No DISTINCT: the share condition is a semi-join, so the list can stream in index order and stop at
    the page size (lists of millions paginate without sorting or counting the whole scope).
    """
    return _relationships_held_or_at(user, RelationshipShare.objects.filter(effective_to__isnull=True))


def _relationships_held_or_at(user, shares: QuerySet) -> QuerySet:
    """Relationships with one of `shares` held by the user (or his broker tree), at his outlet or branch,
    or all of them for head office."""
    scope = scope_for(user)
    qs = Relationship.objects.all()
    if scope.everything:
        return qs
    if scope.empty:
        return qs.none()
    cond = Q()
    if scope.staff_ids:
        cond |= Q(pk__in=shares.filter(staff_id__in=scope.staff_ids).values("relationship_id"))
    if scope.outlet_ids:
        cond |= Q(outlet_id__in=scope.outlet_ids)
    if scope.branch_ids:
        cond |= Q(outlet_id__in=_branch_outlets(scope.branch_ids))
    return qs.filter(cond)


def visible_staff_performance(user) -> QuerySet:
    """R-PERF-4 / R-PERM-4: own figures (with the broker tree), outlet, branch, or everything for HQ."""
    return _filter(StaffPerformance.objects.all(), scope_for(user), staff="staff_id", outlet="outlet_id")


def visible_batch_runs(user) -> QuerySet:
    """The run ledger is operations data: branch and HQ roles see it."""
    scope = scope_for(user)
    return BatchRun.objects.all() if (scope.everything or scope.branch_ids) else BatchRun.objects.none()


def _at_outlets(qs: QuerySet, scope: Scope) -> QuerySet:
    """Rows that belong to an outlet (`outlet_id`): the outlet's and its branch's work, whoever else they name."""
    if scope.everything:
        return qs
    if not (scope.branch_ids or scope.outlet_ids):
        return qs.none()
    return qs.filter(Q(outlet_id__in=scope.outlet_ids) | Q(outlet_id__in=_branch_outlets(scope.branch_ids)))


def visible_account_events(user) -> QuerySet:
    """Account events (the core system's openings) are seen by the branch or outlet where they happened."""
    return _at_outlets(AccountEvent.objects.all(), scope_for(user))


def visible_organisations(user) -> QuerySet:
    scope = scope_for(user)
    qs = Organisation.objects.all()
    if scope.everything:
        return qs
    return qs.filter(Q(branch_id__in=scope.branch_ids) | Q(id__in=scope.outlet_ids))


def visible_customers(user) -> QuerySet:
    """A customer, and his official name, through a real relationship with him: a visible relationship, a
    pre-assignment, a case the user acts on, or a reservation whose name the core system confirmed."""
    return _customers_known_through(user, visible_relationships(user), classes=False)


# Issue "The night never jams", item 5: a reservation is typed by its author, ID number and name alike, for any ID
# number; if it alone opened the customer, anyone could register one under a made-up name and read the core
# system's name off the customer page. A reservation opens the customer only when the core system confirmed it:
# the batch matched it (names compared, R-MATCH-1/2), or its name is the customer's (R-MATCH-2's comparison:
# NFKC, no spaces, case folded — `relationships.identity.normalise_name`, here in SQL on the customer's side; an
# exotic name the two spell differently stays unconfirmed, never the other way round). A reservation under
# another name shows only what its author typed, on the reservation's own pages.
def _name_normalised(expression):
    return Lower(Func(Func(expression, template="normalize(%(expressions)s, NFKC)", output_field=CharField()),
                      Value(r"\s"), Value(""), Value("g"), function="regexp_replace", output_field=CharField()))


def _confirmed_reservations(user) -> QuerySet:
    """The user's visible reservations whose name the core system confirmed.

    The customer's name is read by the reservation's own ID hash, not from an outer row: correlated on `id_hash`
    alone, PostgreSQL hashes the subquery once per list instead of probing it for every customer row."""
    official = Subquery(Customer.objects.filter(id_hash=OuterRef("id_hash")).values("name")[:1])
    return visible_reservations(user).filter(Q(status="matched") | Q(name_normalised=_name_normalised(official)))


def _cases_acted_on(user) -> QuerySet | None:
    """Cases with a step at a post the user holds today (or deputises), or that he decided or acted on; None when
    he holds no post and never acted (the common case: no subquery per customer). The applicant and the filer of
    a case do not act on it: a late reservation under a made-up name opens a case, not the customer."""
    if hasattr(user, "_crm_acted_cases"):
        cached: QuerySet | None = user._crm_acted_cases
        return cached
    today = timezone.localdate()
    live = PostAssignment.objects.filter(user=user, valid_from__lte=today).filter(
        Q(valid_to__isnull=True) | Q(valid_to__gte=today))
    acted = Q(Exists(CaseStep.objects.filter(case=OuterRef("pk"), decided_by=user))) | Q(Exists(
        CaseAction.objects.filter(case=OuterRef("pk"), actor=user)))
    at_posts = Q(Exists(CaseStep.objects.filter(case=OuterRef("pk")).filter(Exists(
        live.filter(post=OuterRef("post"), organisation_id=OuterRef("organisation_id"))))))
    holds = get_user_model().objects.filter(pk=user.pk).filter(  # one query
        Q(Exists(live)) | Q(Exists(CaseAction.objects.filter(actor=user)))
        | Q(Exists(CaseStep.objects.filter(decided_by=user)))).exists()
    result = ApprovalCase.objects.filter(at_posts | acted) if holds else None
    user._crm_acted_cases = result
    return result


def _customers_known_through(user, relationships: QuerySet, *, classes: bool) -> QuerySet:
    """R-PERM-4 for customers (the list, the history page, show full ID): through `relationships`, a confirmed
    reservation, a pre-assignment, a case he acts on, and (the history page) a classification in scope."""
    scope = scope_for(user)
    qs = Customer.objects.all()
    if scope.everything:
        return qs
    if scope.empty:
        return qs.none()
    arms = [relationships, visible_preassignments(user)]
    if classes:
        arms.append(visible_customer_classes(user))
    cases = _cases_acted_on(user)
    if cases is not None:
        arms.append(cases)
    if scope.outlet_ids or scope.branch_ids:
        # An outlet's or a branch's customers are a large share of all: a page walks the customers' newest-first
        # index and tests each row (PostgreSQL hashes each test once), stopping at the page's last row.
        cond = Q(Exists(_confirmed_reservations(user).filter(id_hash=OuterRef("id_hash"))))
        for arm in arms:
            cond |= Q(Exists(arm.filter(customer_id=OuterRef("pk"))))
        return qs.filter(cond)
    # Issue 18: a staff member's few hundred customers as one set of ids (UNION ALL of index scans) joined to the
    # customers by primary key; the tests above would read every customer to count them. A single customer
    # (`pk=…`) is pushed into every branch of the union: a handful of index probes.
    ids = [Customer.objects.filter(id_hash__in=_confirmed_reservations(user).values("id_hash")).order_by()
           .values("id"), *(arm.order_by().values("customer_id") for arm in arms)]
    return qs.filter(pk__in=ids[0].union(*ids[1:], all=True))


def visible_staff(user) -> QuerySet:
    """Staff: himself and his broker tree, his outlet's, his branch's, or everyone."""
    return _filter(Staff.objects.all(), scope_for(user), staff="id", outlet="outlet_id")


def visible_qualifications(user) -> QuerySet:
    return Qualification.objects.filter(staff__in=visible_staff(user).values("id"))


def visible_users(user) -> QuerySet:
    """User accounts: his own, and those of the staff and role holders of his outlets and branches."""
    User = get_user_model()
    qs = people_only(User.objects.all())
    if not getattr(user, "is_authenticated", False):
        return qs.none()
    scope = scope_for(user)
    if scope.everything:
        return qs
    cond = Q(pk=user.pk) | Q(staff__id__in=scope.staff_ids)
    orgs = Q()
    if scope.branch_ids:
        orgs |= Q(organisation__branch_id__in=scope.branch_ids)
        cond |= Q(Exists(Staff.objects.filter(user=OuterRef("pk"), outlet_id__in=_branch_outlets(scope.branch_ids))))
    if scope.outlet_ids:
        orgs |= Q(organisation_id__in=scope.outlet_ids)
        cond |= Q(Exists(Staff.objects.filter(user=OuterRef("pk"), outlet_id__in=scope.outlet_ids)))
    if orgs:
        cond |= Q(Exists(Role.objects.filter(orgs, user=OuterRef("pk"))))
    return qs.filter(cond)


def _his_or_his_branches(qs: QuerySet, user, *, own: Q, branch: str) -> QuerySet:
    """Rows about `user` himself (`own`) or belonging to his branches (`branch` field); everything for HQ."""
    if not getattr(user, "is_authenticated", False):
        return qs.none()
    scope = scope_for(user)
    if scope.everything:
        return qs
    return qs.filter(own | Q(**{f"{branch}__in": scope.branch_ids}))


def visible_roles(user) -> QuerySet:
    """Roles: his own and those held at organisations of his branches (outlet roles: none but his own)."""
    return _his_or_his_branches(Role.objects.all(), user, own=Q(user=user), branch="organisation__branch_id")


def visible_post_assignments(user) -> QuerySet:
    """Post designations (R-APR-1): his own and those at organisations of his branches."""
    return _his_or_his_branches(PostAssignment.objects.all(), user, own=Q(user=user),
                                branch="organisation__branch_id")


def visible_permission_applications(user) -> QuerySet:
    """R-PERM-2: his own applications (as applicant or user concerned), his branches', or all for HQ."""
    return _his_or_his_branches(PermissionApplication.objects.all(), user,
                                own=Q(applicant=user) | Q(subject=user), branch="branch_id")


def visible_register_entries(user) -> QuerySet:
    """R-PERM-3: the register of his branches (branch roles), or all for HQ; others only entries about them."""
    return _his_or_his_branches(PermissionRegisterEntry.objects.all(), user, own=Q(subject_user=user),
                                branch="branch_id")


# --- §7, §8, §11: classifications, pre-assignments, callbacks, branch requests, core lists ---------------

def visible_customer_classes(user) -> QuerySet:
    """Lost / dormant / silent classes: of the outlets and branches in scope (the class's outlet or any of the
    customer's accounts there), or of customers pre-assigned to the staff member."""
    scope = scope_for(user)
    qs = CustomerClass.objects.all()
    if scope.everything:
        return qs
    if scope.empty:
        return qs.none()
    cond = Q(pk__in=[])
    if scope.outlet_ids:
        cond |= Q(outlet_id__in=scope.outlet_ids) | Q(Exists(Account.objects.filter(
            customer_id=OuterRef("customer_id"), outlet_id__in=scope.outlet_ids)))
    if scope.branch_ids:
        outlets = _branch_outlets(scope.branch_ids)
        cond |= Q(outlet_id__in=outlets) | Q(Exists(Account.objects.filter(
            customer_id=OuterRef("customer_id"), outlet_id__in=outlets)))
    if scope.staff_ids:
        cond |= Q(Exists(PreAssignment.objects.filter(customer_id=OuterRef("customer_id"),
                                                      staff_id__in=scope.staff_ids)))
    return qs.filter(cond)


def visible_preassignments(user) -> QuerySet:
    """R-SEC-4: the assignee his own; the outlet its staff's; the branch its own; HQ all."""
    return _filter(PreAssignment.objects.all(), scope_for(user), staff="staff_id", outlet="staff__outlet_id",
                   branch="branch_id")


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


def visible_relationship_history(user) -> QuerySet:
    """Every version, ended ones included: like `visible_relationships`, but a holder also sees the versions
    he held in the past (a customer page's full history)."""
    return _relationships_held_or_at(user, RelationshipShare.objects.all())


def visible_history_customers(user) -> QuerySet:
    """Customers whose page a user may open: through a relationship version, a confirmed reservation, a
    pre-assignment, a case he acts on, or a classification in his scope (`visible_customers`' rule)."""
    return _customers_known_through(user, visible_relationship_history(user), classes=True)


# --- R-SEC-AUTH-1: locked accounts ----------------------------------------------------------------------------

def visible_locked_accounts(user) -> QuerySet:
    """Locked accounts of the users he may see (user names compared as the lockout does, case-insensitively);
    HQ sees every locked user name, also those without an account."""
    qs = LockedAccount.objects.all()
    if not getattr(user, "is_authenticated", False):
        return qs.none()
    if scope_for(user).everything:
        return qs
    return qs.filter(Exists(visible_users(user).filter(username__iexact=OuterRef("username"))))
