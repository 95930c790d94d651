"""Writes and rules owned by the relationships app (R-ATT-1, R-RES-4 sums, relationship creation)."""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from common.actors import actor_label
from relationships.audit import audit
from relationships.models import Customer, Qualification, Relationship, RelationshipShare, RelationshipType, Staff
from relationships.pii import encrypt, mask_id
from relationships.pii_store import identity_hash

RATIO_PLACES = Decimal("0.0001")


def parse_ratio(raw) -> Decimal:
    """R-RES-4: a ratio is a Decimal > 0 and ≤ 1 with at most 4 decimal places."""
    try:
        value = raw if isinstance(raw, Decimal) else Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        raise ValidationError(_("“%(value)s” is not a number.") % {"value": raw}, code="ratio_format") from None
    if not value.is_finite():
        raise ValidationError(_("“%(value)s” is not a number.") % {"value": raw}, code="ratio_format")
    if value <= 0:
        raise ValidationError(_("Each split ratio must be greater than 0."), code="ratio_positive")
    if value > 1:
        raise ValidationError(_("A split ratio cannot exceed 1."), code="ratio_max")
    if value != value.quantize(RATIO_PLACES):
        raise ValidationError(_("A split ratio has at most 4 decimal places."), code="ratio_places")
    return value.quantize(RATIO_PLACES)


@dataclass(frozen=True)
class Share:
    staff: Staff
    ratio: Decimal


@dataclass(frozen=True)
class RatioSummary:
    """The running total of ratios as typed (R-RES-4): `total`/`remainder` are None while a ratio is invalid."""
    total: Decimal | None
    remainder: Decimal | None
    over: bool
    error: str | None


def ratio_summary(values: Iterable) -> RatioSummary:
    """Sum the non-blank ratios with `parse_ratio`; the first invalid one is named instead of a total."""
    total = Decimal("0")
    for value in values:
        if value is None or not str(value).strip():
            continue
        try:
            total += parse_ratio(value)
        except ValidationError as exc:
            return RatioSummary(None, None, False, exc.messages[0])
    remainder = Decimal("1") - total
    return RatioSummary(total.quantize(RATIO_PLACES), max(remainder, Decimal("0")).quantize(RATIO_PLACES),
                        remainder < 0, None)


def validate_shares(rel_type: RelationshipType, shares: Sequence[Share]) -> None:
    """R-RES-4: ratios sum to at most 1; a single holder for single-holder types; nobody twice."""
    if not shares:
        raise ValidationError(_("At least one holder is required."), code="no_holder")
    ids = [s.staff.pk for s in shares]
    if len(set(ids)) != len(ids):
        raise ValidationError(_("A staff member appears twice among the participants."), code="duplicate_holder")
    total = sum((s.ratio for s in shares), Decimal("0"))
    if total > 1:
        raise ValidationError(
            _("The split ratios add up to %(total)s, which exceeds 1.") % {"total": total}, code="ratio_sum")
    if rel_type.single_holder and (len(shares) != 1 or shares[0].ratio != 1):
        raise ValidationError(
            _("%(type)s allows exactly one holder with ratio 1 (no co-development).") % {"type": rel_type.name},
            code="single_holder")


def attach_refusal(staff: Staff, rel_type: RelationshipType, on: dt.date) -> str | None:
    """R-ATT-1 / R-ORG-4: why `staff` may not hold `rel_type` on day `on`, or None if he may."""
    return attach_refusals([staff], rel_type, on)[staff.pk]


def attach_refusals(staff: Sequence[Staff], rel_type: RelationshipType, on: dt.date) -> dict[int, str | None]:
    """`attach_refusal` for many staff members at once (one query for their qualifications)."""
    qualified = set(Qualification.objects.filter(
        staff__in=[s.pk for s in staff], kind=rel_type.qualification, valid_from__lte=on).filter(
        Q(valid_to__isnull=True) | Q(valid_to__gte=on)).values_list("staff_id", flat=True))
    refusals: dict[int, str | None] = {}
    for s in staff:
        if s.left_on is not None and s.left_on <= on:  # R-ATT-2 / R-STAFF-1: closed from his leaving day
            refusals[s.pk] = _("%(staff)s left on %(date)s and may not be attached.") % {
                "staff": s, "date": s.left_on.isoformat()}
        elif not s.attach_open:
            refusals[s.pk] = _("%(staff)s has no open attach permission.") % {"staff": s}
        elif s.kind not in rel_type.holder_kinds:
            refusals[s.pk] = _("%(staff)s (%(kind)s) may not hold %(type)s.") % {
                "staff": s, "kind": s.get_kind_display(), "type": rel_type.name}
        elif s.pk not in qualified:
            refusals[s.pk] = _("%(staff)s lacks a valid %(qualification)s qualification.") % {
                "staff": s, "qualification": rel_type.get_qualification_display()}
        else:
            refusals[s.pk] = None
    return refusals


def check_can_attach(shares: Iterable[Share], rel_type: RelationshipType, on: dt.date) -> None:
    problems = [p for p in (attach_refusal(s.staff, rel_type, on) for s in shares) if p]
    if problems:
        raise ValidationError(problems, code="attach")


