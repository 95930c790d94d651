"""The relationship-type rows as the rules read them (R-TYPE-1, R-TYPE-2): no type code outside the seeding
migrations. Each lookup is one query on the small type table."""
from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext as _

from relationships.models import RelationshipType, StaffKind


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
