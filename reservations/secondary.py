"""Secondary development and special new accounts (§7): pre-assignment, the assignee's reservation,
the nightly secondary matching, and the special-new application.

- **R-SEC-4** The branch pre-assigns lost / dormant / silent customers of the branch to its front staff;
  a partial unique index keeps at most one active pre-assignment per customer, whichever branch tries.
  The assignee reserves (`SECONDARY_DEV`, through `reservation_register`, validity R-RES-2); the
  nightly stage `match_secondary` creates `SECONDARY_DEV` for him when the customer reactivates by
  the rule of his class:
  - lost (R-SEC-1): a reopening of a securities account or a re-designation dated **more than** three
    calendar months after the loss (loss 2026-01-15 → from 2026-04-16; month ends clamp as in
    R-RES-2), or an own-request cross-branch transfer (`transfer_in_branch`) at any time;
  - dormant (R-SEC-2): an activation or a reopening;
  - silent (R-SEC-3): from the day of the reservation, assets transferred in adding up to 1,000 yuan
    or more **and** at least one trade; the relationship starts on the day both hold.
  The reactivation must come after the reservation's registration and inside its validity.
- **R-SEC-5** Without a pre-assignment, staff file a special-new application: a reservation of the
  type their kind holds (`NEW_DEV` front staff, `BROKER_DEV` brokers) with an approval case on the
  special-new chain (branch designated person → branch head or delegate → HQ).

The matching follows `reservations.matching`: units of active pre-assignments, one transaction per
unit, one statement reading every candidate of the unit, outcomes decided in memory, bulk writes.
A re-run finds the developed assignments gone and matched reservations no longer open (idempotent).
"""
from __future__ import annotations

import datetime as dt
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Sequence

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from approvals.models import ApprovalCase, CaseReason, CaseStatus
from approvals.services import case_open
from permissions.models import Role, RoleKind
from relationships.audit import audit, audit_many
from relationships.classification import metrics_tables
from relationships.identity import normalise_name
from relationships.models import (Account, AccountEvent, Customer, CustomerClass, PreAssignment,
                                  PreAssignmentStatus, Relationship, RelationshipShare, RelationshipType, Staff,
                                  StaffKind)
from relationships.pii import decrypt, encrypt, mask_id, mask_phone, pii_hashes
from relationships.pii_store import identity_hash
from relationships.services import active_holder_outlet, attach_refusal
from reservations.matching import _PARTICIPANTS_SQL, _apply_reservation_updates, _attach_problem
from reservations.models import OPEN_STATUSES, Reservation, ReservationParticipant, ReservationStatus
from reservations.services import ReservationInput, reservation_register, reservation_validate, validity_end

log = logging.getLogger(__name__)
ACTOR = "nightly-batch"
SECONDARY = "SECONDARY_DEV"
ASSIGNING_ROLES = (RoleKind.BRANCH, RoleKind.BRANCH_HEAD)
HQ_ROLES = (RoleKind.HQ,)


# --------------------------------------------------------------------------------------------------
# Who may pre-assign, and which customers are "of" a branch
# --------------------------------------------------------------------------------------------------

def is_hq(user) -> bool:
    return bool(user.is_superuser or Role.objects.filter(user=user, kind__in=HQ_ROLES).exists())


def assigning_branch_ids(user) -> set[int] | None:
    """Branches whose customers `user` may pre-assign; None means every branch (HQ)."""
    if not getattr(user, "is_authenticated", False):
        return set()
    if is_hq(user):
        return None
    return set(Role.objects.filter(user=user, kind__in=ASSIGNING_ROLES).values_list("organisation_id", flat=True))


