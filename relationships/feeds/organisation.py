"""Organisation and staff feeds (§12).

A staff number given twice in one file is refused on its later line (naming the earlier one): one line says
what a staff member is. Attach permission and qualifications change through the permission register's services.
"""
from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from common.feedlines import FeedResult, FieldRules, LineError, max_length, parse_day
from common.wording import Message, recognise
from performance.adjusted import memberships_change_adjusted
from permissions.services import StaffPermissions, staff_permissions_sync
from relationships.audit import audit_many
from relationships.membership import Leave, Move
from relationships.models import (
    Organisation,
    QualificationKind,
    Region,
    Staff,
    StaffKind,
)

ORG_COLUMNS = ["code", "name", "kind", "parent_code", "region"]
STAFF_COLUMNS = ["staff_no", "name", "outlet_code", "kind", "parent_staff_no", "qualifications", "attach_open"]
# R-STAFF-1: the first day at a new outlet (empty: the day the file is loaded), and the first day away.
STAFF_OPTIONAL_COLUMNS = ("effective_from", "leaving_date")
_ORG_CODE = max_length(Organisation, "code")
_STAFF_NO = max_length(Staff, "staff_no")
ORG_RULES = FieldRules(lengths={"code": _ORG_CODE, "parent_code": _ORG_CODE, "name": max_length(Organisation, "name"),
                                "region": max_length(Region, "code", "name")},
                       codes=frozenset({"code", "parent_code", "kind", "region"}))
STAFF_RULES = FieldRules(lengths={"staff_no": _STAFF_NO, "parent_staff_no": _STAFF_NO,
                                  "name": max_length(Staff, "name"), "outlet_code": _ORG_CODE},
                         codes=frozenset({"staff_no", "parent_staff_no", "outlet_code", "kind", "attach_open"}))


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
                raise LineError(gettext_noop("code and name are required."))
            if kind not in kinds:
                raise LineError(gettext_noop("kind “%(kind)s” must be hq, branch or outlet."), {"kind": kind})
            parent = None
            if kind != "hq":
                parent = existing.get(row.get("parent_code", ""))
                if parent is None:
                    raise LineError(gettext_noop("parent_code “%(code)s” is not a known organisation."),
                                    {"code": row.get("parent_code", "")})
                expected = "hq" if kind == "branch" else "branch"
                if parent.kind != expected:
                    raise LineError(gettext_noop("a %(kind)s's parent must be a %(expected)s."),
                                    {"kind": kind, "expected": expected})
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
                raise LineError(gettext_noop("a branch needs its region."))
            org = existing.get(code) or Organisation(code=code)
            before = changed[code][1] if code in changed else (
                {"name": org.name, "kind": org.kind, "parent": org.parent_id} if org.pk else None)
            org.name, org.kind, org.parent, org.region = name, kind, parent, region
            existing[code] = org
            changed[code] = (org, before, {"code": code, "name": name, "kind": kind})
            result.rows_loaded += 1
        except LineError as exc:
            result.errors.append((line, exc.message))
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
    dates: dict[int, tuple] = {}
    first_line: dict[str, int] = {}
    for line, row in rows:
        try:
            staff_no, name = row.get("staff_no", ""), row.get("name", "")
            if not staff_no or not name:
                raise LineError(gettext_noop("staff_no and name are required."))
            if staff_no in first_line:
                raise LineError(gettext_noop("staff_no “%(no)s” is on line %(line)d already; a staff member is given "
                                             "once per file."), {"no": staff_no, "line": first_line[staff_no]})
            outlet = outlets.get(row.get("outlet_code", ""))
            if outlet is None:
                raise LineError(gettext_noop("outlet_code “%(code)s” is not a known outlet."),
                                {"code": row.get("outlet_code")})
            kind = row.get("kind", "")
            if kind not in kinds:
                raise LineError(gettext_noop("kind “%(kind)s” must be one of %(kinds)s."),
                                {"kind": kind, "kinds": ", ".join(sorted(kinds))})
            quals = [q.strip() for q in row.get("qualifications", "").split(";") if q.strip()]
            bad = [q for q in quals if q not in qual_kinds]
            if bad:
                raise LineError(gettext_noop("unknown qualification %(q)s."), {"q": ", ".join(bad)})
            attach = row.get("attach_open", "").lower()
            if attach not in {"true", "false"}:
                raise LineError(gettext_noop("attach_open must be true or false."))
            effective_from = parse_day(row["effective_from"], "effective_from") if row.get("effective_from") else None
            leaving = parse_day(row["leaving_date"], "leaving_date") if row.get("leaving_date") else None
            first_line[staff_no] = line
            parsed.append((line, staff_no, name, outlet, kind, row.get("parent_staff_no", ""), quals,
                           attach == "true"))
            dates[line] = (effective_from, leaving)
        except LineError as exc:
            result.errors.append((line, exc.message))
    in_file = {p[1] for p in parsed}
    good = []
    for p in parsed:
        parent_no = p[5]
        if parent_no and parent_no not in staff_by_no and parent_no not in in_file:
            result.errors.append((p[0], Message(gettext_noop("parent_staff_no “%(no)s” is not a known staff member."),
                                                {"no": parent_no})))
        elif parent_no == p[1]:
            result.errors.append((p[0], Message(gettext_noop("a staff member cannot be his own parent broker."))))
        else:
            good.append(p)
    good, leaving_today = _staff_changes(actor, good, dates, staff_by_no, result)
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
        StaffPermissions(staff=staff_by_no[p[1]], attach_open=p[7] and p[0] not in leaving_today, qualifications=p[6])
        for p in good])
    result.rows_loaded += len(good)


