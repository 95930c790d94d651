"""R-APR-9: a notification's e-mail leaves from a real Celery worker over Redis, to a real SMTP server; while the mail
server is down the task is retried, and once it is up the message is sent exactly once."""
from __future__ import annotations

import os
import time

import pytest
from aiosmtpd.controller import Controller

from approvals.models import Notification
from tests.integration.approvals.test_notifications_mail import _free_port, _Inbox
from tests.support.factories import UserFactory
from tests.support.workers import REDIS_URL, running_worker

QUEUE = f"crm-mail-test-{os.getpid()}"


@pytest.fixture
def smtp_port():
    return _free_port()


@pytest.fixture
def mail_worker(smtp_port):
    with running_worker("mail", queue=QUEUE, EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
                        EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(smtp_port), EMAIL_TIMEOUT="5",
                        MAIL_RETRY_SECONDS="1", DEFAULT_FROM_EMAIL="crm@example.test") as proc:
        yield proc


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_mail_task_is_retried_while_the_server_is_down_and_sends_once_when_it_is_up(mail_worker, smtp_port):
    from celery import Celery

    user = UserFactory(email="holder@example.test")
    n = Notification.objects.create(user=user, subject="审批案件 #1 等待您审批", body="请审批。", link="/approvals/1/",
                                    email_to=user.email)
    client = Celery("test-client", broker=REDIS_URL)
    client.send_task("approvals.tasks.send_mail_task", args=[n.pk], queue=QUEUE)
    time.sleep(4)                                      # the first attempts find nobody listening
    n.refresh_from_db()
    assert n.emailed_at is None and mail_worker.poll() is None
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not inbox.messages:
            assert mail_worker.poll() is None, "the worker died"
            time.sleep(0.5)
        time.sleep(2)                                  # a duplicate would arrive now
    finally:
        controller.stop()
    n.refresh_from_db()
    assert [m["to"] for m in inbox.messages] == [["holder@example.test"]]
    assert n.emailed_at is not None
