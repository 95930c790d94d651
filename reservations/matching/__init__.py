"""The nightly matching (§6): openings → relationships, approval cases, flags.

Work is done in units of `MATCH_CHUNK_SIZE` pending opening events. Each unit is
one transaction: a handful of set-based statements read every candidate of the
unit, the outcomes are decided in memory, and bulk statements write them and
mark the unit's events done. A crash loses at most the unit in flight, and a
re-run picks up exactly the events still pending (R-MATCH-6).

The package: `select` (what a unit reads), `outcomes` (the decisions, in memory), `write` (set-based writes);
this module runs the units and is what other code imports.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter

from django.conf import settings
from django.db import connection, transaction

from common.actors import BATCH
from relationships.audit import audit_many
from relationships.models import RelationshipType
from reservations.matching.outcomes import unit_outcomes
from reservations.matching.select import Candidate, Opening, pending_unit, set_aside_events, unit_candidates
from reservations.matching.write import unit_write

__all__ = ["Candidate", "Opening", "expire_reservations", "match_pending_events"]

log = logging.getLogger(__name__)


def _after_unit_committed(units_done: int) -> None:
    """Seam for the crash-safety test: it raises here to kill the run between units."""


def match_pending_events(*, business_date: dt.date, chunk_size: int | None = None, on_unit=None) -> Counter:
    """Match every pending opening dated on or before `business_date`, one unit per transaction.

    A unit that fails on a row nobody foresaw is rolled back and retried event by event, so one bad event is
    set aside with its error (`match_state = failed`) and the rest of the night goes on; set-aside events are
    retried, each alone, at the start of every later run.
    `on_unit(totals)` is told the running totals after each committed unit (the ledger's progress).
    `MATCH_UNIT_PAUSE_SECONDS` throttles a daytime re-run between units.
    """
    size = chunk_size or settings.MATCH_CHUNK_SIZE
    pause = settings.MATCH_UNIT_PAUSE_SECONDS
    totals: Counter = Counter()
    types = {t.code: t for t in RelationshipType.objects.all()}
    units = 0
    with transaction.atomic():  # what earlier runs set aside comes first: it is older than anything pending
        retried = set_aside_events(business_date)
        if retried:
            totals.update(_match_each(retried, business_date, types))
            totals["set_aside_retried"] += len(retried)
    while True:
        with transaction.atomic():
            event_ids = pending_unit(business_date, size)
            if not event_ids:
                break
            totals.update(_match_unit_or_each(event_ids, business_date, types))
        units += 1
        if on_unit is not None:
            on_unit(dict(totals, units=units))
        _after_unit_committed(units)
        if pause:
            time.sleep(pause)
    totals["units"] = units
    return totals


def _match_unit_or_each(event_ids: list[int], business_date: dt.date, types: dict[str, RelationshipType]) -> Counter:
    try:
        with transaction.atomic():
            return _match_unit(event_ids, business_date, types)
    except Exception:
        log.exception("a matching unit of %d events failed; retrying them one by one", len(event_ids))
        return _match_each(event_ids, business_date, types)


def _match_each(event_ids: list[int], business_date: dt.date, types: dict[str, RelationshipType]) -> Counter:
    """Each event in its own savepoint: the one that still fails is set aside with its error."""
    counts: Counter = Counter()
    for event_id in event_ids:
        try:
            with transaction.atomic():
                counts.update(_match_unit([event_id], business_date, types))
        except Exception as exc:
            log.exception("account event %s set aside: it fails to match on its own", event_id)
            error = f"{exc.__class__.__name__}: {exc}"[:2000]
            with connection.cursor() as cur:
                cur.execute(
                    "UPDATE relationships_accountevent SET match_state = 'failed', match_outcome = 'set_aside', "
                    "match_error = %s, matched_on = %s WHERE id = %s",
                    [error, business_date, event_id])
            audit_many(actor=BATCH, action="account_event.set_aside", model_label="relationships.accountevent",
                       rows=[(event_id, None, {"match_state": "failed", "error": error,
                                               "business_date": business_date.isoformat()})])
            counts["events_read"] += 1
            counts["set_aside"] += 1
    return counts


def _match_unit(event_ids: list[int], business_date: dt.date, types: dict[str, RelationshipType]) -> Counter:
    """One unit: read its openings and candidates, decide, write — inside the caller's transaction."""
    openings, candidates = unit_candidates(event_ids)
    plan = unit_outcomes(openings, candidates, business_date, types)
    unit_write(plan, event_ids, business_date, types)
    plan.counts["events_read"] += len(event_ids)
    return plan.counts


def expire_reservations(*, business_date: dt.date) -> int:
    """R-MATCH-8: reservations past validity without a match."""
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("UPDATE reservations_reservation SET status = 'expired', updated_at = now() "
                    "WHERE status = 'active' AND valid_until < %s RETURNING id", [business_date])
        ids = [row[0] for row in cur.fetchall()]
        audit_many(actor=BATCH, action="reservation.expire", model_label="reservations.reservation",
                   rows=[(i, {"status": "active"}, {"status": "expired"}) for i in ids])
    return len(ids)
