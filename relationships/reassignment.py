"""Reassignment (R-STAFF-1): which relationships may go to which new holders, and the approved batch's writes.

The filing (one approval case for the batch) is `reservations.reassign`'s, above the approval engine; this module
holds what needs only this app's tables:
- `awaiting_reassignment(relationships)`: a leaver's relationships, still active (R-ATT-2: they stay until the
  branch reassigns them);
- `reassignable(...)`: a staff member's active relationships, filtered by type, customer class and outlet;
- `lines_refusals(...)`: every line checked before filing (R-RES-4, R-ATT-1), a message per refused line;
- `reassignment_apply(...)`: on approval, in the deciding transaction and in a constant number of set-based
  statements whatever the number of relationships: each relationship's version and its shares end on the
  effective date (exclusive) and a new version starts that day with the new holders (every version keeps its
  dates, as `relationships.versions`), a callback for each new version (R-CB-1), and the audit rows.
"""
from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from common.actors import actor_label, actor_user
from relationships.audit import audit
from relationships.models import (
    Callback,
    CustomerClass,
    DisputeResolution,
    Reassignment,
    ReassignmentLine,
    ReassignmentLineStatus,
    ReassignmentStatus,
    Relationship,
    RelationshipShare,
    RelationshipType,
    Staff,
)
from relationships.services import Share, attach_refusals, validate_shares
from relationships.workdays import nth_workday_after

CALLBACK_DUE_WORKDAYS = 5  # as the nightly callbacks (relationships.callbacks)


def _held_by(staff_filter) -> Exists:
    return Exists(RelationshipShare.objects.filter(relationship_id=OuterRef("pk"), effective_to__isnull=True)
                  .filter(**staff_filter))


def awaiting_reassignment(relationships: QuerySet) -> QuerySet:
    """R-STAFF-1: active relationships (of a scoped queryset) with an open share of a staff member who has left or
    has a leaving date, and not already waiting in a reassignment."""
    pending = ReassignmentLine.objects.filter(relationship_id=OuterRef("pk"), status=ReassignmentLineStatus.PENDING)
    return (relationships.filter(effective_to__isnull=True)
            .filter(_held_by({"staff__left_on__isnull": False})).exclude(Exists(pending)))


def reassignable(relationships: QuerySet, *, from_staff: Staff, type_codes: Sequence[str] = (),
                 class_kinds: Sequence[str] = (), outlet_ids: Sequence[int] = ()) -> QuerySet:
    """The active relationships of `relationships` (already scoped) that `from_staff` holds a share of, filtered by
    relationship type, the customer's current class (lost / dormant / silent) and the relationship's outlet."""
    qs = relationships.filter(effective_to__isnull=True).filter(_held_by({"staff_id": from_staff.pk}))
    if type_codes:
        qs = qs.filter(type_id__in=list(type_codes))
    if class_kinds:
        qs = qs.filter(Exists(CustomerClass.objects.filter(customer_id=OuterRef("customer_id"), ended_on__isnull=True,
                                                           kind__in=list(class_kinds))))
    if outlet_ids:
        qs = qs.filter(outlet_id__in=list(outlet_ids))
    return qs


def lines_refusals(rels: Sequence[Relationship], *, from_staff: Staff, shares: Sequence[Share], on: dt.date,
                   own_reassignment_id: int | None = None) -> dict[int, str]:
    """Why each refused relationship (by id) cannot go to `shares` on `on`; a fixed number of queries (one per
    relationship type for the qualifications, one for the waiting reassignments, one for the shares)."""
    refused: dict[int, str] = {}
    by_type: dict[str, list[Relationship]] = defaultdict(list)
    for rel in rels:
        by_type[rel.type_id].append(rel)
    types = RelationshipType.objects.in_bulk(list(by_type))
    staff = [s.staff for s in shares]
    for code, group in by_type.items():
        rel_type = types[code]
        try:
            validate_shares(rel_type, shares)
            problems = [p for p in attach_refusals(staff, rel_type, on).values() if p]
        except ValidationError as exc:
            problems = list(exc.messages)
        if problems:
            for rel in group:
                refused[rel.pk] = " ".join(problems)
    ids = [rel.pk for rel in rels]
    waiting = set(ReassignmentLine.objects.filter(relationship_id__in=ids, status=ReassignmentLineStatus.PENDING)
                  .exclude(reassignment_id=own_reassignment_id or 0).values_list("relationship_id", flat=True))
    held = set(RelationshipShare.objects.filter(relationship_id__in=ids, staff=from_staff, effective_to__isnull=True)
               .values_list("relationship_id", flat=True))
    late_start = dict(RelationshipShare.objects.filter(relationship_id__in=ids, effective_to__isnull=True,
                                                       effective_from__gt=on)
                      .values_list("relationship_id", "effective_from"))
    for rel in rels:
        if rel.pk in refused:
            continue
        if rel.effective_to is not None:
            refused[rel.pk] = _("The relationship ended on %(date)s.") % {"date": rel.effective_to.isoformat()}
        elif rel.pk not in held:
            refused[rel.pk] = _("%(staff)s holds no share of this relationship.") % {"staff": from_staff}
        elif rel.pk in waiting:
            refused[rel.pk] = _("This relationship is already waiting in another reassignment.")
        elif on < rel.effective_from or rel.pk in late_start:
            refused[rel.pk] = _("The reassignment cannot take effect before the current holders' start (%(date)s)."
                                ) % {"date": max(rel.effective_from, late_start.get(rel.pk, rel.effective_from))}
    return refused


