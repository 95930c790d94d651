"""Celery entry points of the approvals app (R-APR-9): ids and dates in, the services do the work."""
from __future__ import annotations

import datetime as dt
import smtplib

from celery import shared_task
from django.conf import settings

from approvals.notifications import digest_send, notification_mail_send


@shared_task(bind=True, acks_late=True, max_retries=8, autoretry_for=(smtplib.SMTPException, OSError),
             retry_backoff=settings.MAIL_RETRY_SECONDS, retry_backoff_max=3600, retry_jitter=True)
def send_mail_task(self, notification_id: int) -> bool:
    """One notification's e-mail; a refused or unreachable mail server is retried with a growing pause."""
    return notification_mail_send(notification_id=notification_id)


@shared_task(acks_late=True)
def send_digests_task(day: str | None = None) -> int:
    """Beat sends it every morning: one digest per user with waiting work (idempotent per day)."""
    return digest_send(day=dt.date.fromisoformat(day) if day else None)


def queue_mail(notification_id: int) -> None:
    send_mail_task.delay(notification_id)
