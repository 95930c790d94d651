"""The append-only audit trail, written in the same transaction as the change it records."""
from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist
from django.db import connection, models
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from common import wording
from common.actors import actor_label, actor_user
from relationships.models import AuditEntry

_AUDIT_MANY_SQL = """
INSERT INTO relationships_auditentry (at, actor_label, action, target_model, target_id, before, after)
SELECT statement_timestamp(), %s, %s, %s, x.target_id, x.before, x.after
FROM ROWS FROM (jsonb_to_recordset(%s::jsonb) AS (target_id text, before jsonb, after jsonb))
     WITH ORDINALITY AS x(target_id, before, after, n)
ORDER BY x.n
"""


def audit(*, actor, action: str, target, before: dict | None = None, after: dict | None = None) -> AuditEntry:
    return AuditEntry.objects.create(
        actor=actor_user(actor),
        actor_label=actor_label(actor),
        action=action,
        target_model=target._meta.label_lower if hasattr(target, "_meta") else str(target[0]),
        target_id=str(target.pk if hasattr(target, "_meta") else target[1]),
        before=before,
        after=after,
    )


def audit_many(*, actor, action: str, model_label: str, rows: Iterable[tuple[Any, dict | None, dict | None]]) -> int:
    """Bulk variant for the batch: rows are (target_id, before, after), written in their order by one INSERT from
    one JSON document — no model object per row (at a night's volume their preparation cost more than the write).
    The rows are what `AuditEntry.objects.bulk_create` wrote: no user (the batch's label says who), before/after
    as the JSONField would encode them, the time of the statement."""
    doc = [{"target_id": str(pk), "before": before, "after": after} for pk, before, after in rows]
    if not doc:
        return 0
    with connection.cursor() as cur:
        cur.execute(_AUDIT_MANY_SQL, [actor_label(actor), action, model_label, json.dumps(doc)])
    return len(doc)