def _shares_of(rows: Iterable[dict]) -> list[Share]:
    rows = list(rows)
    staff = Staff.objects.in_bulk([int(r["staff_id"]) for r in rows])
    return [Share(staff[int(r["staff_id"])], Decimal(str(r["ratio"]))) for r in rows]


def reassignment_apply(*, actor, reassignment_id: int, shares: Sequence[dict]) -> int:
    """Carry out an approved reassignment with the case's final holders (`shares`, as the case stores them).

    Runs inside the deciding transaction; every line is re-checked first (a relationship ended meanwhile, a
    holder no longer eligible): any refusal refuses the approval and nothing is written. Returns the number of
    relationships reassigned."""
    ra = Reassignment.objects.select_for_update().select_related("from_staff").get(pk=reassignment_id)
    if ra.status != ReassignmentStatus.PENDING:
        raise ValidationError(_("This reassignment has already been decided."), code="decided")
    on = ra.effective_from
    line_ids = ReassignmentLine.objects.filter(reassignment=ra, status=ReassignmentLineStatus.PENDING)
    # Lock the relationships in id order (the fixed order of every writer), then re-check them.
    rels = list(Relationship.objects.select_for_update().filter(pk__in=line_ids.values("relationship_id"))
                .order_by("pk"))
    new_shares = _shares_of(shares)
    refused = lines_refusals(rels, from_staff=ra.from_staff, shares=new_shares, on=on, own_reassignment_id=ra.pk)
    if refused:
        raise ValidationError([_("Relationship #%(id)s: %(reason)s") % {"id": k, "reason": v}
                               for k, v in sorted(refused.items())][:20], code="refused")
    today = timezone.localdate()
    params = {"ra": ra.pk, "on": on, "today": today, "due": nth_workday_after(today, CALLBACK_DUE_WORKDAYS),
              "staff": [s.staff.pk for s in new_shares], "ratios": [s.ratio for s in new_shares],
              "shares": json.dumps(list(shares)), "actor": getattr(actor_user(actor), "pk", None),
              "label": actor_label(actor)}
    lines = "SELECT relationship_id FROM relationships_reassignmentline WHERE reassignment_id = %(ra)s " \
            "AND status = 'pending'"
    with connection.cursor() as cur:
        cur.execute(f"""
            UPDATE relationships_relationshipshare SET effective_to = %(on)s
            WHERE relationship_id IN ({lines}) AND effective_to IS NULL""", params)
        cur.execute(f"""
            UPDATE relationships_relationship SET effective_to = %(on)s WHERE id IN ({lines})""", params)
        cur.execute(f"""
            WITH ins AS (
                INSERT INTO relationships_relationship (customer_id, type_id, effective_from, effective_to, source,
                                                        origin_event_id, outlet_id, created_at)
                SELECT r.customer_id, r.type_id, %(on)s, NULL, 'reassignment', r.origin_event_id, r.outlet_id, now()
                FROM relationships_relationship r WHERE r.id IN ({lines}) ORDER BY r.id
                RETURNING id, customer_id, type_id)
            UPDATE relationships_reassignmentline l SET new_relationship_id = ins.id, status = 'applied'
            FROM ins, relationships_relationship old
            WHERE l.reassignment_id = %(ra)s AND l.status = 'pending' AND old.id = l.relationship_id
              AND old.customer_id = ins.customer_id AND old.type_id = ins.type_id""", params)
        count = cur.rowcount
        applied = "FROM relationships_reassignmentline l WHERE l.reassignment_id = %(ra)s AND l.status = 'applied'"
        cur.execute("""
            INSERT INTO relationships_relationshipshare (relationship_id, staff_id, ratio, effective_from)
            SELECT l.new_relationship_id, h.staff_id, h.ratio, %(on)s
            FROM relationships_reassignmentline l
            CROSS JOIN unnest(%(staff)s::int[], %(ratios)s::numeric[]) AS h(staff_id, ratio)
            WHERE l.reassignment_id = %(ra)s AND l.status = 'applied'
            ORDER BY l.new_relationship_id, h.staff_id""", params)
        cur.execute(f"""
            WITH cb AS (
                INSERT INTO relationships_callback (relationship_id, outlet_id, created_on, due_on, status, reason,
                                                    resolution, resolution_note)
                SELECT r.id, r.outlet_id, %(today)s, %(due)s, 'pending', '', '', ''
                FROM relationships_relationship r
                WHERE r.id IN (SELECT l.new_relationship_id {applied})
                ON CONFLICT (relationship_id) DO NOTHING
                RETURNING id, relationship_id)
            INSERT INTO relationships_auditentry (at, actor_id, actor_label, action, target_model, target_id, before,
                                                  after)
            SELECT now(), %(actor)s, %(label)s, 'callback.create', 'relationships.callback', cb.id::text, NULL,
                   jsonb_build_object('relationship', cb.relationship_id, 'due_on', %(due)s::text)
            FROM cb""", params)
        cur.execute(f"""
            INSERT INTO relationships_auditentry (at, actor_id, actor_label, action, target_model, target_id, before,
                                                  after)
            SELECT now(), %(actor)s, %(label)s, 'relationship.reassign', 'relationships.relationship',
                   l.new_relationship_id::text,
                   jsonb_build_object('relationship', l.relationship_id, 'effective_to', NULL, 'shares',
                       (SELECT coalesce(jsonb_agg(jsonb_build_object('staff_id', s.staff_id, 'ratio', s.ratio::text)
                                                  ORDER BY s.staff_id), '[]'::jsonb)
                        FROM relationships_relationshipshare s
                        WHERE s.relationship_id = l.relationship_id AND s.effective_to = %(on)s)),
                   jsonb_build_object('effective_from', %(on)s::text, 'reassignment', %(ra)s,
                                      'shares', %(shares)s::jsonb)
            {applied}""", params)
    if ra.callback_id is not None:  # R-CB-1: the disputed callback is decided by this reassignment
        cb = Callback.objects.select_for_update().get(pk=ra.callback_id)
        cb.resolution, cb.resolution_note = DisputeResolution.REASSIGNED, ra.note
        cb.resolved_by, cb.resolved_at = actor_user(actor), timezone.now()
        cb.save(update_fields=["resolution", "resolution_note", "resolved_by", "resolved_at"])
        audit(actor=actor, action="callback.resolve", target=cb, before={"status": "disputed"},
              after={"resolution": cb.resolution, "note": ra.note, "reassignment": ra.pk})
    ra.status, ra.decided_at = ReassignmentStatus.APPROVED, timezone.now()
    ra.shares = list(shares)
    ra.save(update_fields=["status", "decided_at", "shares"])
    audit(actor=actor, action="reassignment.approved", target=ra, before={"status": "pending"},
          after={"status": ra.status, "relationships": count, "effective_from": on.isoformat(),
                 "shares": list(shares)})
    return count