def customer_branch_ids(customer_ids: Sequence[int]) -> dict[int, set[int]]:
    """A customer belongs to the branch of his classification's outlet and of every outlet he has an account at."""
    result: dict[int, set[int]] = defaultdict(set)
    if not customer_ids:
        return result
    with connection.cursor() as cur:
        cur.execute("""
            SELECT c.customer_id, o.branch_id FROM relationships_customerclass c
            JOIN relationships_organisation o ON o.id = c.outlet_id
            WHERE c.customer_id = ANY(%s) AND c.ended_on IS NULL
            UNION
            SELECT a.customer_id, o.branch_id FROM relationships_account a
            JOIN relationships_organisation o ON o.id = a.outlet_id
            WHERE a.customer_id = ANY(%s)""", [list(customer_ids), list(customer_ids)])
        for customer_id, branch_id in cur.fetchall():
            if branch_id is not None:
                result[customer_id].add(branch_id)
    return result


# --------------------------------------------------------------------------------------------------
# R-SEC-4 pre-assignment
# --------------------------------------------------------------------------------------------------

@dataclass
class AssignResult:
    assigned: list[int] = field(default_factory=list)          # pre-assignment ids
    refused: dict[int, str] = field(default_factory=dict)      # customer id → reason


def preassign(*, actor, customer_ids: Sequence[int], staff: Staff, assigned_at: dt.datetime | None = None,
              source: str = "form", replace: bool = False) -> AssignResult:
    """Pre-assign each customer to `staff`; every customer is judged on its own (the good ones are kept).

    Refused as a whole: a staff member who may not hold `SECONDARY_DEV` (front staff, attach permission
    and securities qualification, R-ATT-1), or an actor without a branch role at the staff's branch.
    Refused per customer: not currently lost / dormant / silent; not a customer of the staff's branch;
    already pre-assigned (to the same staff, or — unless `replace` by the same branch — to anyone).
    """
    rel_type = RelationshipType.objects.get(code=SECONDARY)
    staff = Staff.objects.select_related("outlet").get(pk=staff.pk)
    branch_id = staff.outlet.branch_id
    if actor is not None and not isinstance(actor, str):
        allowed = assigning_branch_ids(actor)
        if allowed is not None and branch_id not in allowed:
            raise PermissionDenied(_("You may pre-assign customers only to staff of your own branch."))
    assigned_at = assigned_at or timezone.now()
    refusal = attach_refusal(staff, rel_type, timezone.localtime(assigned_at).date())
    if refusal:
        raise ValidationError({"staff": [refusal]})
    ids = list(dict.fromkeys(int(i) for i in customer_ids))
    result = AssignResult()
    if not ids:
        return result
    with transaction.atomic():
        classes = {c.customer_id: c for c in CustomerClass.objects.filter(customer_id__in=ids, ended_on__isnull=True)}
        branches = customer_branch_ids(ids)
        current = {a.customer_id: a for a in PreAssignment.objects.select_for_update().select_related(
            "staff__outlet").filter(customer_id__in=ids, status=PreAssignmentStatus.ACTIVE)}
        to_end: list[PreAssignment] = []
        wanted: list[int] = []
        for cid in ids:
            if cid not in classes:
                result.refused[cid] = _("The customer is not currently lost, dormant or silent. [R-SEC-4]")
            elif branch_id not in branches.get(cid, set()):
                result.refused[cid] = _("The customer is not a customer of %(branch)s. [R-SEC-4]") % {
                    "branch": staff.outlet.branch.name if staff.outlet.branch_id else staff.outlet.name}
            elif cid in current:
                existing = current[cid]
                if existing.staff_id == staff.pk:
                    result.refused[cid] = _("The customer is already pre-assigned to this staff member.")
                elif replace and existing.branch_id == branch_id:
                    to_end.append(existing)
                    wanted.append(cid)
                else:  # name the outlet, never the assignee (as R-RES-5)
                    result.refused[cid] = _("The customer is already pre-assigned, with %(outlet)s; a customer has "
                                            "at most one active pre-assignment. [R-SEC-4]") % {
                        "outlet": existing.staff.outlet.name}
            else:
                wanted.append(cid)
        now = timezone.now()
        for old in to_end:
            old.status, old.ended_at = PreAssignmentStatus.ENDED, now
            old.end_note = _("Reassigned by the branch to %(staff)s.") % {"staff": staff.staff_no}
        if to_end:
            PreAssignment.objects.bulk_update(to_end, ["status", "ended_at", "end_note"])
            audit_many(actor=actor, action="preassignment.end", model_label="relationships.preassignment",
                       rows=[(a.pk, {"status": "active"}, {"status": a.status, "note": a.end_note}) for a in to_end])
        if wanted:
            user_id = None if actor is None or isinstance(actor, str) else actor.pk
            with connection.cursor() as cur:
                # The partial unique index decides races between branches: the loser's row is not inserted.
                cur.execute("""
                    INSERT INTO relationships_preassignment (customer_id, classification_id, staff_id, branch_id,
                        assigned_at, assigned_by_id, source, status, end_note)
                    SELECT v.cid, v.class_id, %s, %s, %s, %s, %s, 'active', ''
                    FROM unnest(%s::bigint[], %s::bigint[]) AS v(cid, class_id)
                    ON CONFLICT (customer_id) WHERE status = 'active' DO NOTHING
                    RETURNING id, customer_id""",
                            [staff.pk, branch_id, assigned_at, user_id, source, wanted,
                             [classes[c].pk for c in wanted]])
                rows = cur.fetchall()
            inserted = {cid: pk for pk, cid in rows}
            for cid in wanted:
                if cid in inserted:
                    result.assigned.append(inserted[cid])
                else:
                    result.refused[cid] = _("The customer was pre-assigned by someone else a moment ago; a customer "
                                            "has at most one active pre-assignment. [R-SEC-4]")
            audit_many(actor=actor, action="preassignment.create", model_label="relationships.preassignment", rows=[
                (pk, None, {"customer": cid, "staff_no": staff.staff_no, "class": classes[cid].kind,
                            "assigned_at": assigned_at.isoformat(), "source": source})
                for cid, pk in inserted.items()])
    return result


