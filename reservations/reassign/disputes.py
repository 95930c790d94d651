"""A disputed callback decided by the branch (R-CB-1, R-STAFF-1, R-PERF-5).

- Resolved by reassignment: the branch gives the relationship to the right holders through the same reassignment
  case, for that one relationship; the callback is decided when the case is approved
  (`relationships.reassignment.reassignment_apply`). Rejected, the dispute is still the branch's.
- Kept or ended (`callback_dispute_decide`): `relationships.callbacks.callback_dispute_resolve`, with an end
  reaching back into a locked month posted as adjustments into the first open one (`performance.adjustments`).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from performance.adjustments import adjustments_posted
from performance.models import AdjustmentSource
from relationships.callbacks import callback_dispute_resolve, disputed_callback_lock
from relationships.models import Callback, DisputeResolution, RelationshipShare, Staff
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


_CALLBACK_CUSTOMER = """
    SELECT r.customer_id FROM relationships_callback c JOIN relationships_relationship r ON r.id = c.relationship_id
    WHERE c.id = %(cb)s"""


def callback_dispute_decide(*, actor, callback_id: int, decision: str, note: str = "",
                            end_on: dt.date | None = None) -> Callback:
    """The branch keeps or ends a disputed relationship; an end effective in a locked month posts the difference as
    adjustments (R-PERF-5) in the same transaction."""
    if decision != DisputeResolution.ENDED:
        return callback_dispute_resolve(actor=actor, callback_id=callback_id, decision=decision, note=note,
                                        end_on=end_on)
    end_on = end_on or timezone.localdate()
    relationship_id = Callback.objects.values_list("relationship_id", flat=True).get(pk=callback_id)
    with adjustments_posted(actor=actor, source=AdjustmentSource.DISPUTE, effective_from=end_on,
                            customers_sql=_CALLBACK_CUSTOMER, params={"cb": callback_id},
                            relationship_id=relationship_id):
        return callback_dispute_resolve(actor=actor, callback_id=callback_id, decision=decision, note=note,
                                        end_on=end_on)
