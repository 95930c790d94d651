"""Constraints that several models declare the same way."""
from __future__ import annotations

from django.db import models
from django.db.models import Q


def valid_choice(field: str, choices: type[models.TextChoices], *, name: str, blank: bool = False,
                 null: bool = False) -> models.CheckConstraint:
    """A CHECK that the column holds one of `choices` (and '' or NULL where the field allows them): a status
    written by raw SQL or a later code change cannot drift outside the state machine."""
    allowed = list(choices.values) + ([""] if blank else [])
    condition = Q(**{f"{field}__in": allowed})
    if null:
        condition |= Q(**{f"{field}__isnull": True})
    return models.CheckConstraint(condition=condition, name=name)
