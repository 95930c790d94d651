"""Permission administration (§3) and attach permission (§2): every write goes through these functions.

- R-PERM-1: HQ's office assigns the branch permission admin of a branch (`branch_admin_assign`); the
  branch is then his in the admin site (a django-guardian object permission on the branch row).
- R-PERM-2: a grant, adjustment or revocation of a branch user's role is an application: filed by the
  branch permission admin or the user (with his electronic sign-off), approved by the branch head,
  applied by the branch permission admin. Until applied nothing changes.
- R-PERM-3: every step writes one row of the append-only permission register (and the audit trail).
- R-ATT-1 / R-ATT-2 / R-ORG-4: attach permission is opened and closed, qualifications recorded and their
  validity changed, here only, with who, when and why in the same register.

The package's modules, lowest first: `register` (R-PERM-3), then `applications` (R-PERM-2), `branch_admins`
(R-PERM-1) and `staff_permissions` (R-ATT-1/2, R-ORG-4). Callers import from here.
"""
from permissions.services.applications import (
    APPLICABLE_KINDS,
    SIGNOFF_STATEMENT,
    application_apply,
    application_approve,
    application_file,
    application_reject,
    application_withdraw,
)
from permissions.services.branch_admins import BRANCH_ADMIN_PERMS, branch_admin_assign, branch_admin_remove
from permissions.services.register import (
    label_message,
    register_append,
    register_label,
    role_snapshot,
    role_text,
    what_message,
)
from permissions.services.staff_permissions import (
    StaffPermissions,
    attach_close,
    attach_open,
    qualification_record,
    qualification_set_validity,
    staff_permissions_sync,
)

__all__ = [
    "APPLICABLE_KINDS", "BRANCH_ADMIN_PERMS", "SIGNOFF_STATEMENT", "StaffPermissions", "application_apply",
    "application_approve", "application_file", "application_reject", "application_withdraw", "attach_close",
    "attach_open", "branch_admin_assign", "branch_admin_remove", "qualification_record", "qualification_set_validity",
    "label_message", "register_append", "register_label", "role_snapshot", "role_text", "what_message",
    "staff_permissions_sync",
]
