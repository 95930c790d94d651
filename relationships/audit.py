"""The append-only audit trail, written in the same transaction as the change it records."""
from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from django.db import connection

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