def _staff_changes(actor, good: list, dates: dict[int, tuple], staff_by_no: dict, result: FeedResult
                   ) -> tuple[list, set[int]]:
    """R-STAFF-1: a known staff member at another outlet moves on `effective_from` (or today); a `leaving_date`
    records his leaving. A refused change refuses its line (nothing of it is written). Returns the lines kept
    and those whose leaving has begun (their attach permission closes through the register, R-ATT-2)."""
    today = timezone.localdate()
    moves: list[Move] = []
    leaves: list[Leave] = []
    refused: dict[int, str] = {}
    for p in good:
        line, staff, outlet = p[0], staff_by_no.get(p[1]), p[3]
        effective_from, leaving = dates[line]
        if staff is None:
            if leaving is not None:
                refused[line] = Message(gettext_noop("leaving_date is given for a staff member the platform does not "
                                                    "know yet."))
            continue
        if outlet.pk != staff.outlet_id and leaving is not None and leaving <= (effective_from or today):
            refused[line] = Message(gettext_noop("leaving_date %(leaving)s must come after the move's "
                                                 "effective_from."), {"leaving": leaving.isoformat()})
            continue
        if outlet.pk != staff.outlet_id:
            moves.append(Move(key=line, staff=staff, outlet_id=outlet.pk, on=effective_from or today))
        if leaving is not None and staff.left_on != leaving:
            leaves.append(Leave(key=line, staff=staff, on=leaving))
    # The service words its refusals as text: recognised here as messages (common.wording). R-PERF-5: a move
    # into a locked month posts its adjustments.
    refused.update({k: recognise(v) for k, v in memberships_change_adjusted(actor=actor, moves=moves,
                                                                            leaves=leaves, today=today).items()})
    result.errors.extend(sorted(refused.items()))
    leaving_today = {leave.key for leave in leaves if leave.key not in refused and leave.on <= today}
    leaving_today |= {p[0] for p in good if (s := staff_by_no.get(p[1])) is not None
                      and s.left_on is not None and s.left_on <= today}
    return [p for p in good if p[0] not in refused], leaving_today


# --- account events --------------------------------------------------------------------------------------