def customer_get_or_create(*, id_number: str, name: str, phone: str = "") -> Customer:
    """Customers are keyed by the keyed hash of the normalised ID number (R-PII-1), in whichever key version
    the ID number's rows carry (`identity_hash`, under the shared PII lock): one customer per ID number."""
    with transaction.atomic():
        customer, _created = Customer.objects.get_or_create(
            id_hash=identity_hash(id_number),
            defaults={"id_encrypted": encrypt(id_number), "id_masked": mask_id(id_number), "name": name,
                      "phone_encrypted": encrypt(phone)},
        )
    return customer


def active_holder_outlet(*, id_hashes: Sequence[str], rel_type: RelationshipType):
    """R-RES-5: the outlet of the customer's existing holder of this type, or None.

    `id_hashes`: the ID number's hash under every live key version (`pii_hashes`)."""
    share = (RelationshipShare.objects
             .filter(relationship__customer__id_hash__in=id_hashes, relationship__type=rel_type,
                     relationship__effective_to__isnull=True, effective_to__isnull=True)
             .select_related("staff__outlet").order_by("-ratio", "id").first())
    if share is not None:
        return share.staff.outlet
    rel = Relationship.objects.filter(customer__id_hash__in=id_hashes, type=rel_type,
                                      effective_to__isnull=True).first()
    return rel.outlet if rel else None


def relationship_create(*, actor, customer: Customer, rel_type: RelationshipType, shares: Sequence[Share],
                        effective_from: dt.date, source: str, outlet=None, origin_event=None) -> Relationship:
    """Create one relationship with its shares after re-checking R-RES-4 and R-ATT-1."""
    validate_shares(rel_type, shares)
    check_can_attach(shares, rel_type, effective_from)
    with transaction.atomic():
        rel = Relationship.objects.create(customer=customer, type=rel_type, effective_from=effective_from,
                                          source=source, outlet=outlet or shares[0].staff.outlet,
                                          origin_event=origin_event)
        RelationshipShare.objects.bulk_create(
            RelationshipShare(relationship=rel, staff=s.staff, ratio=s.ratio, effective_from=effective_from)
            for s in shares)
        audit(actor=actor, action="relationship.create", target=rel, after={
            "type": rel_type.code, "effective_from": effective_from.isoformat(), "source": source,
            "shares": [{"staff_no": s.staff.staff_no, "ratio": str(s.ratio)} for s in shares]})
    return rel


@dataclass(frozen=True)
class NewRelationship:
    """One relationship the batch creates, with its holders (staff id, ratio) and what led to it (audited)."""

    customer_id: int
    type_code: str
    effective_from: dt.date
    source: str
    outlet_id: int | None
    origin_event_id: int | None
    shares: Sequence[tuple[int, Decimal]]
    because: dict


_CREATE_BULK_SQL = """
WITH v AS (
    SELECT * FROM jsonb_to_recordset(%s::jsonb)
        AS v(i int, customer_id bigint, type_id text, effective_from text, source text, outlet_id bigint,
             origin_event_id bigint, because jsonb, shares jsonb)),
ins AS (
    INSERT INTO relationships_relationship (customer_id, type_id, effective_from, source, origin_event_id, outlet_id,
                                            created_at)
    SELECT customer_id, type_id, effective_from::date, source, origin_event_id, outlet_id, now() FROM v ORDER BY i
    RETURNING id, customer_id, type_id),
m AS (SELECT v.*, ins.id FROM v JOIN ins ON ins.customer_id = v.customer_id AND ins.type_id = v.type_id),
shares AS (
    INSERT INTO relationships_relationshipshare (relationship_id, staff_id, ratio, effective_from)
    SELECT m.id, (s.share->>'staff_id')::bigint, (s.share->>'ratio')::numeric, m.effective_from::date
    FROM m CROSS JOIN LATERAL jsonb_array_elements(m.shares) WITH ORDINALITY AS s(share, n) ORDER BY m.i, s.n),
trail AS (
    INSERT INTO relationships_auditentry (at, actor_label, action, target_model, target_id, before, after)
    SELECT now(), %s, 'relationship.create', 'relationships.relationship', m.id::text, NULL,
           jsonb_build_object('type', m.type_id, 'effective_from', m.effective_from, 'source', m.source)
           || m.because || jsonb_build_object('shares', m.shares)
    FROM m ORDER BY m.i)
SELECT i, id FROM m
"""


def relationships_create_bulk(*, actor, rows: Sequence[NewRelationship]) -> list[int]:
    """The batch's `relationship_create`, set-based: one statement inserts the relationships, their shares and
    their audit rows from one JSON document of the rows (no model objects, no per-value quoting: at a night's
    volume the ORM's preparation cost more than the writes). Returns the new ids in the order of `rows`.

    The caller has checked R-RES-4 and R-ATT-1 on the data it fetched for the whole unit; the partial unique
    index still keeps one active relationship per customer and type — which is also what maps each new id back
    to its row (customer, type)."""
    if not rows:
        return []
    doc = json.dumps([{
        "i": i, "customer_id": row.customer_id, "type_id": row.type_code,
        "effective_from": row.effective_from.isoformat(), "source": row.source, "outlet_id": row.outlet_id,
        "origin_event_id": row.origin_event_id, "because": row.because,
        "shares": [{"staff_id": staff_id, "ratio": str(ratio)} for staff_id, ratio in row.shares],
    } for i, row in enumerate(rows)], cls=DjangoJSONEncoder)
    with connection.cursor() as cur:
        cur.execute(_CREATE_BULK_SQL, [doc, actor_label(actor)])
        ids = dict(cur.fetchall())
    return [ids[i] for i in range(len(rows))]