REASSIGNMENT_SHOWN = 100  # lines listed on the case page; the count says how many there are


def reassignment_of_case(dedupe_key: str) -> tuple[Reassignment, list[ReassignmentLine], int] | None:
    """The reassignment a case decides (its dedupe key `reassignment:<id>`), its first lines and their number: what
    the case page lists for its approvers. Three queries."""
    prefix, _sep, pk = dedupe_key.partition(":")
    if prefix != "reassignment" or not pk.isdigit():
        return None
    ra = Reassignment.objects.select_related("from_staff__outlet").filter(pk=int(pk)).first()
    if ra is None:
        return None
    lines = ReassignmentLine.objects.filter(reassignment=ra)
    shown = list(lines.select_related("relationship__customer", "relationship__type", "relationship__outlet",
                                      "new_relationship").order_by("id")[:REASSIGNMENT_SHOWN])
    return ra, shown, lines.count()


def reassignment_drop(*, actor, reassignment_id: int, status: str) -> None:
    """A rejected or withdrawn reassignment changed nothing: its lines stop waiting (one UPDATE)."""
    ra = Reassignment.objects.select_for_update().get(pk=reassignment_id)
    if ra.status != ReassignmentStatus.PENDING:
        return
    ReassignmentLine.objects.filter(reassignment=ra, status=ReassignmentLineStatus.PENDING).update(
        status=ReassignmentLineStatus.DROPPED)
    ra.status, ra.decided_at = status, timezone.now()
    ra.save(update_fields=["status", "decided_at"])
    audit(actor=actor, action="reassignment.decided", target=ra, before={"status": "pending"},
          after={"status": status})
