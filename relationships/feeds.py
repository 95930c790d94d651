"""The core system's feeds of the data this app owns (§12): organisation, staff, account events.

Every line is validated and a bad one is reported with its number; the rows are written with bulk
statements per file, never a query per row. `reservations.exchange.registry.load_feed` owns the file-level
rules (content-hash dedupe, one transaction per file, the FeedFile record) and calls these.
"""
from __future__ import annotations

from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils.translation import gettext as _

from common.feedlines import FeedResult, LineError, parse_time
from permissions.services import StaffPermissions, staff_permissions_sync
from relationships.audit import audit_many
from relationships.identity import clean_customer_name, normalise_id_number
from relationships.models import (
    MATCHABLE_EVENT_KINDS,
    AccountEvent,
    AccountType,
    Customer,
    EventKind,
    MatchState,
    Organisation,
    QualificationKind,
    Region,
    Staff,
    StaffKind,
)
from relationships.pii import encrypt, mask_id
from relationships.pii_store import identity_hashes

ORG_COLUMNS = ["code", "name", "kind", "parent_code", "region"]
STAFF_COLUMNS = ["staff_no", "name", "outlet_code", "kind", "parent_staff_no", "qualifications", "attach_open"]
ACCOUNT_EVENT_COLUMNS = ["event_id", "event_time", "kind", "id_number", "customer_name", "account_no",
                         "account_type", "outlet_code"]


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
    for line, row in rows:
        try:
            staff_no, name = row.get("staff_no", ""), row.get("name", "")
            if not staff_no or not name:
                raise LineError(_("staff_no and name are required."))
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

def load_account_events(actor, rows, result: FeedResult) -> None:
    outlets = {o.code: o.pk for o in Organisation.objects.filter(kind="outlet")}
    kinds, types = set(EventKind.values), set(AccountType.values)
    seen_in_file: set[str] = set()
    parsed = []
    for line, row in rows:
        try:
            event_id = row.get("event_id", "")
            if not event_id:
                raise LineError(_("event_id is required."))
            if event_id in seen_in_file:
                result.rows_skipped += 1
                continue
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
            seen_in_file.add(event_id)
            parsed.append((line, event_id, event_time, kind, id_number, name, row["account_no"], account_type,
                           outlet_id))
        except LineError as exc:
            result.errors.append((line, str(exc)))
    if not parsed:
        return
    known = set(AccountEvent.objects.filter(event_id__in=[p[1] for p in parsed]).values_list("event_id", flat=True))
    fresh = [p for p in parsed if p[1] not in known]
    result.rows_skipped += len(parsed) - len(fresh)
    if not fresh:
        return
    # Customers: one INSERT for the new ones, one SELECT for all ids (R-PII-1: hash + ciphertext only), each ID
    # number in the key version its rows already carry (under its lock, so a key rotation cannot split it).
    hashes = identity_hashes(p[4] for p in fresh)
    by_hash: dict[str, tuple[str, str]] = {}
    for p in fresh:
        by_hash.setdefault(hashes[p[4]], (p[4], p[5]))
    Customer.objects.bulk_create(
        [Customer(id_hash=h, id_encrypted=encrypt(n), id_masked=mask_id(n), name=name)
         for h, (n, name) in by_hash.items()], ignore_conflicts=True, batch_size=5000)
    customer_ids = dict(Customer.objects.filter(id_hash__in=list(by_hash)).values_list("id_hash", "id"))
    office = ZoneInfo(settings.TIME_ZONE)
    events = AccountEvent.objects.bulk_create([
        AccountEvent(event_id=eid, event_time=t, business_date=t.astimezone(office).date(), kind=kind,
                     account_type=atype,
                     account_no=acct, customer_id=customer_ids[hashes[idn]], customer_name=name,
                     outlet_id=outlet_id,
                     match_state=MatchState.PENDING if kind in MATCHABLE_EVENT_KINDS else None)
        for _line, eid, t, kind, idn, name, acct, atype, outlet_id in fresh], batch_size=5000)
    result.rows_loaded += len(events)
    new_ids = [e.pk for e in events]
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