def preassignment_end(*, actor, assignment_id: int, note: str = "") -> PreAssignment:
    """The branch withdraws a pre-assignment (the customer can then be assigned to someone else)."""
    with transaction.atomic():
        a = PreAssignment.objects.select_for_update().get(pk=assignment_id)
        allowed = assigning_branch_ids(actor)
        if allowed is not None and a.branch_id not in allowed:
            raise PermissionDenied(_("Only the branch that made a pre-assignment may end it."))
        if a.status != PreAssignmentStatus.ACTIVE:
            raise ValidationError(_("This pre-assignment is no longer active."))
        a.status, a.ended_at, a.end_note = PreAssignmentStatus.ENDED, timezone.now(), note[:300]
        a.save(update_fields=["status", "ended_at", "end_note"])
        audit(actor=actor, action="preassignment.end", target=a, before={"status": "active"},
              after={"status": a.status, "note": a.end_note})
    return a


def secondary_reserve(*, actor, assignment_id: int, staff: Staff, phone: str,
                      participants: Sequence[tuple[Staff, object]] | None = None,
                      registered_at: dt.datetime | None = None, source: str = "form") -> Reservation:
    """R-SEC-4: the assignee reserves his pre-assigned customer (R-RES-1…5 through `reservation_register`)."""
    a = PreAssignment.objects.select_related("customer").filter(pk=assignment_id).first()
    if a is None or a.staff_id != staff.pk:
        raise PermissionDenied(_("This customer is not pre-assigned to you."))
    if a.status != PreAssignmentStatus.ACTIVE:
        raise ValidationError(_("This pre-assignment is no longer active."))
    return reservation_register(actor=actor, data=ReservationInput(
        staff=staff, type_code=SECONDARY, customer_name=a.customer.name,
        id_number=decrypt(a.customer.id_encrypted), phone=phone, participants=participants,
        registered_at=registered_at, source=source))


def unreserved_assignments(staff: Staff):
    """R-REM-1: the staff member's active pre-assignments without an open secondary reservation of his."""
    open_res = Reservation.objects.filter(staff_id=OuterRef("staff_id"), type_id=SECONDARY,
                                          id_hash=OuterRef("customer__id_hash"), status__in=OPEN_STATUSES)
    return (PreAssignment.objects.filter(staff=staff, status=PreAssignmentStatus.ACTIVE)
            .exclude(Exists(open_res))
            .select_related("customer", "classification", "classification__outlet")
            .order_by("assigned_at", "id"))


