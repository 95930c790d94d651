"""R-SEC-AUTH-2: the directory's user at each directory sign-in: his staff row and the roles his groups grant."""
from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext_noop

from common.wording import Message
from permissions.models import RegisterEvent, Role, RoleKind, RoleSource
from permissions.services import register_append, role_text
from relationships.audit import audit
from relationships.models import Organisation, OrgKind, Staff

logger = logging.getLogger(__name__)

DIRECTORY_ACTOR = "directory"

HQ_KINDS = {RoleKind.HQ, RoleKind.HQ_REVIEWER}
BRANCH_KINDS = {RoleKind.BRANCH, RoleKind.BRANCH_HEAD}
OUTLET_KINDS = {RoleKind.OUTLET_HEAD, RoleKind.OUTLET_STAFF}
_ORG_KIND = {**{k: OrgKind.HQ for k in HQ_KINDS}, **{k: OrgKind.BRANCH for k in BRANCH_KINDS},
             **{k: OrgKind.OUTLET for k in OUTLET_KINDS}}


def _directory_role_org(kind: str, code: str | None, staff: Staff | None) -> Organisation | None:
    if code:
        org = Organisation.objects.filter(code=code).first()
    elif kind in HQ_KINDS:
        org = Organisation.objects.filter(kind=OrgKind.HQ).order_by("pk").first()
    elif staff is None:
        org = None
    elif kind in BRANCH_KINDS:
        org = staff.outlet.branch
    else:
        org = staff.outlet
    if org is not None and org.kind != _ORG_KIND[RoleKind(kind)]:
        logger.warning("directory role %s cannot be held at %s (%s)", kind, org.code, org.kind)
        return None
    return org


def directory_user_sync(*, user, staff_no: str, group_dns: set[str]) -> None:
    """At each directory sign-in: link the user to his staff row (uid = staff number) and make the roles granted
    by directory groups (LDAP_GROUP_ROLES) what his groups say now. Roles from applications are left alone; a
    directory grant or withdrawal is a register row recorded by "directory"."""
    mapping: dict = getattr(settings, "LDAP_GROUP_ROLES", {}) or {}
    member_of = {dn.lower() for dn in group_dns}
    with transaction.atomic():
        staff = (Staff.objects.select_for_update(of=("self",)).select_related("outlet__branch")
                 .filter(staff_no__iexact=staff_no).first())
        if staff is not None and staff.user_id != user.pk:
            if staff.user_id is None and not Staff.objects.filter(user=user).exists():
                staff.user = user
                staff.save(update_fields=["user"])
                audit(actor=DIRECTORY_ACTOR, action="staff.user_link", target=staff,
                      after={"user": user.get_username()})
            else:
                logger.warning("staff %s is linked to another user; directory user %s left unlinked",
                               staff.staff_no, user.get_username())
        elif staff is None:
            staff = Staff.objects.select_related("outlet__branch").filter(user=user).first()
        wanted: dict[tuple[str, int], tuple[Organisation, str]] = {}
        for dn, (kind, code) in mapping.items():
            if dn in member_of:
                org = _directory_role_org(kind, code, staff)
                if org is not None:
                    wanted[(kind, org.pk)] = (org, dn)
        held = {(r.kind, r.organisation_id): r for r in
                Role.objects.select_for_update(of=("self",)).select_related("organisation").filter(user=user)}
        for (kind, org_id), (org, dn) in wanted.items():
            if (kind, org_id) in held:
                continue  # held already (by application or directory)
            role = Role.objects.create(user=user, kind=kind, organisation=org, source=RoleSource.DIRECTORY)
            register_append(event=RegisterEvent.DIRECTORY_GRANTED, actor=DIRECTORY_ACTOR, branch=org.branch_id,
                      subject_user=user, what=Message(gettext_noop("grant %(role)s"), {"role": role_text(kind, org)}),
                      detail={"source": "directory", "group": dn, "after": {"role_id": role.pk, "kind": kind,
                                                                            "organisation_code": org.code}})
            audit(actor=DIRECTORY_ACTOR, action="permission.directory_grant", target=role,
                  after={"kind": kind, "organisation": org.code, "group": dn})
        for (kind, org_id), role in held.items():
            if role.source == RoleSource.DIRECTORY and (kind, org_id) not in wanted:
                org = role.organisation
                before = {"role_id": role.pk, "kind": kind, "organisation_code": org.code}
                role.delete()
                register_append(event=RegisterEvent.DIRECTORY_REVOKED, actor=DIRECTORY_ACTOR, branch=org.branch_id,
                          subject_user=user,
                          what=Message(gettext_noop("revoke %(role)s"), {"role": role_text(kind, org)}),
                          detail={"source": "directory", "before": before})
                audit(actor=DIRECTORY_ACTOR, action="permission.directory_revoke",
                      target=("permissions.role", before["role_id"]), before=before)