# --- the trail in words (issue 19) ---------------------------------------------------------------------------
# An action key names what happened ("relationship.create"); a reader sees it in his language. One label per key
# every writer uses (tests/integration/relationships/test_audit_words.py reads the code for the keys it writes);
# a key of an old row no writer uses any more reads as a generic wording, never as the key.
ACTION_LABELS: dict[str, Promise] = {
    "account_event.rematch": _("account event matched again"),
    "account_event.set_aside": _("account event set aside"),
    "approval_case.documents": _("case documents updated"),
    "approval_case.join": _("joined to an open case"),
    "approval_case.open": _("approval case opened"),
    "approval_post.assign": _("post assigned"),
    "approval_post.end": _("post assignment ended"),
    "branch_request.create": _("branch relationship request filed"),
    "branch_request.decided": _("branch relationship request decided"),
    "branch_request.end": _("relationship ended by the branch"),
    "calendar_day.delete": _("calendar day deleted"),
    "calendar_day.load": _("calendar days loaded"),
    "calendar_day.save": _("calendar day saved"),
    "calendar_year.delete": _("calendar year deleted"),
    "calendar_year.load": _("calendar years loaded"),
    "calendar_year.save": _("calendar year saved"),
    "callback.create": _("callback created"),
    "callback.record": _("callback recorded"),
    "callback.resolve": _("disputed callback resolved"),
    "chain.activate": _("approval chain version activated"),
    "chain.add": _("approval chain added"),
    "chain.change": _("approval chain changed"),
    "chain.new_version": _("approval chain version created"),
    "core_line.decided": _("core list line decided"),
    "core_list.remove": _("removed from the core list"),
    "core_list.submit": _("core list submitted"),
    "customer_class.create": _("customer classified"),
    "customer_class.end": _("customer classification ended"),
    "notification.preference": _("notification preference changed"),
    "organisation.load": _("organisations loaded"),
    "performance.adjust": _("performance adjusted"),
    "performance.period_lock": _("period locked"),
    "performance.period_relock": _("period locked again"),
    "performance.period_reopen": _("period reopened"),
    "permission.adjusted": _("adjustment applied"),
    "permission.application_approve": _("application approved"),
    "permission.application_file": _("application filed"),
    "permission.application_reject": _("application rejected"),
    "permission.application_withdraw": _("application withdrawn"),
    "permission.branch_admin_assign": _("branch permission admin assigned"),
    "permission.branch_admin_remove": _("branch permission admin removed"),
    "permission.directory_grant": _("role granted by the directory"),
    "permission.directory_revoke": _("role withdrawn by the directory"),
    "permission.granted": _("grant applied"),
    "permission.revoked": _("revocation applied"),
    "pii.rotate": _("personal information encrypted with the new key"),
    "preassignment.create": _("pre-assignment created"),
    "preassignment.end": _("pre-assignment ended"),
    "preassignment.lapse": _("pre-assignment lapsed"),
    "preassignment.outcome": _("pre-assignment decided by the nightly matching"),
    "reassignment.approved": _("reassignment approved"),
    "reassignment.decided": _("reassignment decided"),
    "reassignment.file": _("reassignment filed"),
    "relationship.create": _("relationship created"),
    "relationship.end": _("relationship ended"),
    "relationship.end_disputed": _("relationship ended after a disputed callback"),
    "relationship.reassign": _("relationship reassigned"),
    "relationship.replace": _("relationship replaced"),
    "relationship_type.add": _("relationship type added"),
    "relationship_type.change": _("relationship type changed"),
    "reminder.escalate": _("reminder escalated"),
    "reminder.remind": _("reminder sent"),
    "reservation.case_decided": _("approval case decided"),
    "reservation.correct": _("customer name corrected"),
    "reservation.expire": _("reservation expired"),
    "reservation.match_outcome": _("reservation decided by the nightly matching"),
    "reservation.register": _("reservation registered"),
    "reservation.special_new": _("special-new application registered"),
    "reservation.withdraw": _("reservation withdrawn"),
    "signin.failure": _("sign-in failed"),
    "signin.lockout": _("sign-in locked"),
    "signin.otp_device_reset": _("second-factor device reset"),
    "signin.otp_enrolled": _("second-factor device enrolled"),
    "signin.otp_failure": _("second-factor code refused"),
    "signin.otp_success": _("second-factor code accepted"),
    "signin.refused_locked": _("sign-in refused while locked"),
    "signin.success": _("signed in"),
    "signin.unlock": _("sign-in lockout lifted"),
    "staff.attach_close": _("attach permission closed"),
    "staff.attach_open": _("attach permission opened"),
    "staff.leave": _("staff member left"),
    "staff.load": _("staff loaded"),
    "staff.move": _("staff member moved to another outlet"),
    "staff.outlet": _("staff member's outlet changed"),
    "staff.qualification_record": _("qualification recorded"),
    "staff.qualification_validity": _("qualification validity changed"),
    "staff.user_link": _("staff member linked to a user"),
}