# --------------------------------------------------------------------------------------------------
# The nightly secondary matching
# --------------------------------------------------------------------------------------------------

_UNIT_SQL = """
SELECT pa.id FROM relationships_preassignment pa
WHERE pa.status = 'active' AND pa.id > %s
  AND EXISTS (SELECT 1 FROM reservations_reservation r JOIN relationships_customer c ON c.id_hash = r.id_hash
              WHERE c.id = pa.customer_id AND r.type_id = 'SECONDARY_DEV' AND r.staff_id = pa.staff_id
                AND r.status IN ('active', 'expired'))
ORDER BY pa.id LIMIT %s
"""

_EVENT_REACTIVATION = """
LEFT JOIN LATERAL (
    SELECT e.id, e.event_time, e.business_date, e.outlet_id, e.customer_name
    FROM relationships_accountevent e
    WHERE cc.kind IN ('lost', 'dormant') AND e.customer_id = pa.customer_id
      AND e.event_time > r.registered_at AND e.event_time > COALESCE(cc.since_at, '-infinity'::timestamptz)
      AND e.business_date <= LEAST(r.valid_until, %(d)s)
      AND ((cc.kind = 'lost'
            AND (e.kind = 'transfer_in_branch'
                 OR ((e.kind = 'designate' OR (e.kind = 'open' AND e.account_type = 'securities'))
                     AND e.business_date > (cc.since + interval '3 months')::date)))
        OR (cc.kind = 'dormant' AND e.kind IN ('activate', 'open')))
    ORDER BY e.event_time, e.id
    LIMIT 1
) ev ON true
"""

_METRIC_REACTIVATION = """
LEFT JOIN LATERAL (
    SELECT s.date FROM (
        SELECT m.date, sum(m.transfer_in) OVER w AS tin, sum(m.trade_count) OVER w AS trades
        FROM {metrics} m
        WHERE cc.kind = 'silent' AND m.customer_id = pa.customer_id
          AND m.date >= (r.registered_at AT TIME ZONE %(tz)s)::date AND m.date > cc.since
          AND m.date <= LEAST(r.valid_until, %(d)s)
        WINDOW w AS (ORDER BY m.date ROWS UNBOUNDED PRECEDING)
    ) s
    WHERE s.tin >= %(threshold)s AND s.trades >= 1
    ORDER BY s.date
    LIMIT 1
) sil ON true
"""

_CANDIDATES_SQL = """
SELECT pa.id, pa.customer_id, pa.staff_id, cc.kind, cc.outlet_id, c.name,
       r.id, r.name_normalised,
       ev.id, ev.event_time, ev.business_date, ev.outlet_id, ev.customer_name,
       {silent_date},
       EXISTS (SELECT 1 FROM relationships_relationship x
               WHERE x.customer_id = pa.customer_id AND x.type_id = 'SECONDARY_DEV' AND x.effective_to IS NULL)
FROM relationships_preassignment pa
JOIN relationships_customerclass cc ON cc.id = pa.classification_id
JOIN relationships_customer c ON c.id = pa.customer_id
JOIN reservations_reservation r
  ON r.id_hash = c.id_hash AND r.type_id = 'SECONDARY_DEV' AND r.staff_id = pa.staff_id
 AND r.status IN ('active', 'expired') AND r.valid_until >= cc.since
{event_join}
{metric_join}
WHERE pa.id = ANY(%(ids)s) AND pa.status = 'active'
ORDER BY pa.id, r.registered_at, r.id
"""


@dataclass
class Reactivation:
    assignment_id: int
    customer_id: int
    staff_id: int
    reservation_id: int
    on: dt.date
    event_id: int | None
    outlet_id: int | None
    name_ok: bool
    already_held: bool


