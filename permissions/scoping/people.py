"""Who sees whom (R-PERM-4): organisations, staff and their qualifications, user accounts, roles, post
designations, permission applications and the register (R-PERM-2/3), locked accounts (R-SEC-AUTH-1)."""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, Q, QuerySet

from approvals.models import PostAssignment
from permissions.models import LockedAccount, PermissionApplication, PermissionRegisterEntry, Role, people_only
from permissions.scoping.core import _branch_outlets, _filter, _his_or_his_branches, scope_for
from relationships.models import Organisation, Qualification, Staff


def visible_organisations(user) -> QuerySet:
    scope = scope_for(user)
    qs = Organisation.objects.all()
    if scope.everything:
        return qs
    return qs.filter(Q(branch_id__in=scope.branch_ids) | Q(id__in=scope.outlet_ids))


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


def visible_locked_accounts(user) -> QuerySet:
    """Locked accounts of the users he may see (user names compared as the lockout does, case-insensitively);
    HQ sees every locked user name, also those without an account."""
    qs = LockedAccount.objects.all()
    if not getattr(user, "is_authenticated", False):
        return qs.none()
    if scope_for(user).everything:
        return qs
    return qs.filter(Exists(visible_users(user).filter(username__iexact=OuterRef("username"))))
