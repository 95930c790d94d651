"""The append-only audit trail, written in the same transaction as the change it records."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from common.actors import actor_label, actor_user
from relationships.models import AuditEntry


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
    """Bulk variant for the batch: rows are (target_id, before, after)."""
    label = actor_label(actor)
    entries = [
        AuditEntry(actor=None, actor_label=label, action=action, target_model=model_label,
                   target_id=str(pk), before=before, after=after)
        for pk, before, after in rows
    ]
    AuditEntry.objects.bulk_create(entries, batch_size=5000)
    return len(entries)
