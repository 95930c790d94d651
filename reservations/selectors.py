"""Reads for the night report: what one business date's matching did, scoped to the user (R-PERM-4, R-MATCH-7)."""
from __future__ import annotations

import datetime as dt

from django.db.models import Count, Prefetch, QuerySet
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from approvals.models import CaseReason
from common.actors import BATCH
from common.wording import recognise, render_value
from permissions.scoping import visible_account_events, visible_batch_runs, visible_reservations
from relationships.models import AccountEvent, AccountType, AuditEntry, EventConflict, EventKind, MatchState
from reservations.models import BatchRun, Reservation, ReservationStatus

# `AccountEvent.match_outcome` as the matching stage writes it (reservations.matching); "case_<reason>" too.
OUTCOME_LABELS = {
    "matched": _("matched, relationship created"),
    "flagged": _("reservations flagged or refused"),
    "already_held": _("customer already holds the type"),
    "no_reservation": _("no reservation"),
    "no_type": _("not a reservable opening"),
    "set_aside": _("set aside after an error, retried on the next run"),
}


def outcome_label(outcome: str) -> str:
    if outcome.startswith("case_") and outcome[5:] in CaseReason.values:
        return gettext("sent to approval: %(reason)s") % {"reason": CaseReason(outcome[5:]).label}
    return str(OUTCOME_LABELS.get(outcome, outcome))
PROBLEM_STATUSES = (ReservationStatus.REFUSED, ReservationStatus.FLAGGED)


def night_runs(user, business_date: dt.date) -> list[BatchRun]:
    return list(visible_batch_runs(user).filter(business_date=business_date).order_by("started_at", "id"))


def night_openings(user, business_date: dt.date) -> QuerySet:
    """Openings the match stage of that date decided, each with the reservations it decided."""
    reservations = Reservation.objects.select_related("staff", "type").order_by("id")
    return (visible_account_events(user).filter(matched_on=business_date)
            .select_related("outlet", "customer")
            .prefetch_related(Prefetch("reservations", queryset=reservations))
            .order_by("event_time", "id"))


def night_outcome_counts(user, business_date: dt.date) -> list[tuple[str, int]]:
    counts = dict(visible_account_events(user).filter(matched_on=business_date).order_by()
                  .values_list("match_outcome").annotate(n=Count("id")))
    order = list(OUTCOME_LABELS)
    return [(outcome_label(key), n) for key, n in sorted(
        counts.items(), key=lambda kv: (order.index(kv[0]) if kv[0] in order else len(order), kv[0]))]


def night_set_aside(user, business_date: dt.date) -> QuerySet:
    """Openings that failed to match even on their own that night (the technical error is in the log)."""
    return (visible_account_events(user).filter(matched_on=business_date, match_state=MatchState.FAILED)
            .select_related("outlet", "customer").order_by("event_time", "id"))


def night_problems(user, business_date: dt.date) -> QuerySet:
    """Reservations that night refused or flagged, with the reason the batch wrote."""
    return (visible_reservations(user)
            .filter(matched_event__matched_on=business_date, status__in=PROBLEM_STATUSES)
            .select_related("staff", "type", "outlet").order_by("id"))


def night_calendar_unknown(user, business_date: dt.date) -> QuerySet:
    """R-CAL-1: reservations decided that day on a late window counted through a year neither calendar knew
    (Monday–Friday): to be reviewed once HQ has loaded the year."""
    return (visible_reservations(user).filter(calendar_unknown_on=business_date)
            .select_related("staff", "type", "outlet", "matched_event", "approval_case").order_by("id"))


def night_event_conflicts(user, business_date: dt.date) -> QuerySet:
    """§12: lines that re-sent a known event_id with different content, refused by the feed, listed on the night
    of the event they contradict — visible where that event is."""
    return (EventConflict.objects.filter(business_date=business_date, event__in=visible_account_events(user))
            .select_related("event", "event__outlet", "event__customer").order_by("id"))


_CONFLICT_LABELS = {"event_time": AccountEvent._meta.get_field("event_time").verbose_name,
                    "kind": AccountEvent._meta.get_field("kind").verbose_name,
                    "id_number": _("ID card number"),
                    "customer_name": AccountEvent._meta.get_field("customer_name").verbose_name,
                    "account_no": AccountEvent._meta.get_field("account_no").verbose_name,
                    "account_type": AccountEvent._meta.get_field("account_type").verbose_name,
                    "outlet_code": _("outlet code")}
_CONFLICT_CHOICES = {"kind": EventKind, "account_type": AccountType}


def conflict_differences(conflict: EventConflict) -> list[tuple[str, str, str]]:
    """(field, as loaded, as re-sent) in the reader's language: the fields' names, the kinds' labels."""
    rows = []
    for column in _CONFLICT_LABELS:
        if column not in conflict.differences:
            continue
        before, after = conflict.differences[column]
        choices = _CONFLICT_CHOICES.get(column)
        if choices is not None:
            before, after = (str(choices(v).label) if v in choices.values else v for v in (before, after))
        elif column == "event_time":
            before, after = (dt.datetime.fromisoformat(v).strftime("%Y-%m-%d %H:%M:%S%z") for v in (before, after))
        rows.append((str(_CONFLICT_LABELS[column]), before, after))
    return rows


# --- a reservation's history (R-RES-6: who did what, when, and why) ----------------------------------------

HISTORY_LABELS = {
    "reservation.register": _("registered"),
    "reservation.special_new": _("special-new application registered"),
    "reservation.withdraw": _("withdrawn"),
    "reservation.correct": _("customer name corrected"),
    "reservation.expire": _("expired"),
    "reservation.match_outcome": _("decided by the nightly matching"),
    "reservation.case_decided": _("approval case decided"),
}
HISTORY_LIMIT = 50


def _who(entry: AuditEntry) -> str:
    if entry.actor_id is not None:
        return entry.actor_label
    return str(_("the nightly run") if entry.actor_label == BATCH.label else _("the system"))


def reservation_history(reservation: Reservation) -> list[dict]:
    """The reservation's audit trail, oldest first, in words: (time, who, what, reason). One query."""
    entries = (AuditEntry.objects.filter(target_model="reservations.reservation", target_id=str(reservation.pk))
               .order_by("at", "id")[:HISTORY_LIMIT])
    return [{"at": e.at, "who": _who(e), "what": HISTORY_LABELS.get(e.action, _("changed")), "reason": _why(e.after)}
            for e in entries]


def _why(after) -> str:
    """The reason typed with the change (a withdrawal's), as typed; else the system's note, in the reader's
    language — a message (common.wording), or the text of an entry written before notes were messages, recognised
    in the catalogue where it can be (the trail is append-only: old entries keep their text)."""
    if not isinstance(after, dict):
        return ""
    if after.get("reason"):
        return str(after["reason"])
    note = after.get("note")
    return render_value(recognise(note) if isinstance(note, str) else note)
