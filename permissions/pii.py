"""R-PII-1: who may see full ID and phone numbers, and the log of every unmasked view.

Pages show the masked values (`id_masked`, `phone_masked`) to everyone. Roles that need the full value
(branch users and the branch head for their branch, HQ) reveal it with an explicit POST action, which
writes one `PiiAccess` row (who, what, when) in the same transaction as the read.
"""
from __future__ import annotations

from functools import wraps

from django.db import transaction

from common.actors import actor_label
from permissions.models import RoleKind
from permissions.scoping import scope_for
from relationships.models import PiiAccess
from relationships.pii import decrypt

PII_ROLES = (RoleKind.BRANCH, RoleKind.BRANCH_HEAD, RoleKind.HQ, RoleKind.HQ_REVIEWER)


def needs_full_pii(user) -> bool:
    """Whether `user` holds a role that needs full ID and phone numbers (rows still scoped by R-PERM-4)."""
    if not getattr(user, "is_authenticated", False):
        return False
    cached = getattr(user, "_crm_needs_pii", None)
    if cached is None:
        # The roles the request's scope has already read (issue 18: no second query for them).
        cached = user.is_superuser or bool(scope_for(user).role_kinds & set(PII_ROLES))
        user._crm_needs_pii = cached
    return cached


def reveals_pii(view):
    """Marks a view that shows unmasked personal information (the access test suite reads the mark)."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        return view(*args, **kwargs)
    wrapper.reveals_pii = True  # type: ignore[attr-defined]
    return wrapper


def unmask(*, actor, purpose: str, detail: str, id_encrypted: str, phone_encrypted: str = "") -> dict:
    """Decrypt one ID number (and phone) and log the access."""
    with transaction.atomic():
        PiiAccess.objects.create(actor=actor, actor_label=actor_label(actor), purpose=purpose[:100],
                                 detail=detail[:200], rows=1)
        return {"id_number": decrypt(id_encrypted), "phone": decrypt(phone_encrypted) if phone_encrypted else ""}
