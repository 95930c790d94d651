"""Batch work of the performance app as Celery tasks (the nightly stage runs through reservations.pipeline)."""
from celery import shared_task

from performance.services import compute_period, parse_period


@shared_task(acks_late=True)
def compute_period_task(period: str) -> dict:
    """Recompute one open month, 'YYYY-MM' (a locked month is refused)."""
    return compute_period(period=parse_period(period))
