"""A disputed callback resolved by reassignment (R-CB-1, R-STAFF-1): the branch gives the relationship to the
right holders through the same reassignment case, for that one relationship; the callback is decided when the
case is approved (`relationships.reassignment.reassignment_apply`). Rejected, the dispute is still the branch's."""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from relationships.callbacks import disputed_callback_lock
from relationships.models import RelationshipShare, Staff
from reservations.reassign.services import Filed, reassignment_file


def callback_dispute_reassign(*, actor, callback_id: int, participants: Sequence[tuple[Staff, object]],
                              effective_from: dt.date, note: str) -> Filed:
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": [_("A note is required.")]})
    with transaction.atomic():
        cb = disputed_callback_lock(actor=actor, callback_id=callback_id)
        holder = (RelationshipShare.objects.filter(relationship_id=cb.relationship_id, effective_to__isnull=True)
                  .select_related("staff").order_by("-ratio", "id").first())
        if holder is None or cb.relationship.effective_to is not None:
            raise ValidationError(_("The relationship has no current holder to reassign from."))
        filed = reassignment_file(actor=actor, from_staff=holder.staff, relationships=[cb.relationship],
                                  participants=participants, effective_from=effective_from, note=note,
                                  source="dispute", callback=cb)
        if filed.reassignment is None:
            raise ValidationError({"participants": list(filed.refused.values())})
    return filed
