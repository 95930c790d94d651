"""Named PostgreSQL advisory locks: one place for the key spaces, so two kinds of work never share a key."""
from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from enum import IntEnum

from django.db import connection


class LockSpace(IntEnum):
    """Each space owns the keys `space * 100_000_000 + n`."""

    NIGHTLY_DATE = 73          # one business date's nightly run (reservations.pipeline)
    PERFORMANCE_PERIOD = 74    # one month's performance computation or lock (performance.services)
    METRICS = 75               # a metrics load against what is derived from metrics (performance)


def lock_key(space: LockSpace, day: dt.date) -> int:
    return int(space) * 100_000_000 + day.toordinal()


def xact_lock(space: LockSpace, day: dt.date) -> None:
    """Wait for the lock; it is released when the current transaction ends."""
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", [lock_key(space, day)])


def metrics_xact_lock() -> None:
    """One metrics load at a time, and none while the silent judgement or a month's performance reads what it
    derives from (performance.feeds, .classification, .services): one key, held until the transaction ends."""
    xact_lock(LockSpace.METRICS, dt.date(2000, 1, 1))


@contextmanager
def session_try_lock(space: LockSpace, day: dt.date):
    """Yield whether this session got the lock (without waiting); release it on leaving. A dead process's
    session, and with it the lock, is gone, so a crashed run never blocks the next one."""
    key = lock_key(space, day)
    with connection.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_lock(%s)", [key])
        acquired = bool(cur.fetchone()[0])
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(%s)", [key])
