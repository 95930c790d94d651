"""The core system's feeds of the data this app owns (§12): organisation, staff, account events.

Every line is validated and a bad one is reported with its number; the rows are written with bulk
statements per file, never a query per row. `reservations.exchange.registry.load_feed` owns the file-level
rules (content-hash dedupe, one transaction per file, the FeedFile record, the checks of every field against
the `*_RULES` below) and calls these.

A staff number given twice in one file is refused on its later line (naming the earlier one): one line says
what a staff member is. An `event_id` given again — later in the same file or in a later file — is skipped
when its content is the same (§12: a repeated id is skipped) and refused when it differs: the event loaded
first stands, and the refused line is recorded as an `EventConflict` for the night report of the event's
business date, with the fields that differ.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils.translation import gettext as _

from common.feedlines import FeedResult, FieldRules, LineError, max_length, parse_time
from permissions.services import StaffPermissions, staff_permissions_sync
from relationships.audit import audit_many
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
    QualificationKind,
    Region,
    Staff,
    StaffKind,
)
from relationships.pii import encrypt, mask_id, pii_hashes
from relationships.pii_store import identity_hashes

ORG_COLUMNS = ["code", "name", "kind", "parent_code", "region"]
STAFF_COLUMNS = ["staff_no", "name", "outlet_code", "kind", "parent_staff_no", "qualifications", "attach_open"]
ACCOUNT_EVENT_COLUMNS = ["event_id", "event_time", "kind", "id_number", "customer_name", "account_no",
                         "account_type", "outlet_code"]
_ORG_CODE = max_length(Organisation, "code")
_STAFF_NO = max_length(Staff, "staff_no")
ORG_RULES = FieldRules(lengths={"code": _ORG_CODE, "parent_code": _ORG_CODE, "name": max_length(Organisation, "name"),
                                "region": max_length(Region, "code", "name")},
                       codes=frozenset({"code", "parent_code", "kind", "region"}))
STAFF_RULES = FieldRules(lengths={"staff_no": _STAFF_NO, "parent_staff_no": _STAFF_NO,
                                  "name": max_length(Staff, "name"), "outlet_code": _ORG_CODE},
                         codes=frozenset({"staff_no", "parent_staff_no", "outlet_code", "kind", "attach_open"}))
ACCOUNT_EVENT_RULES = FieldRules(
    lengths={"event_id": max_length(AccountEvent, "event_id"),
             "customer_name": min(max_length(AccountEvent, "customer_name"), max_length(Customer, "name")),
             "account_no": min(max_length(AccountEvent, "account_no"), max_length(Account, "account_no")),
             "outlet_code": _ORG_CODE},
    codes=frozenset({"event_id", "kind", "id_number", "account_no", "account_type", "outlet_code"}))


def load_org(actor, rows, result: FeedResult) -> None:
    """The lines are judged in file order (a parent may be defined earlier in the file); the rows are then
    written level by level — head office, branches, outlets — so every parent has its id before its children."""
    existing = {o.code: o for o in Organisation.objects.all()}
    regions = {r.code: r for r in Region.objects.all()}
    kinds = {"hq", "branch", "outlet"}
    changed: dict[str, tuple[Organisation, dict | None, dict]] = {}
    for line, row in rows:
        try:
            code, name, kind = row.get("code", ""), row.get("name", ""), row.get("kind", "").lower()
            if not code or not name:
                raise LineError(_("code and name are required."))
            if kind not in kinds:
                raise LineError(_("kind “%(kind)s” must be hq, branch or outlet.") % {"kind": kind})
            parent = None
            if kind != "hq":
                parent = existing.get(row.get("parent_code", ""))
                if parent is None:
                    raise LineError(_("parent_code “%(code)s” is not a known organisation.")
                                    % {"code": row.get("parent_code", "")})
                expected = "hq" if kind == "branch" else "branch"
                if parent.kind != expected:
                    raise LineError(_("a %(kind)s's parent must be a %(expected)s.") % {"kind": kind,
                                                                                       "expected": expected})
            region = None
            region_code = row.get("region", "")
            if region_code:
                region = regions.get(region_code)
                if region is None:
                    region = Region.objects.create(code=region_code, name=region_code)
                    regions[region_code] = region
            elif kind == "outlet" and parent is not None:
                region = parent.region
            elif kind == "branch":
                raise LineError(_("a branch needs its region."))
            org = existing.get(code) or Organisation(code=code)
            before = changed[code][1] if code in changed else (
                {"name": org.name, "kind": org.kind, "parent": org.parent_id} if org.pk else None)
            org.name, org.kind, org.parent, org.region = name, kind, parent, region
            existing[code] = org
            changed[code] = (org, before, {"code": code, "name": name, "kind": kind})
            result.rows_loaded += 1
        except LineError as exc:
            result.errors.append((line, str(exc)))
    orgs = [org for org, _before, _after in changed.values()]
    for kind in ("hq", "branch", "outlet"):
        new = [o for o in orgs if o.kind == kind and o.pk is None]
        old = [o for o in orgs if o.kind == kind and o.pk is not None]
        Organisation.objects.bulk_create(new, batch_size=2000)
        Organisation.objects.bulk_update(old, ["name", "kind", "parent", "region"], batch_size=2000)
    for o in orgs:
        o.branch = o if o.kind == "branch" else (o.parent if o.kind == "outlet" else None)
    Organisation.objects.bulk_update(orgs, ["branch"], batch_size=2000)
    audit_many(actor=actor, action="organisation.load", model_label="relationships.organisation",
               rows=[(org.pk, before, after) for org, before, after in changed.values()])


# --- staff -----------------------------------------------------------------------------------------------

def load_staff(actor, rows, result: FeedResult) -> None:
    outlets = {o.code: o for o in Organisation.objects.filter(kind="outlet")}
    staff_by_no = {s.staff_no: s for s in Staff.objects.all()}
    kinds = set(StaffKind.values)
    qual_kinds = set(QualificationKind.values)
    parsed = []
    first_line: dict[str, int] = {}
    for line, row in rows:
        try:
            staff_no, name = row.get("staff_no", ""), row.get("name", "")
            if not staff_no or not name:
                raise LineError(_("staff_no and name are required."))
            if staff_no in first_line:
                raise LineError(_("staff_no “%(no)s” is on line %(line)d already; a staff member is given once "
                                  "per file.") % {"no": staff_no, "line": first_line[staff_no]})
            outlet = outlets.get(row.get("outlet_code", ""))
            if outlet is None:
                raise LineError(_("outlet_code “%(code)s” is not a known outlet.") % {"code": row.get("outlet_code")})
            kind = row.get("kind", "")
            if kind not in kinds:
                raise LineError(_("kind “%(kind)s” must be one of %(kinds)s.") % {"kind": kind,
                                                                                 "kinds": ", ".join(sorted(kinds))})
            quals = [q.strip() for q in row.get("qualifications", "").split(";") if q.strip()]
            bad = [q for q in quals if q not in qual_kinds]
            if bad:
                raise LineError(_("unknown qualification %(q)s.") % {"q": ", ".join(bad)})
            attach = row.get("attach_open", "").lower()
            if attach not in {"true", "false"}:
                raise LineError(_("attach_open must be true or false."))
            first_line[staff_no] = line
            parsed.append((line, staff_no, name, outlet, kind, row.get("parent_staff_no", ""), quals,
                           attach == "true"))
        except LineError as exc:
            result.errors.append((line, str(exc)))
    in_file = {p[1] for p in parsed}
    good = []
    for p in parsed:
        parent_no = p[5]
        if parent_no and parent_no not in staff_by_no and parent_no not in in_file:
            result.errors.append((p[0], _("parent_staff_no “%(no)s” is not a known staff member.") % {"no": parent_no}))
        elif parent_no == p[1]:
            result.errors.append((p[0], _("a staff member cannot be his own parent broker.")))
        else:
            good.append(p)
    audits = []
    for _line, staff_no, name, outlet, kind, _parent, quals, attach in good:
        staff = staff_by_no.get(staff_no)
        before = ({"outlet": staff.outlet_id, "kind": staff.kind, "attach_open": staff.attach_open}
                  if staff else None)
        if staff is None:  # a new staff member: his attach permission is opened below, with its register row
            staff = Staff(staff_no=staff_no, attach_open=False)
        staff.name, staff.outlet, staff.kind = name, outlet, kind
        staff_by_no[staff_no] = staff
        audits.append((staff, before, {"outlet": outlet.code, "kind": kind, "attach_open": attach,
                                       "qualifications": quals}))
    new = [s for s, *_x in audits if s.pk is None]
    old = [s for s, *_x in audits if s.pk is not None]
    Staff.objects.bulk_create(new, batch_size=2000)
    Staff.objects.bulk_update(old, ["name", "outlet", "kind"], batch_size=2000)
    parents = []
    for p in good:
        staff = staff_by_no[p[1]]
        staff.parent = staff_by_no.get(p[5]) if p[5] else None
        parents.append(staff)
    Staff.objects.bulk_update(parents, ["parent"], batch_size=2000)
    audit_many(actor=actor, action="staff.load", model_label="relationships.staff",
               rows=[(s.pk, before, after) for s, before, after in audits])
    # Attach permission and qualifications change only through the permission register (R-ATT-1, R-ORG-4,
    # R-PERM-3): a listed qualification is recorded, one no longer listed ends today.
    staff_permissions_sync(actor=actor, reason=_("staff feed %(file)s") % {"file": result.filename}, lines=[
        StaffPermissions(staff=staff_by_no[p[1]], attach_open=p[7], qualifications=p[6]) for p in good])
    result.rows_loaded += len(good)


# --- account events --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Event:
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


def _as_sent(e: _Event, office: ZoneInfo) -> dict[str, str]:
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
    parsed: list[_Event] = []
    for line, row in rows:
        try:
            event_id = row.get("event_id", "")
            if not event_id:
                raise LineError(_("event_id is required."))
            event_time = parse_time(row.get("event_time", ""), "event_time")
            kind = row.get("kind", "")
            if kind not in kinds:
                raise LineError(_("kind “%(kind)s” is not an account event kind.") % {"kind": kind})
            account_type = row.get("account_type", "")
            if account_type not in types:
                raise LineError(_("account_type “%(t)s” is not known.") % {"t": account_type})
            try:
                id_number = normalise_id_number(row.get("id_number", ""))
                name = clean_customer_name(row.get("customer_name", ""))
            except ValidationError as exc:
                raise LineError(" ".join(exc.messages)) from exc
            if not row.get("account_no"):
                raise LineError(_("account_no is required."))
            outlet_id = outlets.get(row.get("outlet_code", ""))
            if outlet_id is None:
                raise LineError(_("outlet_code “%(code)s” is not a known outlet.") % {"code": row.get("outlet_code")})
            parsed.append(_Event(line, event_id, event_time, kind, id_number, name, row["account_no"], account_type,
                                 outlet_id, row["outlet_code"]))
        except LineError as exc:
            result.errors.append((line, str(exc)))
    if not parsed:
        return
    office = ZoneInfo(settings.TIME_ZONE)
    # An event_id seen before: in an earlier file (one query for the whole file) or on an earlier line.
    loaded = {e["event_id"]: e for e in AccountEvent.objects.filter(event_id__in={p.event_id for p in parsed}).values(
        "pk", "event_id", "business_date", "event_time", "kind", "customer_name", "account_no", "account_type",
        "outlet__code", "customer__id_hash", "customer__id_masked")}
    first: dict[str, _Event] = {}
    fresh: list[_Event] = []
    conflicts: list[tuple[_Event, Mapping[str, Any] | None, dict[str, list[str]]]] = []  # with the loaded event
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
            result.errors.append((p.line, _(
                "event_id “%(id)s” was loaded before with different %(fields)s: the event loaded first stands; this "
                "line is refused and listed on the night report of %(date)s.") % {
                "id": p.event_id, "fields": fields, "date": known["business_date"].isoformat()}))
        else:
            assert earlier is not None
            result.errors.append((p.line, _(
                "event_id “%(id)s” is on line %(line)d already, with different %(fields)s: this line is refused and "
                "listed on the night report of %(date)s.") % {
                "id": p.event_id, "line": earlier.line, "fields": fields,
                "date": earlier.event_time.astimezone(office).date().isoformat()}))
    if fresh:
        events = _create_events(fresh, office)
        result.rows_loaded += len(events)
    else:
        events = []
    created = {e.event_id: (e.pk, e.business_date) for e in events}
    EventConflict.objects.bulk_create([EventConflict(
        event_id=known["pk"] if known else created[p.event_id][0],
        business_date=known["business_date"] if known else created[p.event_id][1],
        filename=result.filename[:300], line=p.line, sent_id_masked=mask_id(p.id_number), differences=diff)
        for p, known, diff in conflicts], batch_size=2000)
    if events:
        _follow_events([e.pk for e in events])


def _create_events(fresh: list[_Event], office: ZoneInfo) -> list[AccountEvent]:
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
