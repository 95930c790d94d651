"""Reads of this app's data that several apps need (the scoped reads are `permissions.scoping`'s)."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from django.core.exceptions import PermissionDenied
from django.db import connection
from django.utils.translation import gettext as _

from relationships.models import Staff


def current_staff(user) -> Staff | None:
    """The signed-in user's staff record, or None (a reverse one-to-one raises AttributeError when absent)."""
    return getattr(user, "staff", None) if getattr(user, "is_authenticated", False) else None


def require_staff(user) -> Staff:
    """The signed-in user's staff record; the pages only marketing staff use refuse everyone else."""
    staff = current_staff(user)
    if staff is None:
        raise PermissionDenied(_("Only marketing staff can do this."))
    return staff


def customer_branch_ids(customer_ids: Sequence[int]) -> dict[int, set[int]]:
    """A customer belongs to the branch of his classification's outlet and of every outlet he has an account at."""
    result: dict[int, set[int]] = defaultdict(set)
    if not customer_ids:
        return result
    with connection.cursor() as cur:
        cur.execute("""
            SELECT c.customer_id, o.branch_id FROM relationships_customerclass c
            JOIN relationships_organisation o ON o.id = c.outlet_id
            WHERE c.customer_id = ANY(%s) AND c.ended_on IS NULL
            UNION
            SELECT a.customer_id, o.branch_id FROM relationships_account a
            JOIN relationships_organisation o ON o.id = a.outlet_id
            WHERE a.customer_id = ANY(%s)""", [list(customer_ids), list(customer_ids)])
        for customer_id, branch_id in cur.fetchall():
            if branch_id is not None:
                result[customer_id].add(branch_id)
    return result
