"""Locking, reopening and relocking a month (R-PERF-3, R-PERF-5), by HQ's office; each is a register row.

- `period_lock`: a month that has ended is locked; a month never computed (or reopened and not recomputed since)
  is computed first, so that what is locked is the month's figures as they stand now. A lock after a reopen is
  a relock.
- `period_reopen`: a locked month is reopened, with a required reason. It is then an open month: the next night
  computes it whole again (its computed state is dropped), with every change made meanwhile; the adjustments
  that belong to it are reversed by counter-rows in the first open month after it, so that they are not counted
  twice (`performance.adjustments`).

Locking, reopening and an adjustment's posting are serialised on the lock row (an adjustment holds it `FOR
SHARE`, a reopen `FOR UPDATE`) and on the month's advisory lock (its computation).
"""
from __future__ import annotations

import datetime as dt

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from common.actors import actor_label, actor_user
from common.locks import LockSpace, xact_lock
from performance.adjustments import adjustments_reverse
from performance.models import ComputedPeriod, PeriodEvent, PeriodLock, PeriodRegisterEntry
from performance.services import compute_period, month_start, next_month
from permissions.authority import is_hq_office
from relationships.audit import audit


def _register(*, actor, period: dt.date, event: str, reason: str = "", detail: dict | None = None
              ) -> PeriodRegisterEntry:
    return PeriodRegisterEntry.objects.create(period=period, event=event, actor=actor_user(actor),
                                              actor_label=actor_label(actor), reason=reason, detail=detail)


def period_lock(*, actor, period: dt.date) -> PeriodLock:
    """R-PERF-3: HQ's office locks a month that has ended (again, after a reopen: a relock)."""
    if not is_hq_office(actor):
        raise PermissionDenied(_("Only head office can lock a period."))
    start = month_start(period)
    if next_month(start) > timezone.localdate():
        raise ValidationError(_("%(period)s has not ended yet and cannot be locked.")
                              % {"period": f"{start:%Y-%m}"}, code="period_open")
    with transaction.atomic():
        if not ComputedPeriod.objects.filter(period=start).exists():
            compute_period(period=start)
        xact_lock(LockSpace.PERFORMANCE_PERIOD, start)
        lock, created = PeriodLock.objects.get_or_create(
            period=start, defaults={"locked_by": actor, "locked_by_label": actor.get_username()})
        if not created:
            raise ValidationError(_("%(period)s is already locked.") % {"period": f"{start:%Y-%m}"},
                                  code="already_locked")
        computed = ComputedPeriod.objects.get(period=start)
        relock = PeriodRegisterEntry.objects.filter(period=start, event=PeriodEvent.REOPEN).exists()
        figures = {"period": f"{start:%Y-%m}", "rows": computed.rows, "days": computed.days,
                   "computed_at": computed.computed_at.isoformat()}
        _register(actor=actor, period=start, event=PeriodEvent.RELOCK if relock else PeriodEvent.LOCK,
                  detail=figures)
        audit(actor=actor, action="performance.period_relock" if relock else "performance.period_lock",
              target=lock, after=figures)
    return lock


def period_reopen(*, actor, period: dt.date, reason: str) -> PeriodRegisterEntry:
    """R-PERF-5: HQ's office reopens a locked month, with a reason; see the module docstring."""
    if not is_hq_office(actor):
        raise PermissionDenied(_("Only head office can reopen a period."))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("Give the reason for reopening the period.")]}, code="reason")
    start = month_start(period)
    with transaction.atomic():
        xact_lock(LockSpace.PERFORMANCE_PERIOD, start)
        lock = PeriodLock.objects.select_for_update().filter(period=start).first()
        if lock is None:
            raise ValidationError(_("%(period)s is not locked.") % {"period": f"{start:%Y-%m}"}, code="not_locked")
        before = {"period": f"{start:%Y-%m}", "locked_by": lock.locked_by_label,
                  "locked_at": lock.locked_at.isoformat()}
        lock.delete()
        ComputedPeriod.objects.filter(period=start).delete()  # the night computes it whole
        still_locked = set(PeriodLock.objects.filter(period__gt=start).values_list("period", flat=True))
        reversed_rows = adjustments_reverse(actor=actor, period=start, locked=still_locked)
        entry = _register(actor=actor, period=start, event=PeriodEvent.REOPEN, reason=reason,
                          detail={**before, "adjustments_reversed": reversed_rows})
        audit(actor=actor, action="performance.period_reopen", target=entry, before=before,
              after={"reason": reason, "adjustments_reversed": reversed_rows})
    return entry
