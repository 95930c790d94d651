"""The nightly pipeline: each stage guarded by a `(business_date, stage)` ledger row (R-MATCH-7).

A stage that succeeded is skipped on a re-run; one that failed or was killed is
resumed (its units are idempotent). A stage runs only after every stage before it
succeeded for that date, and only while its process holds the date's PostgreSQL
advisory lock, so two runs of one date never overlap however they were started
(beat twice, a command beside a worker, a redelivered task after a worker died:
the dead worker's session, and with it the lock, is gone).

`run_nightly` runs the stages in-process (the command); the Celery chain of
`reservations.tasks.run_stage_task` runs them one task per stage (beat).
"""
from __future__ import annotations

import datetime as dt
import logging
import traceback
from collections import Counter
from collections.abc import Callable

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from approvals.reminders import reminders_run
from common.actors import BATCH
from common.locks import LockSpace, session_try_lock
from performance.classification import customers_classify
from performance.nightly import performance_night
from relationships.callbacks import CALLBACK_DUE_WORKDAYS, callbacks_create_for_date
from relationships.workdays import count_workdays_after
from reservations.matching import expire_reservations, match_pending_events
from reservations.models import BatchRun, RunStatus
from reservations.secondary.matching import secondary_match_pending

log = logging.getLogger(__name__)


class PipelineBusy(Exception):
    """Another process holds the date, or an earlier stage has not succeeded yet: try again later."""


def _stage_match(business_date: dt.date, progress: Callable[[dict], None]) -> dict:
    return dict(match_pending_events(business_date=business_date, on_unit=progress))


def _stage_expire(business_date: dt.date, progress=None) -> dict:
    return {"expired": expire_reservations(business_date=business_date)}


def _stage_classify(business_date: dt.date, progress=None) -> dict:
    """R-SEC-6: lost / dormant / silent customers, from the account events and month-end snapshots."""
    return dict(customers_classify(business_date=business_date, actor=BATCH))


def _stage_secondary(business_date: dt.date, progress=None) -> dict:
    """R-SEC-1..4: pre-assigned customers who reactivated by the rule of their class become SECONDARY_DEV.

    Runs after expiry: validity is judged at the reactivation, and lapsed pre-assignments see expired reservations.
    """
    return dict(secondary_match_pending(business_date=business_date))


def _stage_callbacks(business_date: dt.date, progress=None) -> dict:
    """R-CB-1: a callback for every relationship without one (matching, secondary and approval paths alike)."""
    counts = {"callbacks": callbacks_create_for_date(business_date=business_date)}
    if counts["callbacks"] and count_workdays_after(business_date, CALLBACK_DUE_WORKDAYS).calendar_unknown:
        counts["callbacks_calendar_unknown"] = counts["callbacks"]  # R-CAL-1: their due dates are provisional
    return counts


def _stage_reminders(business_date: dt.date, progress=None) -> dict:
    """R-APR-9: waiting steps and overdue callbacks are reminded, then escalated (once each: a re-run adds none)."""
    return reminders_run(business_date=business_date)


def _stage_performance(business_date: dt.date, progress=None) -> dict:
    """R-PERF-1..3: bring every open (unlocked) month up to the business date's up to date, computing only the days
    that changed (performance.nightly); locked ones are skipped."""
    return performance_night(business_date=business_date)


STAGES: list[tuple[str, Callable[..., dict]]] = [
    ("classify", _stage_classify),
    ("match", _stage_match),
    ("expire", _stage_expire),
    ("secondary", _stage_secondary),
    ("callbacks", _stage_callbacks),
    ("reminders", _stage_reminders),
    ("performance", _stage_performance),
]


STAGE_NAMES = [name for name, _fn in STAGES]
# What the stages are called where people read (the ledger, the night report, messages).
STAGE_LABELS = {
    "classify": gettext_lazy("classification"),
    "match": gettext_lazy("matching"),
    "expire": gettext_lazy("expiry"),
    "secondary": gettext_lazy("secondary development"),
    "callbacks": gettext_lazy("callbacks"),
    "reminders": gettext_lazy("reminders and escalations"),
    "performance": gettext_lazy("performance"),
}


def stages_succeeded(business_date: dt.date) -> set[str]:
    """The stages of a date that finished; a re-run skips them (R-MATCH-7)."""
    return set(BatchRun.objects.filter(business_date=business_date, status=RunStatus.SUCCEEDED)
               .values_list("stage", flat=True))


def run_nightly(*, business_date: dt.date) -> list[BatchRun]:
    return [run_stage(business_date=business_date, stage=name) for name in STAGE_NAMES]


def run_stage(*, business_date: dt.date, stage: str) -> BatchRun:
    fn = dict(STAGES)[stage]
    with session_try_lock(LockSpace.NIGHTLY_DATE, business_date) as acquired:
        if not acquired:
            raise PipelineBusy(_("The nightly run for %(date)s is already in progress.") % {"date": business_date})
        earlier = STAGE_NAMES[:STAGE_NAMES.index(stage)]
        done = set(BatchRun.objects.filter(business_date=business_date, stage__in=earlier,
                                           status=RunStatus.SUCCEEDED).values_list("stage", flat=True))
        missing = [name for name in earlier if name not in done]
        if missing:
            raise PipelineBusy(_("Stage %(stage)s of %(date)s waits for %(missing)s.") % {
                "stage": STAGE_LABELS[stage], "date": business_date,
                "missing": ", ".join(str(STAGE_LABELS[name]) for name in missing)})
        return _run_stage(business_date, stage, fn)


def _run_stage(business_date: dt.date, stage: str, fn) -> BatchRun:
    with transaction.atomic():
        run, created = BatchRun.objects.select_for_update().get_or_create(
            business_date=business_date, stage=stage, defaults={"started_at": timezone.now()})
        if not created:
            if run.status == RunStatus.SUCCEEDED:
                return run
            run.attempts += 1
            run.status, run.error, run.finished_at = RunStatus.RUNNING, "", None
            run.save(update_fields=["attempts", "status", "error", "finished_at"])
    before = Counter(run.counts or {})

    def progress(so_far: dict) -> None:
        """Committed units show on the run ledger while the stage runs."""
        BatchRun.objects.filter(pk=run.pk).update(counts=dict(before + Counter(so_far)))

    try:
        counts = fn(business_date, progress)
    except Exception as exc:
        BatchRun.objects.filter(pk=run.pk).update(
            status=RunStatus.FAILED, finished_at=timezone.now(),
            error=f"{exc.__class__.__name__}: {exc}\n{traceback.format_exc(limit=5)}")
        raise
    merged = before + Counter(counts)
    BatchRun.objects.filter(pk=run.pk).update(status=RunStatus.SUCCEEDED, finished_at=timezone.now(),
                                              counts=dict(merged))
    run.refresh_from_db()
    log.info("nightly %s %s: %s", business_date, stage, run.counts)
    return run
