"""The account-events feed (§12), and the one service that records account events, feed or not.

An `event_id` given again — later in the same file or in a later file — is skipped when its content is the same
(§12: a repeated id is skipped) and refused when it differs: the event loaded first stands, and the refused line
is recorded as an `EventConflict` for the night report of the event's business date, with the fields that differ.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils.translation import gettext_noop

from common.feedlines import FeedResult, FieldRules, LineError, max_length, parse_time
from common.wording import Message, from_validation_error
from relationships.identity import clean_customer_name, normalise_id_number
from relationships.models import (
    MATCHABLE_EVENT_KINDS,
    Account,
    AccountEvent,
    AccountType,
    Customer,
    EventConflict,
    EventKind,
    MatchState,
    Organisation,
)
from relationships.pii import encrypt, mask_id, pii_hashes
from relationships.pii_store import identity_hashes

ACCOUNT_EVENT_COLUMNS = ["event_id", "event_time", "kind", "id_number", "customer_name", "account_no",
                         "account_type", "outlet_code"]
_ORG_CODE = max_length(Organisation, "code")
ACCOUNT_EVENT_RULES = FieldRules(
    lengths={"event_id": max_length(AccountEvent, "event_id"),
             "customer_name": min(max_length(AccountEvent, "customer_name"), max_length(Customer, "name")),
             "account_no": min(max_length(AccountEvent, "account_no"), max_length(Account, "account_no")),
             "outlet_code": _ORG_CODE},
    codes=frozenset({"event_id", "kind", "id_number", "account_no", "account_type", "outlet_code"}))



@dataclass(frozen=True)
class NewAccountEvent:
    """One account event as the core system reports it, checked (§12 account_events); `line` is its line in a
    feed file, 0 when it comes from elsewhere."""

    line: int
    event_id: str
    event_time: dt.datetime
    kind: str
    id_number: str
    customer_name: str
    account_no: str
    account_type: str
    outlet_id: int
    outlet_code: str


def _as_sent(e: NewAccountEvent, office: ZoneInfo) -> dict[str, str]:
    return {"event_time": e.event_time.astimezone(office).isoformat(), "kind": e.kind,
            "id_number": mask_id(e.id_number), "customer_name": e.customer_name, "account_no": e.account_no,
            "account_type": e.account_type, "outlet_code": e.outlet_code}


def _as_loaded(known: Mapping[str, Any], office: ZoneInfo) -> dict[str, str]:
    return {"event_time": known["event_time"].astimezone(office).isoformat(), "kind": known["kind"],
            "id_number": known["customer__id_masked"], "customer_name": known["customer_name"],
            "account_no": known["account_no"], "account_type": known["account_type"],
            "outlet_code": known["outlet__code"]}


def _differences(before: dict[str, str], after: dict[str, str], *, same_person: bool,
                 same_time: bool) -> dict[str, list[str]]:
    """{column: [as loaded, as sent]} of what differs; the person and the instant compare as such, not as text."""
    return {c: [before[c], after[c]] for c in ACCOUNT_EVENT_COLUMNS if c in before and (
        not same_person if c == "id_number" else not same_time if c == "event_time" else before[c] != after[c])}


def load_account_events(actor, rows, result: FeedResult) -> None:
    outlets = {o.code: o.pk for o in Organisation.objects.filter(kind="outlet")}
    kinds, types = set(EventKind.values), set(AccountType.values)
    parsed: list[NewAccountEvent] = []
    for line, row in rows:
        try:
            event_id = row.get("event_id", "")
            if not event_id:
                raise LineError(gettext_noop("event_id is required."))
            event_time = parse_time(row.get("event_time", ""), "event_time")
            kind = row.get("kind", "")
            if kind not in kinds:
                raise LineError(gettext_noop("kind “%(kind)s” is not an account event kind."), {"kind": kind})
            account_type = row.get("account_type", "")
            if account_type not in types:
                raise LineError(gettext_noop("account_type “%(t)s” is not known."), {"t": account_type})
            try:
                id_number = normalise_id_number(row.get("id_number", ""))
                name = clean_customer_name(row.get("customer_name", ""))
            except ValidationError as exc:
                raise LineError(from_validation_error(exc, by_field=False)) from exc
            if not row.get("account_no"):
                raise LineError(gettext_noop("account_no is required."))
            outlet_id = outlets.get(row.get("outlet_code", ""))
            if outlet_id is None:
                raise LineError(gettext_noop("outlet_code “%(code)s” is not a known outlet."),
                                {"code": row.get("outlet_code")})
            parsed.append(NewAccountEvent(line, event_id, event_time, kind, id_number, name, row["account_no"],
                                          account_type, outlet_id, row["outlet_code"]))
        except LineError as exc:
            result.errors.append((line, exc.message))
    if not parsed:
        return
    office = ZoneInfo(settings.TIME_ZONE)
    # An event_id seen before: in an earlier file (one query for the whole file) or on an earlier line.
    loaded = {e["event_id"]: e for e in AccountEvent.objects.filter(event_id__in={p.event_id for p in parsed}).values(
        "pk", "event_id", "business_date", "event_time", "kind", "customer_name", "account_no", "account_type",
        "outlet__code", "customer__id_hash", "customer__id_masked")}
    first: dict[str, NewAccountEvent] = {}
    fresh: list[NewAccountEvent] = []
    # with the loaded event
    conflicts: list[tuple[NewAccountEvent, Mapping[str, Any] | None, dict[str, list[str]]]] = []
    for p in parsed:
        known = loaded.get(p.event_id)
        earlier = first.get(p.event_id)
        if known is not None:
            diff = _differences(_as_loaded(known, office), _as_sent(p, office),
                                same_person=known["customer__id_hash"] in pii_hashes(p.id_number),
                                same_time=known["event_time"] == p.event_time)
        elif earlier is not None:
            diff = _differences(_as_sent(earlier, office), _as_sent(p, office),
                                same_person=earlier.id_number == p.id_number,
                                same_time=earlier.event_time == p.event_time)
        else:
            first[p.event_id] = p
            fresh.append(p)
            continue
        if not diff:
            result.rows_skipped += 1  # §12: a repeated event_id is skipped
            continue
        conflicts.append((p, known, diff))
        fields = ", ".join(diff)
        if known is not None:
            result.errors.append((p.line, Message(gettext_noop(
                "event_id “%(id)s” was loaded before with different %(fields)s: the event loaded first stands; this "
                "line is refused and listed on the night report of %(date)s."), {
                "id": p.event_id, "fields": fields, "date": known["business_date"].isoformat()})))
        else:
            assert earlier is not None
            result.errors.append((p.line, Message(gettext_noop(
                "event_id “%(id)s” is on line %(line)d already, with different %(fields)s: this line is refused and "
                "listed on the night report of %(date)s."), {
                "id": p.event_id, "line": earlier.line, "fields": fields,
                "date": earlier.event_time.astimezone(office).date().isoformat()})))
    events = account_events_record(events=fresh) if fresh else []
    result.rows_loaded += len(events)
    created = {e.event_id: (e.pk, e.business_date) for e in events}
    EventConflict.objects.bulk_create([EventConflict(
        event_id=known["pk"] if known else created[p.event_id][0],
        business_date=known["business_date"] if known else created[p.event_id][1],
        filename=result.filename[:300], line=p.line, sent_id_masked=mask_id(p.id_number), differences=diff)
        for p, known, diff in conflicts], batch_size=2000)


def account_events_record(*, events: Sequence[NewAccountEvent]) -> list[AccountEvent]:
    """Record new account events (ids not seen before): their customers, the accounts they open or close, and
    whether each is the customer's first of its kind — what matching reads. The feed calls this for the lines it
    accepts; anything else that records events (tests, a future API) calls it too, so an event is one thing."""
    with transaction.atomic():  # the customers' hash versions stay held until the events are in (R-PII-1)
        created = _create_events(events, ZoneInfo(settings.TIME_ZONE))
        if created:
            _follow_events([e.pk for e in created])
    return created


def _create_events(fresh: Sequence[NewAccountEvent], office: ZoneInfo) -> list[AccountEvent]:
    # Customers: one INSERT for the new ones, one SELECT for all ids (R-PII-1: hash + ciphertext only), each ID
    # number in the key version its rows already carry (under its lock, so a key rotation cannot split it).
    hashes = identity_hashes(p.id_number for p in fresh)
    by_hash: dict[str, tuple[str, str]] = {}
    for p in fresh:
        by_hash.setdefault(hashes[p.id_number], (p.id_number, p.customer_name))
    Customer.objects.bulk_create(
        [Customer(id_hash=h, id_encrypted=encrypt(n), id_masked=mask_id(n), name=name)
         for h, (n, name) in by_hash.items()], ignore_conflicts=True, batch_size=5000)
    customer_ids = dict(Customer.objects.filter(id_hash__in=list(by_hash)).values_list("id_hash", "id"))
    return AccountEvent.objects.bulk_create([
        AccountEvent(event_id=p.event_id, event_time=p.event_time, business_date=p.event_time.astimezone(office).date(),
                     kind=p.kind, account_type=p.account_type, account_no=p.account_no,
                     customer_id=customer_ids[hashes[p.id_number]], customer_name=p.customer_name,
                     outlet_id=p.outlet_id,
                     match_state=MatchState.PENDING if p.kind in MATCHABLE_EVENT_KINDS else None)
        for p in fresh], batch_size=5000)


def _follow_events(new_ids: list[int]) -> None:
    with connection.cursor() as cur:
        # Accounts follow the events: open creates, close closes (set-based).
        cur.execute("""
            INSERT INTO relationships_account (customer_id, account_no, account_type, outlet_id, opened_at)
            SELECT DISTINCT ON (e.account_type, e.account_no) e.customer_id, e.account_no, e.account_type,
                   e.outlet_id, e.event_time
            FROM relationships_accountevent e
            WHERE e.id = ANY(%s) AND e.kind IN ('open', 'repurchase_start')
            ORDER BY e.account_type, e.account_no, e.event_time
            ON CONFLICT (account_type, account_no) DO NOTHING""", [new_ids])
        cur.execute("""
            UPDATE relationships_account a SET closed_at = e.event_time
            FROM relationships_accountevent e
            WHERE e.id = ANY(%s) AND e.kind = 'close' AND a.account_type = e.account_type
              AND a.account_no = e.account_no""", [new_ids])
        # Whether the customer was already with the firm, and whether this is his first such business.
        cur.execute("""
            UPDATE relationships_accountevent e SET
              existing_customer = EXISTS (
                  SELECT 1 FROM relationships_account a
                  WHERE a.customer_id = e.customer_id AND a.opened_at < e.event_time
                    AND NOT (a.account_type = e.account_type AND a.account_no = e.account_no)),
              first_of_kind = NOT EXISTS (
                  SELECT 1 FROM relationships_accountevent p
                  WHERE p.customer_id = e.customer_id AND p.kind = e.kind AND p.account_type = e.account_type
                    AND (p.event_time, p.id) < (e.event_time, e.id))
            WHERE e.id = ANY(%s)""", [new_ids])