def _after_unit_committed(units_done: int) -> None:
    """Seam for crash tests, as in `reservations.matching`."""


def match_secondary(*, business_date: dt.date, chunk_size: int | None = None) -> Counter:
    """The nightly stage: reactivated pre-assigned customers become `SECONDARY_DEV` (R-SEC-1/2/3/4)."""
    size = chunk_size or settings.MATCH_CHUNK_SIZE
    totals: Counter = Counter()
    rel_type = RelationshipType.objects.get(code=SECONDARY)
    last_id, units = 0, 0
    while True:
        with transaction.atomic():
            with connection.cursor() as cur:
                cur.execute(_UNIT_SQL, [last_id, size])
                ids = [row[0] for row in cur.fetchall()]
            if not ids:
                break
            totals.update(_match_unit(ids, business_date, rel_type))
        last_id = ids[-1]
        units += 1
        _after_unit_committed(units)
    totals["lapsed"] = lapse_assignments(business_date=business_date)
    totals["units"] = units
    return totals


def _candidates(ids: list[int], business_date: dt.date) -> list[Reactivation]:
    tables = metrics_tables()
    params = {"ids": ids, "d": business_date, "tz": settings.TIME_ZONE, "threshold": 1000}
    sql = _CANDIDATES_SQL.format(
        silent_date="sil.date" if tables else "NULL::date",
        event_join=_EVENT_REACTIVATION,
        metric_join=_METRIC_REACTIVATION.format(metrics=tables[0]) if tables else "")
    found: dict[int, Reactivation] = {}
    with connection.cursor() as cur:
        cur.execute(sql, params)
        for (aid, cid, staff_id, kind, class_outlet, cname, rid, rname, eid, etime, edate, eoutlet, ename,
             sdate, held) in cur.fetchall():
            if aid in found:
                continue  # the earliest reservation that meets a reactivation wins
            if eid is not None:
                found[aid] = Reactivation(aid, cid, staff_id, rid, edate, eid, eoutlet,
                                          rname == normalise_name(ename), held)
            elif sdate is not None:
                found[aid] = Reactivation(aid, cid, staff_id, rid, sdate, None, class_outlet,
                                          rname == normalise_name(cname), held)
    return list(found.values())


