"""Celery entry points of the permissions app: dates in, the services do the work."""
from __future__ import annotations

from celery import shared_task

from permissions.staff_changes import leavers_attach_close_due


@shared_task(acks_late=True)
def leavers_attach_close_task() -> int:
    """Beat runs it every night (R-ATT-2): leavers whose leaving day has come lose attach permission."""
    return leavers_attach_close_due()
