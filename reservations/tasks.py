import datetime as dt

from celery import shared_task
from django.utils import timezone


@shared_task(acks_late=True)
def run_nightly_task(business_date: str | None = None) -> list[dict]:
    """Beat runs this after midnight for the previous business date."""
    from reservations.pipeline import run_nightly

    day = dt.date.fromisoformat(business_date) if business_date else timezone.localdate() - dt.timedelta(days=1)
    return [{"stage": r.stage, "status": r.status, "counts": r.counts} for r in run_nightly(business_date=day)]


@shared_task(acks_late=True)
def load_feed_task(kind: str, path: str) -> str:
    from reservations.feeds import load_feed

    return load_feed(actor="celery", kind=kind, path=path).summary()