def _match_unit(ids: list[int], business_date: dt.date, rel_type: RelationshipType) -> Counter:
    counts: Counter = Counter(assignments_read=len(ids))
    hits = _candidates(ids, business_date)
    if not hits:
        return counts
    participants: dict[int, list[tuple]] = defaultdict(list)
    with connection.cursor() as cur:
        cur.execute(_PARTICIPANTS_SQL, [business_date, business_date, [h.reservation_id for h in hits]])
        for rid, staff_id, ratio, attach_open, kind, branch_id, quals in cur.fetchall():
            participants[rid].append((staff_id, ratio, attach_open, kind, branch_id, set(quals or [])))
    staff_outlets = dict(Staff.objects.filter(pk__in={h.staff_id for h in hits}).values_list("id", "outlet_id"))

    res_updates: list[tuple] = []
    developed: list[tuple[Reactivation, int]] = []
    lapsed: list[int] = []
    new_rels: list[Reactivation] = []
    for h in hits:
        if h.already_held:
            res_updates.append((h.reservation_id, ReservationStatus.REFUSED,
                                _("The customer already holds this relationship type."), h.event_id, None, None))
            lapsed.append(h.assignment_id)
            counts["refused"] += 1
        elif not h.name_ok:
            res_updates.append((h.reservation_id, ReservationStatus.FLAGGED, _(
                "The customer name differs from the customer's name at the reactivation on %(date)s. [R-MATCH-2]")
                % {"date": h.on}, h.event_id, None, None))
            counts["flagged"] += 1
        else:
            refusal = _attach_problem(participants[h.reservation_id], rel_type, None)
            if refusal:
                res_updates.append((h.reservation_id, ReservationStatus.FLAGGED, refusal, h.event_id, None, None))
                counts["flagged"] += 1
            else:
                new_rels.append(h)

    if new_rels:
        rels = Relationship.objects.bulk_create([
            Relationship(customer_id=h.customer_id, type=rel_type, effective_from=h.on, source="secondary",
                         origin_event_id=h.event_id, outlet_id=h.outlet_id or staff_outlets.get(h.staff_id))
            for h in new_rels])
        shares = []
        for rel, h in zip(rels, new_rels):
            for staff_id, ratio, *_rest in participants[h.reservation_id]:
                shares.append(RelationshipShare(relationship=rel, staff_id=staff_id, ratio=ratio,
                                                effective_from=h.on))
            res_updates.append((h.reservation_id, ReservationStatus.MATCHED, "", h.event_id, rel.pk, None))
            developed.append((h, rel.pk))
        RelationshipShare.objects.bulk_create(shares, batch_size=5000)
        audit_many(actor=ACTOR, action="relationship.create", model_label="relationships.relationship", rows=[
            (rel.pk, None, {"type": SECONDARY, "effective_from": h.on.isoformat(), "source": "secondary",
                            "reservation": h.reservation_id, "preassignment": h.assignment_id,
                            "shares": [{"staff_id": p[0], "ratio": str(p[1])} for p in participants[h.reservation_id]]})
            for rel, h in zip(rels, new_rels)])
        counts["matched"] += len(rels)

    _apply_reservation_updates(res_updates)
    now = timezone.now()
    with connection.cursor() as cur:
        if developed:
            cur.execute("""
                UPDATE relationships_preassignment pa SET status = 'developed', relationship_id = v.rel_id,
                       ended_at = %s
                FROM unnest(%s::bigint[], %s::bigint[]) AS v(id, rel_id) WHERE pa.id = v.id""",
                        [now, [h.assignment_id for h, _r in developed], [r for _h, r in developed]])
        if lapsed:
            cur.execute("UPDATE relationships_preassignment SET status = 'lapsed', ended_at = %s, end_note = %s "
                        "WHERE id = ANY(%s)", [now, _("The customer already holds a secondary development "
                                                      "relationship."), lapsed])
    audit_many(actor=ACTOR, action="preassignment.outcome", model_label="relationships.preassignment", rows=[
        (h.assignment_id, {"status": "active"}, {"status": "developed", "relationship": r}) for h, r in developed
    ] + [(i, {"status": "active"}, {"status": "lapsed"}) for i in lapsed])
    return counts


def lapse_assignments(*, business_date: dt.date) -> int:
    """Active pre-assignments whose customer is no longer lost / dormant / silent and whose assignee has no
    open secondary reservation for him lapse (the customer came back on his own)."""
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("""
            UPDATE relationships_preassignment pa SET status = 'lapsed', ended_at = now(), end_note = %s
            WHERE pa.status = 'active'
              AND NOT EXISTS (SELECT 1 FROM relationships_customerclass c
                              WHERE c.customer_id = pa.customer_id AND c.ended_on IS NULL)
              AND NOT EXISTS (SELECT 1 FROM reservations_reservation r
                              JOIN relationships_customer cu ON cu.id_hash = r.id_hash
                              WHERE cu.id = pa.customer_id AND r.type_id = 'SECONDARY_DEV'
                                AND r.staff_id = pa.staff_id AND r.status IN ('active', 'flagged'))
            RETURNING pa.id""", [_("The customer is no longer lost, dormant or silent.")])
        ids = [row[0] for row in cur.fetchall()]
        audit_many(actor=ACTOR, action="preassignment.lapse", model_label="relationships.preassignment",
                   rows=[(i, {"status": "active"}, {"status": "lapsed", "on": business_date.isoformat()})
                         for i in ids])
    return len(ids)


# --------------------------------------------------------------------------------------------------
# R-SEC-5 special new
# --------------------------------------------------------------------------------------------------

SPECIAL_NEW_TYPE_BY_KIND = {StaffKind.BROKER: "BROKER_DEV"}
SPECIAL_NEW_DEFAULT_TYPE = "NEW_DEV"
SPECIAL_NEW_CLASS_GRACE_DAYS = 31
COMEBACK_KINDS = ("open", "designate", "activate", "transfer_in_branch")


