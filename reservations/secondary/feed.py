"""The `assignments` feed (§12, bulk R-SEC-4): `id_number,staff_no,assigned_at`, the same rules as the form."""
from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_noop

from common.feedlines import REFUSALS, FeedResult, FieldRules, LineError, max_length, parse_time, refusal_text
from common.wording import Message, from_validation_error, recognise
from relationships.identity import normalise_id_number
from relationships.models import Customer, Staff
from relationships.pii import pii_hashes
from reservations.secondary.services import preassignment_create

ASSIGNMENT_COLUMNS = ["id_number", "staff_no", "assigned_at"]
RULES = FieldRules(lengths={"staff_no": max_length(Staff, "staff_no")},
                   codes=frozenset({"id_number", "staff_no", "assigned_at"}))


def load_assignments(actor, rows, result: FeedResult) -> None:
    """`manage.py load_feed assignments FILE`: the lines go through `preassignment_create`, the form's service,
    one call per assignee and time (a customer listed twice goes to a later call, which refuses it as the form
    would); a refused line keeps its reason."""
    staff_by_no = {s.staff_no: s for s in Staff.objects.select_related("outlet")}
    parsed: list[tuple[int, list[str], Staff, dt.datetime]] = []
    for line, row in rows:
        try:
            try:
                id_hashes = pii_hashes(normalise_id_number(row.get("id_number", "")))
            except ValidationError as exc:
                raise LineError(from_validation_error(exc, by_field=False)) from None
            staff = staff_by_no.get(row.get("staff_no", ""))
            if staff is None:
                raise LineError(gettext_noop("staff_no “%(no)s” is not a known staff member."),
                                {"no": row.get("staff_no")})
            parsed.append((line, id_hashes, staff, parse_time(row.get("assigned_at", ""), "assigned_at")))
        except LineError as exc:
            result.errors.append((line, exc.message))
    # R-PII-1: an ID number is looked up under every live key version (a rotation may be under way).
    customers = dict(Customer.objects.filter(id_hash__in={h for p in parsed for h in p[1]})
                     .values_list("id_hash", "id"))
    # Consecutive lines of one assignee and time form one call, as long as no customer repeats in it: the
    # file's order is kept, so the outcome is the one a line-by-line load would give.
    calls: list[tuple[Staff, dt.datetime, dict[int, int]]] = []
    for line, id_hashes, staff, assigned_at in parsed:
        customer_id = next((customers[h] for h in id_hashes if h in customers), None)
        if customer_id is None:
            result.errors.append((line, Message(gettext_noop("No customer with this ID card number is known to the "
                                                              "platform."))))
            continue
        if not calls or calls[-1][0].pk != staff.pk or calls[-1][1] != assigned_at or customer_id in calls[-1][2]:
            calls.append((staff, assigned_at, {}))
        calls[-1][2][customer_id] = line
    for staff, assigned_at, line_of in calls:
        try:
            with transaction.atomic():
                outcome = preassignment_create(actor=actor, customer_ids=list(line_of), staff=staff,
                                               assigned_at=assigned_at, source="feed")
        except REFUSALS as exc:  # the assignee or the actor is refused: every line of the call, for that reason
            result.errors.extend((line, refusal_text(exc)) for line in line_of.values())
            continue
        result.errors.extend((line_of[cid], recognise(reason)) for cid, reason in outcome.refused.items())
        result.rows_loaded += len(line_of) - len(outcome.refused)
        result.progress(max(line_of.values()))
    result.errors.sort()
