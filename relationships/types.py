"""The relationship-type rows as the rules read them (R-TYPE-1, R-TYPE-2): no type code outside the seeding
migrations. Each lookup is one query on the small type table."""
from __future__ import annotations

import time

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext as _

from relationships.models import RelationshipType, StaffKind

# Issue 18: the list pages' type filters show these rows on every request. A process keeps them this many seconds;
# a change saved in the process is seen at once (`forget_type_rows`, on every save and delete of a type), one saved
# in another worker within this time. A submitted choice is always checked in the database.
TYPE_ROWS_SECONDS = 60.0
_type_rows: tuple[float, list[RelationshipType]] | None = None


def type_rows() -> list[RelationshipType]:
    """Every relationship type in its order (R-TYPE-1's rows), read at most once a minute per process."""
    global _type_rows
    now = time.monotonic()
    if _type_rows is None or now - _type_rows[0] > TYPE_ROWS_SECONDS:
        _type_rows = (now, list(RelationshipType.objects.order_by("sort_order", "code")))
    return _type_rows[1]


def forget_type_rows(**_kwargs) -> None:
    """`post_save` / `post_delete` receiver of RelationshipType: the next page reads the rows again."""
    global _type_rows
    _type_rows = None


def type_created_by(creation: str) -> RelationshipType:
    """The type a path creates (`secondary`: the secondary matching; `core_list`: core lists): the first by order."""
    rel_type = RelationshipType.objects.filter(creation=creation).order_by("sort_order", "code").first()
    if rel_type is None:
        raise ImproperlyConfigured(_("No relationship type is created by “%(creation)s”.") % {"creation": creation})
    return rel_type


def secondary_type() -> RelationshipType:
    return type_created_by("secondary")


def core_type() -> RelationshipType:
    return type_created_by("core_list")


def development_type_codes() -> list[str]:
    """R-CORE-1: the types whose holding makes a customer no natural new customer."""
    return list(RelationshipType.objects.filter(is_development=True).values_list("code", flat=True))


def special_new_type_code(staff_kind: str) -> str:
    """R-SEC-5: the type a special-new application of a staff member of this kind creates."""
    code = (RelationshipType.objects.filter(special_new_for__contains=[staff_kind]).order_by("sort_order", "code")
            .values_list("code", flat=True).first())
    if code is None:
        raise ImproperlyConfigured(_("No relationship type takes special-new applications of %(kind)s.")
                                   % {"kind": StaffKind(staff_kind).label})
    return code
