"""The `reassignments` feed (R-STAFF-1, §12 addition): `id_number,relationship_type,from_staff_no,participants,
effective_from` — each line names one of the staff member's active relationships and its new holders
(participants as in the other §12 feeds). The lines of one staff member with the same holders and date are
filed as one reassignment case, like the page; a refused line is reported with its number and reason and does
not stop the others. The same file twice is refused as already loaded (`load_feed`)."""
from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_noop

from common.feedlines import REFUSALS, FeedResult, FieldRules, LineError, parse_day, refusal_text
from common.wording import recognise
from relationships.identity import normalise_id_number
from relationships.models import Customer, Relationship, RelationshipType, Staff
from relationships.pii import pii_hashes
from reservations.branch.feed import parse_participants
from reservations.reassign.services import reassignment_file

COLUMNS = ["id_number", "relationship_type", "from_staff_no", "participants", "effective_from"]
RULES = FieldRules(codes=frozenset({"id_number", "relationship_type", "from_staff_no", "effective_from"}))

Group = tuple[int, dt.date, tuple[tuple[int, str], ...]]


def load_reassignments(actor, rows, result: FeedResult) -> None:
    """Lines judged one by one against data read once (staff, customers, active relationships); then one filing
    per (staff member, date, holders), each in its own savepoint."""
    rows = list(rows)
    staff_by_no = {s.staff_no: s for s in Staff.objects.select_related("outlet__branch")}
    types = RelationshipType.objects.in_bulk()
    hashes: dict[int, list[str]] = {}
    for line, row in rows:
        try:
            hashes[line] = pii_hashes(normalise_id_number(row.get("id_number", "")))
        except ValidationError:
            hashes[line] = []
    customers = {c.id_hash: c for c in Customer.objects.filter(id_hash__in=[h for hs in hashes.values() for h in hs])}
    active = {(r.customer_id, r.type_id): r for r in Relationship.objects.filter(
        customer__in=[c.pk for c in customers.values()], effective_to__isnull=True).select_related("customer", "type")}
    groups: dict[Group, list[tuple[int, Relationship]]] = defaultdict(list)
    participants_of: dict[Group, list] = {}
    seen: dict[int, int] = {}
    for line, row in rows:
        try:
            if not hashes[line]:
                normalise_id_number(row.get("id_number", ""))  # raises the reason
            code = row.get("relationship_type", "")
            if code not in types:
                raise LineError(gettext_noop("relationship_type “%(code)s” is not known."), {"code": code})
            from_staff = staff_by_no.get(row.get("from_staff_no", ""))
            if from_staff is None:
                raise LineError(gettext_noop("There is no staff member with number %(no)s."),
                                {"no": row.get("from_staff_no")})
            participants = parse_participants(row.get("participants", ""), staff_by_no)
            day = parse_day(row.get("effective_from", ""), "effective_from")
            customer = next((customers[h] for h in hashes[line] if h in customers), None)
            rel = active.get((customer.pk, code)) if customer is not None else None
            if rel is None:
                raise LineError(gettext_noop("The customer holds no active %(type)s relationship."),
                                {"type": recognise(str(types[code].label))})
            if rel.pk in seen:
                raise LineError(gettext_noop("This relationship is on line %(line)d already."), {"line": seen[rel.pk]})
            seen[rel.pk] = line
            key: Group = (from_staff.pk, day, tuple(sorted((s.pk, str(r)) for s, r in participants)))
            groups[key].append((line, rel))
            participants_of[key] = participants
        except REFUSALS as exc:
            result.errors.append((line, refusal_text(exc)))
    by_pk = {s.pk: s for s in staff_by_no.values()}
    for key, lines in groups.items():
        line_of = {rel.pk: line for line, rel in lines}
        try:
            with transaction.atomic():
                filed = reassignment_file(actor=actor, from_staff=by_pk[key[0]], relationships=[r for _l, r in lines],
                                          participants=participants_of[key], effective_from=key[1], source="feed")
        except REFUSALS as exc:
            result.errors.extend((line, refusal_text(exc)) for line, _rel in lines)
            continue
        result.errors.extend((line_of[pk], recognise(reason)) for pk, reason in filed.refused.items())
        result.rows_loaded += len(lines) - len(filed.refused)
    result.errors.sort()
