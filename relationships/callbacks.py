"""Callbacks (回访, R-CB-1): every new relationship gets one for its outlet; the result is recorded;
a disputed relationship goes back to the branch, which keeps or ends it.

The nightly stage `callbacks_create_for_date` inserts, in one statement, a callback for every relationship that
has none yet — so relationships from the matching, the secondary matching and the approval path are
all covered, and a re-run inserts nothing (the one-to-one key). The pages find the callback through
`permissions.scoping.visible_callbacks`; who may record or decide, and the rules about the callback
itself, are here.
"""
from __future__ import annotations

import datetime as dt

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from common.actors import BATCH
from permissions.authority import may_act_for_branch
from relationships.audit import audit, audit_many
from relationships.models import Callback, CallbackStatus, DisputeResolution, RelationshipShare
from relationships.versions import relationship_end
from relationships.workdays import nth_workday_after

CALLBACK_DUE_WORKDAYS = 5


def callbacks_create_for_date(*, business_date: dt.date) -> int:
    """The nightly stage: one callback per relationship without one, due 5 working days after the run."""
    due = nth_workday_after(business_date, CALLBACK_DUE_WORKDAYS)
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("""
            INSERT INTO relationships_callback (relationship_id, outlet_id, created_on, due_on, status, reason,
                                                resolution, resolution_note)
            SELECT r.id, r.outlet_id, %s, %s, 'pending', '', '', ''
            FROM relationships_relationship r
            WHERE (r.effective_to IS NULL OR r.effective_to > %s)
              AND NOT EXISTS (SELECT 1 FROM relationships_callback c WHERE c.relationship_id = r.id)
            ORDER BY r.id
            ON CONFLICT (relationship_id) DO NOTHING
            RETURNING id, relationship_id""", [business_date, due, business_date])
        rows = cur.fetchall()
        audit_many(actor=BATCH, action="callback.create", model_label="relationships.callback",
                   rows=[(pk, None, {"relationship": rel_id, "due_on": due.isoformat()}) for pk, rel_id in rows])
    return len(rows)


def _holder_user_ids(relationship_id: int) -> set[int]:
    return set(RelationshipShare.objects.filter(relationship_id=relationship_id, staff__user__isnull=False)
               .values_list("staff__user_id", flat=True))


def callback_record(*, actor, callback_id: int, confirmed: bool, reason: str = "") -> Callback:
    """The outlet records the customer's answer: confirmed, or disputed with a reason (R-CB-1)."""
    reason = (reason or "").strip()
    if not confirmed and not reason:
        raise ValidationError({"reason": [_("Give the reason the customer disputes the relationship.")]})
    with transaction.atomic():
        cb = Callback.objects.select_for_update().get(pk=callback_id)
        if cb.status != CallbackStatus.PENDING:
            raise ValidationError(_("The result of this callback has already been recorded."), code="recorded")
        if actor.pk in _holder_user_ids(cb.relationship_id):
            raise PermissionDenied(_("A holder of the relationship may not record its callback."))
        cb.status = CallbackStatus.CONFIRMED if confirmed else CallbackStatus.DISPUTED
        cb.reason, cb.recorded_by, cb.recorded_at = reason, actor, timezone.now()
        cb.save(update_fields=["status", "reason", "recorded_by", "recorded_at"])
        audit(actor=actor, action="callback.record", target=cb, before={"status": "pending"},
              after={"status": cb.status, "reason": reason})
    return cb


def may_resolve_dispute(user, callback: Callback) -> bool:
    """A disputed relationship goes back to the branch of the callback's outlet (or to HQ's office)."""
    return (callback.status == CallbackStatus.DISPUTED and not callback.resolution and callback.outlet is not None
            and may_act_for_branch(user, callback.outlet.branch_id))


def disputed_callback_lock(*, actor, callback_id: int) -> Callback:
    """The disputed callback `actor`'s branch is to decide, locked for the decision (inside the caller's
    transaction); refused when it no longer waits for the branch or is not his branch's."""
    cb = Callback.objects.select_for_update(of=("self",)).select_related("relationship", "outlet").get(
        pk=callback_id)
    if cb.status != CallbackStatus.DISPUTED or cb.resolution:
        raise ValidationError(_("This callback is not waiting for the branch."), code="not_disputed")
    if not may_resolve_dispute(actor, cb):
        raise PermissionDenied(_("Only the branch decides a disputed relationship."))
    return cb


def callback_dispute_resolve(*, actor, callback_id: int, decision: str, note: str = "",
                             end_on: dt.date | None = None) -> Callback:
    """The branch decides a disputed relationship: keep it, or end it (the version keeps its dates)."""
    note = (note or "").strip()
    if decision not in (DisputeResolution.KEPT, DisputeResolution.ENDED):  # reassigned: through its case
        raise ValidationError(_("Choose whether to keep or end the relationship."))
    if not note:
        raise ValidationError({"note": [_("A note is required.")]})
    with transaction.atomic():
        cb = disputed_callback_lock(actor=actor, callback_id=callback_id)
        if decision == DisputeResolution.ENDED:
            relationship_end(actor=actor, relationship_id=cb.relationship_id, on=end_on or timezone.localdate(),
                             reason=_("Disputed at the callback: %(note)s") % {"note": note},
                             action="relationship.end_disputed")
        cb.resolution, cb.resolution_note = decision, note
        cb.resolved_by, cb.resolved_at = actor, timezone.now()
        cb.save(update_fields=["resolution", "resolution_note", "resolved_by", "resolved_at"])
        audit(actor=actor, action="callback.resolve", target=cb, before={"status": "disputed"},
              after={"resolution": decision, "note": note})
    return cb
