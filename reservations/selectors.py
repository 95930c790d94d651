"""Reads for the night report: what one business date's matching did, scoped to the user (R-PERM-4, R-MATCH-7)."""
from __future__ import annotations

import datetime as dt

from django.db.models import Count, Prefetch, QuerySet
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from approvals.models import CaseReason
from permissions.scoping import visible_account_events, visible_batch_runs, visible_reservations
from relationships.models import MatchState
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
