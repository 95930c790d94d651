"""Celery entry points: they receive ids and dates and call the pipeline's services."""
import datetime as dt

from celery import chain, shared_task
from django.conf import settings
from django.utils import timezone

from reservations.exchange.loading import feed_upload_process
from reservations.pipeline import STAGE_NAMES, PipelineBusy, run_stage


@shared_task(acks_late=True)
def run_nightly_task(business_date: str | None = None) -> str:
    """Beat runs this after midnight for the previous business date: one chained task per stage."""
    day = business_date or (timezone.localdate() - dt.timedelta(days=1)).isoformat()
    chain(*(run_stage_task.si(day, name) for name in STAGE_NAMES)).apply_async()
    return day


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=240)
def run_stage_task(self, business_date: str, stage: str) -> dict:
    """One stage of one date. Busy (another run holds the date, an earlier stage unfinished) → retry later."""
    try:
        run = run_stage(business_date=dt.date.fromisoformat(business_date), stage=stage)
    except PipelineBusy as exc:
        raise self.retry(exc=exc, countdown=settings.PIPELINE_RETRY_SECONDS) from exc
    return {"stage": run.stage, "status": run.status, "counts": run.counts}


@shared_task(acks_late=True)
def load_feed_upload_task(upload_id: int) -> str:
    """A feed file uploaded in the browser (its page polls the progress)."""
    return feed_upload_process(upload_id=upload_id).status
