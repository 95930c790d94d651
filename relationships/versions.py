"""Ending a relationship version (R-BR-1, R-CB-1): the row stays, with its validity dates.

A relationship and its shares are effective [effective_from, effective_to) (R-PERF-3); ending sets
`effective_to` on the relationship and on every share still open, in one transaction with its audit
row. Who may end what is decided by the callers (the branch pages and services above this app).
"""
from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from relationships.audit import audit
from relationships.models import Relationship, RelationshipShare


def relationship_end(*, actor, relationship_id: int, on: dt.date, reason: str, action: str = "relationship.end"
                     ) -> tuple[Relationship, list[int]]:
    """End an active relationship on `on` (exclusive); returns it and the ids of the shares it ended."""
    with transaction.atomic():
        rel = Relationship.objects.select_for_update().select_related("type").get(pk=relationship_id)
        if rel.effective_to is not None:
            raise ValidationError(_("This relationship already ended on %(date)s.") % {"date": rel.effective_to},
                                  code="ended")
        if on < rel.effective_from:
            raise ValidationError(_("A relationship cannot end before it started (%(date)s).")
                                  % {"date": rel.effective_from}, code="before_start")
        share_ids = list(RelationshipShare.objects.select_for_update()
                         .filter(relationship=rel, effective_to__isnull=True).values_list("id", flat=True))
        RelationshipShare.objects.filter(pk__in=share_ids).update(effective_to=on)
        rel.effective_to = on
        rel.save(update_fields=["effective_to"])
        audit(actor=actor, action=action, target=rel, before={"effective_to": None},
              after={"effective_to": on.isoformat(), "reason": reason, "shares": share_ids})
    return rel, share_ids