def special_new_type(staff: Staff) -> str:
    return SPECIAL_NEW_TYPE_BY_KIND.get(staff.kind, SPECIAL_NEW_DEFAULT_TYPE)


@dataclass
class SpecialNewInput:
    staff: Staff
    customer_name: str
    id_number: str
    phone: str
    explanation: str = ""
    participants: Sequence[tuple[Staff, object]] | None = None
    registered_at: dt.datetime | None = None


def special_new_apply(*, actor, data: SpecialNewInput) -> Reservation:
    """R-SEC-5: reservation + special-new application → 3-level chain → `NEW_DEV` / `BROKER_DEV`.

    The customer must be lost, dormant or silent (or have stopped being so in the last month, when he
    came back); he may not be pre-assigned to anyone (the assignee reserves as secondary development).
    """
    type_code = special_new_type(data.staff)
    clean = reservation_validate(ReservationInput(
        staff=data.staff, type_code=type_code, customer_name=data.customer_name, id_number=data.id_number,
        phone=data.phone, participants=data.participants, registered_at=data.registered_at, source="special"))
    id_hashes = pii_hashes(clean.id_number)  # R-PII-1: every live key version
    rt = clean.rel_type
    customer = Customer.objects.filter(id_hash__in=id_hashes).first()
    today = timezone.localtime(clean.registered_at).date()
    cls = None
    if customer is not None:
        cls = (CustomerClass.objects.filter(customer=customer)
               .filter(_open_or_recent(today)).order_by("-detected_on", "-id").first())
    if cls is None:
        raise ValidationError({"id_number": [_(
            "This customer is not a lost, dormant or silent customer, so a special-new application does not "
            "apply. [R-SEC-5]")]})
    assignment = (PreAssignment.objects.select_related("staff__outlet")
                  .filter(customer=customer, status=PreAssignmentStatus.ACTIVE).first())
    if assignment is not None:
        if assignment.staff_id == data.staff.pk:
            msg = _("This customer is pre-assigned to you: register a secondary development reservation "
                    "instead. [R-SEC-4]")
        else:
            msg = _("This customer is pre-assigned, with %(outlet)s. [R-SEC-4]") % {
                "outlet": assignment.staff.outlet.name}
        raise ValidationError({"id_number": [msg]})
    holder_outlet = active_holder_outlet(id_hashes=id_hashes, rel_type=rt)
    if holder_outlet is not None:  # R-RES-5
        raise ValidationError({"id_number": [_(
            "This customer already holds a %(type)s relationship, with %(outlet)s.") % {
            "type": rt.name, "outlet": holder_outlet.name}]})
    if ApprovalCase.objects.filter(customer=customer, type=rt,
                                   status__in=[CaseStatus.PENDING, CaseStatus.RETURNED]).exists():
        raise ValidationError({"id_number": [_(
            "An approval case for this customer's %(type)s relationship is already in progress.") % {"type": rt.name}]})
    # The comeback (reopening, designation, activation, transfer) dates the relationship, if there is one.
    comebacks = AccountEvent.objects.filter(customer=customer, kind__in=COMEBACK_KINDS,
                                            event_time__lte=clean.registered_at)
    if cls.since_at is not None:
        comebacks = comebacks.filter(event_time__gt=cls.since_at)
    else:  # silent: a comeback after the month-end that made him silent
        comebacks = comebacks.filter(business_date__gt=cls.since)
    comeback = comebacks.select_related("outlet").order_by("-event_time", "-id").first()

    with transaction.atomic():
        reservation = Reservation.objects.create(
            staff=data.staff, outlet=data.staff.outlet, type=rt, customer_name=clean.customer_name,
            name_normalised=normalise_name(clean.customer_name), id_hash=identity_hash(clean.id_number),
            id_encrypted=encrypt(clean.id_number),
            id_masked=mask_id(clean.id_number), phone_encrypted=encrypt(clean.phone),
            phone_masked=mask_phone(clean.phone), registered_at=clean.registered_at,
            valid_until=validity_end(clean.registered_at), status=ReservationStatus.PENDING_APPROVAL,
            source="special", created_by=None if actor is None or isinstance(actor, str) else actor)
        ReservationParticipant.objects.bulk_create(
            ReservationParticipant(reservation=reservation, staff=s.staff, ratio=s.ratio) for s in clean.shares)
        case = case_open(
            actor=actor, reason=CaseReason.SPECIAL_NEW, rel_type=rt, customer=customer,
            proposed_shares=[{"staff_id": s.staff.pk, "ratio": str(s.ratio)} for s in clean.shares],
            dedupe_key=f"special_new:reservation:{reservation.pk}", branch=data.staff.outlet.branch,
            applicant=data.staff, opening_event=comeback,
            explanation=(_("Special new: a %(kind)s customer (since %(since)s) developed without a pre-assignment. "
                           "[R-SEC-5]") % {"kind": cls.get_kind_display(), "since": cls.since})
                        + (f"\n{data.explanation.strip()}" if data.explanation.strip() else ""))
        reservation.approval_case = case
        reservation.matched_event = comeback
        reservation.save(update_fields=["approval_case", "matched_event", "updated_at"])
        audit(actor=actor, action="reservation.special_new", target=reservation, after={
            "staff_no": data.staff.staff_no, "type": rt.code, "id": reservation.id_masked, "case": case.pk,
            "class": cls.kind, "participants": [{"staff_no": s.staff.staff_no, "ratio": str(s.ratio)}
                                                for s in clean.shares]})
    return reservation


