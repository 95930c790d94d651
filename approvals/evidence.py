"""The conflict page's reads (R-MATCH-3): every claimant side by side, and one evidence timeline.

A fixed number of queries whatever the number of claimants, co-developers, actions and earlier cases: the
claimants with their staff, outlet and branch; the co-developers; the reservations' trail (registration,
withdrawal, correction); the customer's relationships and classifications; his earlier cases; whether the
viewer may open his page (R-PERM-4). The case's own actions come with the case (`selectors.case_detail`).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from approvals.models import ApprovalCase, CaseClaimant, Post
from approvals.selectors import visible_cases
from permissions.scoping import visible_history_customers
from relationships.models import AuditEntry, CustomerClass, Relationship, Staff

RESERVATION_TRAIL = {
    "reservation.register": lambda: _("Reservation registered"),
    "reservation.special_new": lambda: _("Special-new application filed"),
    "reservation.withdraw": lambda: _("Reservation withdrawn"),
    "reservation.correct": lambda: _("Reservation corrected"),
}
DECISIONS = {
    "approve": lambda: _("approved"), "reject": lambda: _("rejected"), "return": lambda: _("returned for correction"),
    "resubmit": lambda: _("resubmitted"), "withdraw": lambda: _("withdrew the case"),
    "documents": lambda: _("recorded the broker documents"), "join": lambda: _("a claim joined the case"),
}


@dataclass
class ClaimantColumn:
    staff: Staff
    registered_at: dt.datetime
    late: bool
    late_workdays: int | None
    shares: list[tuple[Staff | None, str]] = field(default_factory=list)


@dataclass
class EvidenceItem:
    at: dt.datetime
    kind: str
    text: str
    url: str = ""
    date_only: bool = False


def _start_of(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def conflict_evidence(user, case: ApprovalCase) -> dict:
    """The claimants (registration order) and the timeline (oldest first) for the case page."""
    claims = list(CaseClaimant.objects.filter(case=case).select_related("staff__outlet__branch")
                  .order_by("registered_at", "id"))
    opened_at = case.opening_event.event_time if case.opening_event_id and case.opening_event else None
    co_ids = {int(s["staff_id"]) for c in claims for s in c.shares}
    co = Staff.objects.select_related("outlet").in_bulk(co_ids) if co_ids else {}
    columns = [ClaimantColumn(
        staff=c.staff, registered_at=c.registered_at, late_workdays=c.late_workdays,
        late=c.late_workdays is not None or (opened_at is not None and c.registered_at >= opened_at),
        shares=[(co.get(int(s["staff_id"])), s["ratio"]) for s in c.shares]) for c in claims]

    items: list[EvidenceItem] = []
    if opened_at is not None and case.opening_event is not None:
        items.append(EvidenceItem(opened_at, _("Account opened"), _("Account opened at %(outlet)s.") % {
            "outlet": case.opening_outlet.name if case.opening_outlet else "—"}))
    items.append(EvidenceItem(case.created_at, _("Case opened"), str(case.get_reason_display())))
    staff_of = {str(c.reservation_id): c.staff for c in claims if c.reservation_id}
    for entry in (AuditEntry.objects.filter(target_model="reservations.reservation", target_id__in=list(staff_of),
                                            action__in=list(RESERVATION_TRAIL)).order_by("at", "id")):
        staff = staff_of[entry.target_id]
        when = entry.at
        if entry.action == "reservation.register" and isinstance(entry.after, dict) and entry.after.get(
                "registered_at"):
            when = dt.datetime.fromisoformat(entry.after["registered_at"])
        items.append(EvidenceItem(when, RESERVATION_TRAIL[entry.action](), _("%(staff_no)s %(name)s, %(outlet)s") % {
            "staff_no": staff.staff_no, "name": staff.name, "outlet": staff.outlet.name}))
    for rel in (Relationship.objects.filter(customer_id=case.customer_id).select_related("type", "outlet")
                .order_by("effective_from", "id")):
        items.append(EvidenceItem(_start_of(rel.effective_from), _("Earlier relationship"), _(
            "%(type)s at %(outlet)s, from %(start)s to %(end)s.") % {
            "type": rel.type.label, "outlet": rel.outlet.name if rel.outlet else "—", "start": rel.effective_from,
            "end": rel.effective_to or _("today")}, date_only=True))
    for cls in CustomerClass.objects.filter(customer_id=case.customer_id).order_by("since", "id"):
        items.append(EvidenceItem(cls.since_at or _start_of(cls.since), _("Classification"), _(
            "%(kind)s customer from %(since)s to %(ended)s.") % {
            "kind": cls.get_kind_display(), "since": cls.since, "ended": cls.ended_on or _("today")},
            date_only=cls.since_at is None))
    earlier = list(ApprovalCase.objects.filter(customer_id=case.customer_id).exclude(pk=case.pk)
                   .select_related("type").order_by("created_at", "id"))
    seen = set(visible_cases(user).filter(pk__in=[c.pk for c in earlier]).values_list("pk", flat=True)) \
        if earlier else set()
    for other in earlier:
        items.append(EvidenceItem(other.created_at, _("Earlier case"), _(
            "Case #%(id)s, %(type)s: %(reason)s, %(status)s.") % {
            "id": other.pk, "type": other.type.label, "reason": other.get_reason_display(),
            "status": other.get_status_display()},
            reverse("approvals:case", args=[other.pk]) if other.pk in seen else ""))
    for a in getattr(case, "action_list", []):
        who = a.actor.get_full_name() or a.actor.get_username() if a.actor else _("the nightly batch")
        post = Post(a.post).label if a.post in Post.values else ""
        decision = DECISIONS.get(a.decision, lambda: _("acted"))()
        text = _("%(who)s (%(post)s): %(decision)s") % {"who": who, "post": post, "decision": decision} if post \
            else _("%(who)s: %(decision)s") % {"who": who, "decision": decision}
        if a.reason:
            text += " — " + a.reason
        items.append(EvidenceItem(a.at, _("Approval action"), text))
    items.sort(key=lambda i: i.at)
    customer_url = ""
    if visible_history_customers(user).filter(pk=case.customer_id).exists():
        customer_url = reverse("work:customer", args=[case.customer_id])
    return {"claimants": columns, "timeline": items, "customer_url": customer_url}
