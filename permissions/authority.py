"""Who may act (R-PERM-1/2, R-APR-1): HQ's office, the branches one acts for, the branches one administers.

The read policy is `permissions.scoping` (what one may see); this is the act policy (what one may do). Both
sit low, over the models of every app, so that every service can ask them.
"""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef
from guardian.shortcuts import get_objects_for_user

from common.actors import is_system
from permissions.models import PermissionApplication, Role, RoleKind, people_only
from permissions.scoping import scope_for
from relationships.models import Organisation, OrgKind, Staff

# The guardian object permission that makes a branch "his" for a branch permission admin.
ADMINISTER_BRANCH = "relationships.change_organisation"


def is_hq_office(user) -> bool:
    """HQ's office (R-PERM-1): superusers and active holders of the head-office role — the one definition of HQ.

    It assigns branch permission admins and names HQ reviewers, acts for every branch (pre-assignment,
    branch-created relationships, core lists), runs the feeds and the nightly batch, and locks periods.
    HQ reviewers see everything (`permissions.scoping`) and act on HQ steps, but hold none of this authority.
    """
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return scope_for(user).hq_office  # read with the user's scope, once per request


BRANCH_ACTING_ROLES = (RoleKind.BRANCH, RoleKind.BRANCH_HEAD)


def may_act_for_branch(actor, branch_id: int | None) -> bool:
    """HQ's office acts for every branch, a branch user or head for his own. The system acts for every branch:
    its feeds are loaded and its batch is run by HQ's operators (a feed uploaded in the browser carries the
    uploading HQ user instead)."""
    if is_system(actor):
        return True
    allowed = acting_branch_ids(actor)
    return allowed is None or branch_id in allowed


def acting_branch_ids(user) -> set[int] | None:
    """The branches `user` acts for (a branch user or the branch head); None means every branch (HQ's office)."""
    if not getattr(user, "is_authenticated", False):
        return set()
    if is_hq_office(user):
        return None
    return set(Role.objects.filter(user=user, kind__in=BRANCH_ACTING_ROLES).values_list("organisation_id", flat=True))


def administered_branch_ids(user) -> set[int] | None:
    """Branches `user` administers in the admin site; None means every branch (HQ's office).

    Decided by django-guardian object permissions on the branch rows (R-PERM-1), not by model permissions.
    """
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return set()
    if hasattr(user, "_crm_admin_branches"):
        return user._crm_admin_branches
    if is_hq_office(user):
        result = None
    else:
        result = set(get_objects_for_user(user, ADMINISTER_BRANCH, Organisation.objects.filter(kind=OrgKind.BRANCH),
                                          accept_global_perms=False, with_superuser=False)
                     .values_list("id", flat=True))
    user._crm_admin_branches = result
    return result


def may_administer(user, branch_id: int | None) -> bool:
    branches = administered_branch_ids(user)
    return branches is None or (branch_id is not None and branch_id in branches)


def is_branch_head(user, branch_id: int) -> bool:
    return Role.objects.filter(user=user, kind=RoleKind.BRANCH_HEAD, organisation_id=branch_id).exists()


def may_decide(user, application: PermissionApplication) -> bool:
    """The branch head of the application's branch (or HQ's office), never the applicant or the user concerned."""
    if user.pk in (application.applicant_id, application.subject_id):
        return False
    return is_branch_head(user, application.branch_id) or is_hq_office(user)


def may_apply(user, application: PermissionApplication) -> bool:
    if user.pk == application.subject_id:
        return False
    return may_administer(user, application.branch_id)


def user_branch_ids(user) -> set[int]:
    """The branches a user belongs to: his staff record's outlet and the organisations of his roles."""
    ids = set(Role.objects.filter(user=user).exclude(organisation__branch_id=None)
              .values_list("organisation__branch_id", flat=True))
    ids |= set(Staff.objects.filter(user=user).values_list("outlet__branch_id", flat=True))
    return {i for i in ids if i is not None}


def users_of_branches(branch_ids):
    """Users belonging to the branches (staff at their outlets, or holding a role there)."""
    User = get_user_model()
    qs = people_only(User.objects.all())
    if branch_ids is None:
        return qs
    return qs.filter(Exists(Staff.objects.filter(user=OuterRef("pk"), outlet__branch_id__in=branch_ids))
                     | Exists(Role.objects.filter(user=OuterRef("pk"), organisation__branch_id__in=branch_ids)))


def acting_branches(user) -> list[Organisation]:
    """The branches `user` acts for, as rows in code order (HQ's office: every branch)."""
    ids = acting_branch_ids(user)
    qs = Organisation.objects.filter(kind=OrgKind.BRANCH).order_by("code")
    return list(qs if ids is None else qs.filter(pk__in=ids))


def belongs_elsewhere(user, organisation: Organisation) -> bool:
    """R-APR-10: `user` belongs to other organisations and not to `organisation`'s (his staff record's branch or his
    roles' branches; the head office by a role there). A user of no organisation yet is not refused here."""
    branches = user_branch_ids(user)
    at_hq = Role.objects.filter(user=user, organisation__kind=OrgKind.HQ).exists()
    if organisation.kind == OrgKind.HQ:
        return bool(branches) and not at_hq
    return (bool(branches) or at_hq) and organisation.branch_id not in branches