def _open_or_recent(today: dt.date) -> Q:
    return Q(ended_on__isnull=True) | Q(ended_on__gte=today - dt.timedelta(days=SPECIAL_NEW_CLASS_GRACE_DAYS))


def classified_customers(branch_ids: set[int] | None):
    """Open classes, optionally limited to customers of the given branches (class outlet or an account there)."""
    qs = CustomerClass.objects.filter(ended_on__isnull=True)
    if branch_ids is not None:
        qs = qs.filter(Q(outlet__branch_id__in=branch_ids) | Exists(Account.objects.filter(
            customer_id=OuterRef("customer_id"), outlet__branch_id__in=branch_ids)))
    return qs



# --------------------------------------------------------------------------------------------------
# The `assignments` feed (§12): id_number,staff_no,assigned_at — the same rules as the form
# --------------------------------------------------------------------------------------------------

def load_assignments(actor, rows, result) -> None:
    """`manage.py load_feed assignments FILE`: each line through `preassign`; a refused line keeps its reason."""
    from reservations.feeds import LineError, _first_message, _parse_time

    from relationships.identity import normalise_id_number

    staff_by_no = {s.staff_no: s for s in Staff.objects.select_related("outlet")}
    for line, row in rows:
        try:
            try:
                id_number = normalise_id_number(row.get("id_number", ""))
            except ValidationError as exc:
                raise LineError(" ".join(exc.messages))
            customer = Customer.objects.filter(id_hash__in=pii_hashes(id_number)).first()
            if customer is None:
                raise LineError(_("No customer with this ID card number is known to the platform."))
            staff = staff_by_no.get(row.get("staff_no", ""))
            if staff is None:
                raise LineError(_("staff_no “%(no)s” is not a known staff member.") % {"no": row.get("staff_no")})
            assigned_at = _parse_time(row.get("assigned_at", ""), "assigned_at")
            with transaction.atomic():
                outcome = preassign(actor=actor, customer_ids=[customer.pk], staff=staff, assigned_at=assigned_at,
                                    source="feed")
            if outcome.refused:
                raise LineError(outcome.refused[customer.pk])
            result.rows_loaded += 1
        except LineError as exc:
            result.errors.append((line, str(exc)))
        except ValidationError as exc:
            result.errors.append((line, _first_message(exc)))
        except PermissionDenied as exc:
            result.errors.append((line, str(exc)))
