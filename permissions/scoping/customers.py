"""Who sees a customer and his relationships (R-PERM-4): relationships held, at the outlet or branch, or all; a
customer through a real relationship with him; classifications and pre-assignments (§7)."""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import CharField, Exists, Func, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Lower
from django.utils import timezone

from approvals.models import ApprovalCase, CaseAction, CaseStep, PostAssignment
from permissions.scoping.core import _branch_outlets, _filter, scope_for
from permissions.scoping.work import visible_reservations
from relationships.models import Account, Customer, CustomerClass, PreAssignment, Relationship, RelationshipShare


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


def visible_relationship_history(user) -> QuerySet:
    """Every version, ended ones included: like `visible_relationships`, but a holder also sees the versions
    he held in the past (a customer page's full history)."""
    return _relationships_held_or_at(user, RelationshipShare.objects.all())


def visible_customers(user) -> QuerySet:
    """A customer, and his official name, through a real relationship with him: a visible relationship, a
    pre-assignment, a case the user acts on, or a reservation whose name the core system confirmed."""
    return _customers_known_through(user, visible_relationships(user), classes=False)


def visible_history_customers(user) -> QuerySet:
    """Customers whose page a user may open: through a relationship version, a confirmed reservation, a
    pre-assignment, a case he acts on, or a classification in his scope (`visible_customers`' rule)."""
    return _customers_known_through(user, visible_relationship_history(user), classes=True)


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


def visible_history_customer_id_set(user) -> QuerySet:
    """The ids of `visible_history_customers` alone, each once (a UNION of index scans, no customer row read): what
    counts the customers of an unfiltered list. Every id is a customer's (foreign keys), so the count is the
    list's."""
    scope = scope_for(user)
    if scope.everything or scope.empty:
        return visible_history_customers(user).order_by().values("id")
    ids = _id_sets(user, _arms(user, visible_relationship_history(user), classes=True))
    return ids[0].union(*ids[1:])


def _customers_known_through(user, relationships: QuerySet, *, classes: bool) -> QuerySet:
    """R-PERM-4 for customers (the list, the history page, show full ID): through `relationships`, a confirmed
    reservation, a pre-assignment, a case he acts on, and (the history page) a classification in scope."""
    scope = scope_for(user)
    qs = Customer.objects.all()
    if scope.everything:
        return qs
    if scope.empty:
        return qs.none()
    arms = _arms(user, relationships, classes=classes)
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
    ids = _id_sets(user, arms)
    return qs.filter(pk__in=ids[0].union(*ids[1:], all=True))


def _arms(user, relationships: QuerySet, *, classes: bool) -> list[QuerySet]:
    """What opens a customer beside a confirmed reservation: `relationships`, a pre-assignment, (the history page)
    a classification in scope, and a case he acts on; each has a `customer_id`."""
    arms = [relationships, visible_preassignments(user)]
    if classes:
        arms.append(visible_customer_classes(user))
    cases = _cases_acted_on(user)
    if cases is not None:
        arms.append(cases)
    return arms


def _id_sets(user, arms: list[QuerySet]) -> list[QuerySet]:
    """The customer ids of a confirmed reservation and of each of `arms`, one index scan each."""
    return [Customer.objects.filter(id_hash__in=_confirmed_reservations(user).values("id_hash")).order_by()
            .values("id"), *(arm.order_by().values("customer_id") for arm in arms)]


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