# The names of the before/after keys that are not a field of the row audited (a field reads by its verbose name).
KEY_LABELS: dict[str, Promise] = {
    "accepted": _("accepted"),
    "action": _("action"),
    "active_versions": _("active versions"),
    "adjustments_reversed": _("adjustments reversed"),
    "assigned_at": _("assigned at"),
    "attach_open": _("attach permission open"),
    "backend": _("sign-in method"),
    "belongs_to": _("belongs to"),
    "branch": _("branch"),
    "business_date": _("business date"),
    "calendar_unknown": _("calendar unknown"),
    "case": _("approval case"),
    "class": _("customer class"),
    "code": _("code"),
    "customer": _("customer"),
    "customer_name": _("customer name"),
    "delegate_for": _("delegate for"),
    "delegations_ended": _("delegations ended"),
    "device": _("device"),
    "digest_only": _("digest only"),
    "due_on": _("due on"),
    "effective_from": _("effective from"),
    "effective_to": _("effective to"),
    "ended_on": _("ended on"),
    "error": _("error"),
    "escalated_to": _("escalated to"),
    "event": _("account event"),
    "failures": _("failures"),
    "file": _("file"),
    "from": _("from"),
    "from_staff": _("from staff member"),
    "from_version": _("from version"),
    "group": _("directory group"),
    "id": _("id"),
    "id_numbers": _("ID numbers"),
    "key_version": _("key version"),
    "kind": _("kind"),
    "locked_until": _("locked until"),
    "match_state": _("match state"),
    "name": _("name"),
    "note": _("note"),
    "old": _("previous"),
    "on": _("on date"),
    "opening_date": _("opening date"),
    "opening_outlet": _("opening outlet"),
    "organisation": _("organisation"),
    "outlet": _("outlet"),
    "participants": _("participants"),
    "post": _("post"),
    "posted_in": _("posted in"),
    "ratio": _("ratio"),
    "reason": _("reason"),
    "reassignment": _("reassignment"),
    "recovery_codes": _("recovery codes"),
    "refused": _("refused"),
    "registered_at": _("registered at"),
    "relationship": _("relationship"),
    "relationships": _("relationships"),
    "reservation": _("reservation"),
    "resolution": _("resolution"),
    "role_kind": _("role"),
    "rows": _("rows"),
    "second_factor": _("second factor"),
    "shares": _("holders and ratios"),
    "since": _("since"),
    "source": _("source"),
    "staff": _("staff member"),
    "staff_id": _("staff member"),
    "staff_no": _("staff number"),
    "status": _("status"),
    "step": _("step"),
    "subject": _("user concerned"),
    "type": _("relationship type"),
    "user": _("user"),
    "valid_from": _("valid from"),
    "valid_to": _("valid to"),
    "valid_until": _("valid until"),
    "version": _("version"),
    "year": _("year"),
}


def action_words(action: str) -> str:
    """What happened, in the reader's language; an action no writer uses any more in a generic wording."""
    label = ACTION_LABELS.get(action)
    return str(label) if label is not None else str(_("other change"))


def _model(label: str) -> type[models.Model] | None:
    """The model an entry's label names, through the content types (cached per process), None when gone."""
    app_label, _dot, model_name = label.partition(".")
    try:
        return ContentType.objects.get_by_natural_key(app_label, model_name.lower()).model_class()
    except ContentType.DoesNotExist:
        return None


def entity_words(target_model: str) -> str:
    """The kind of row audited by its model's verbose name ("relationships.callback" reads 回访)."""
    model = _model(target_model)
    return str(model._meta.verbose_name) if model is not None else str(_("other record"))


def _field(model: type[models.Model] | None, key: str) -> models.Field | None:
    if model is None:
        return None
    for name in (key, key.removesuffix("_id")):
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:
            continue
        if isinstance(field, models.Field):
            return field
    return None


def _value_words(value: Any, field: models.Field | None) -> str:
    if isinstance(value, dict) and ("msg" in value or "join" in value):
        return wording.render_value(value)  # a note stored as a message (common.wording), in the reader's words
    if isinstance(value, dict):
        return "; ".join(f"{_key_words(None, k)}: {_value_words(v, None)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_value_words(v, field) for v in value)
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(_("yes") if value else _("no"))
    if field is not None and field.choices:
        return str(dict(field.flatchoices).get(value, value))
    return str(value)


def _key_words(model: type[models.Model] | None, key: str) -> str:
    field = _field(model, key)
    if field is not None:
        return str(field.verbose_name)
    label = KEY_LABELS.get(key)
    return str(label) if label is not None else key


def change_words(target_model: str, values: Any) -> list[tuple[str, str]]:
    """A before/after document as (name, value) pairs: a field by its verbose name, a choice by its label."""
    if not isinstance(values, dict):
        return [] if values in (None, "") else [("", _value_words(values, None))]
    model = _model(target_model)
    return [(_key_words(model, k), _value_words(v, _field(model, k))) for k, v in values.items()]
