"""R-APR-9 e-mail, against a real SMTP server (aiosmtpd on a loopback port): holders are told when a step starts
waiting, applicants when their case is returned or decided, everyone by a daily digest. Mail leaves only after
the commit (a rollback sends nothing), from the address on the user record; a user may keep only the digest; a
user without an address is told in the site."""
from __future__ import annotations

import datetime as dt
import socket
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from django.db import transaction
from django.urls import reverse
from django.utils import translation

from approvals.models import CaseReason, Notification, NotificationPreference
from approvals.notifications import digest_send, notification_mail_send
from approvals.services import case_act, case_open, case_resubmit, case_withdraw
from relationships.models import RelationshipType
from relationships.services import customer_get_or_create
from tests.support.approvals import holder, make_branch
from tests.support.factories import RoleFactory, UserFactory, make_id_number
from tests.support.helpers import at, event_row, load_events, nightly, reserve

pytestmark = pytest.mark.django_db


class _Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        msg = message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append({"to": envelope.rcpt_tos, "subject": str(msg["subject"]),
                              "body": msg.get_body().get_content()})
        return "250 OK"

    def to(self, address: str) -> list[dict]:
        return [m for m in self.messages if address in m["to"]]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp(settings):
    """A real SMTP server on a loopback port, and the site's mail settings pointing at it."""
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = "127.0.0.1", controller.port, False
    settings.DEFAULT_FROM_EMAIL = "crm@example.test"
    yield inbox
    controller.stop()


@pytest.fixture
def b():
    b = make_branch()
    b.approver = holder("designated_person", b.branch, actor=b.head,
                        user=UserFactory(email="approver@example.test"))
    b.staff.user.email = "applicant@example.test"
    b.staff.user.save(update_fields=["email"])
    b.filer = RoleFactory(kind="branch", organisation=b.branch).user
    return b


def _open(b):
    customer = customer_get_or_create(id_number=make_id_number(), name="王五")
    return case_open(actor=b.filer, reason=CaseReason.BRANCH_CREATED,
                     rel_type=RelationshipType.objects.get(code="EXISTING_DEV"), customer=customer,
                     proposed_shares=[{"staff_id": b.staff.pk, "ratio": "1.0000"}], dedupe_key=f"m:{customer.pk}",
                     branch=b.branch, applicant=b.staff, explanation="分公司创建")


def test_the_holder_gets_an_e_mail_when_a_step_starts_waiting_after_the_commit_only(b, smtp,
                                                                                   django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        case = _open(b)
        assert smtp.messages == []          # nothing leaves inside the transaction
    assert len(callbacks) == 1
    [mail] = smtp.to("approver@example.test")
    assert f"#{case.pk}" in mail["subject"] and "等待您审批" in mail["subject"]
    assert reverse("approvals:case", args=[case.pk]) in mail["body"]
    assert Notification.objects.get(user=b.approver).emailed_at is not None


def test_a_rolled_back_transaction_sends_nothing(b, smtp, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            _open(b)
            raise RuntimeError("the request failed after the case opened")
    assert smtp.messages == [] and not Notification.objects.exists()


def test_the_applicant_is_told_when_his_case_is_returned_and_when_it_is_decided(b, smtp,
                                                                              django_capture_on_commit_callbacks):
    case = _open(b)
    with django_capture_on_commit_callbacks(execute=True), translation.override("en"):
        case_act(actor=b.approver, case_id=case.pk, decision="return", reason="比例有误")
    [returned] = smtp.to("applicant@example.test")
    assert "退回" in returned["subject"]
    with django_capture_on_commit_callbacks(execute=True):
        case_resubmit(actor=b.staff.user, case_id=case.pk)
    with django_capture_on_commit_callbacks(execute=True), translation.override("en"):
        case_act(actor=b.approver, case_id=case.pk, decision="approve")
    decided = smtp.to("applicant@example.test")[-1]
    assert decided["subject"] == f"审批案件 #{case.pk}：已通过", decided


def test_a_user_who_keeps_only_the_digest_gets_no_event_mail_but_the_digest(b, smtp,
                                                                           django_capture_on_commit_callbacks):
    NotificationPreference.objects.create(user=b.approver, digest_only=True)
    with django_capture_on_commit_callbacks(execute=True):
        case = _open(b)
    assert smtp.to("approver@example.test") == []
    assert Notification.objects.get(user=b.approver).email_to == ""          # told in the site instead
    with django_capture_on_commit_callbacks(execute=True):
        assert digest_send(day=dt.date(2026, 12, 2)) >= 1
    [digest] = smtp.to("approver@example.test")
    assert "2026-12-02" in digest["subject"] and "1 个审批环节" in digest["body"], digest
    with django_capture_on_commit_callbacks(execute=True):
        assert digest_send(day=dt.date(2026, 12, 2)) == 0                   # once a day
    assert len(smtp.to("approver@example.test")) == 1
    assert case.pk


def test_a_user_without_an_address_is_told_in_the_site(client, b, smtp, django_capture_on_commit_callbacks):
    nobody = holder("designated_person", b.branch, actor=b.head, user=UserFactory(email=""))
    with django_capture_on_commit_callbacks(execute=True):
        case = _open(b)
    n = Notification.objects.get(user=nobody)
    assert n.email_to == "" and n.emailed_at is None
    client.force_login(nobody)
    html = client.get(reverse("approvals:notifications")).content.decode()
    assert f"#{case.pk}" in html and reverse("approvals:case", args=[case.pk]) in html


def test_an_unreachable_mail_server_leaves_the_message_unsent_for_the_retry_and_it_is_sent_once(b, smtp, settings):
    case = _open(b)
    n = Notification.objects.get(user=b.approver)
    good_port = settings.EMAIL_PORT
    settings.EMAIL_PORT = _free_port()                                       # nobody listens there
    with pytest.raises(OSError):
        notification_mail_send(notification_id=n.pk)
    n.refresh_from_db()
    assert n.emailed_at is None and smtp.messages == []
    settings.EMAIL_PORT = good_port
    assert notification_mail_send(notification_id=n.pk) is True
    assert notification_mail_send(notification_id=n.pk) is False             # a redelivered task sends nothing
    assert len(smtp.to("approver@example.test")) == 1 and case.pk


def test_the_user_chooses_digest_only_on_his_notifications_page(client, b):
    client.force_login(b.approver)
    response = client.post(reverse("approvals:notifications"), {"digest_only": "on"})
    assert response.status_code == 302
    assert NotificationPreference.objects.get(user=b.approver).digest_only is True


def test_a_case_the_nightly_run_opens_is_told_to_its_first_holders_after_the_unit_commits(
        smtp, django_capture_on_commit_callbacks):
    """R-APR-9 on the batch path: a late reservation's case, opened by the matching unit, reaches the holders of its
    first step (account-opening review) and no one else."""
    b = make_branch()
    review, outlet_review = (holder(p, b.branch, actor=b.head, user=UserFactory(email=f"{p}@example.test"))
                             for p in ("account_opening_review", "outlet_review"))
    idn = make_id_number()
    load_events([event_row(when=at("2026-03-02 10:00"), id_number=idn, name="张三", outlet=b.outlet)])
    reserve(b.staff, id_number=idn, when=at("2026-03-03 09:00"))
    with django_capture_on_commit_callbacks(execute=True):
        nightly("2026-03-03")
    [mail] = smtp.to("account_opening_review@example.test")
    assert "等待您审批" in mail["subject"]
    assert smtp.to("outlet_review@example.test") == []
    assert Notification.objects.filter(user=review).count() == 1 and outlet_review.pk


def test_an_applicant_who_withdraws_his_case_is_not_told_of_his_own_withdrawal(b, smtp,
                                                                              django_capture_on_commit_callbacks):
    case = _open(b)
    with translation.override("en"):
        case_act(actor=b.approver, case_id=case.pk, decision="return", reason="比例有误")
    with django_capture_on_commit_callbacks(execute=True):
        case_withdraw(actor=b.staff.user, case_id=case.pk)
    assert smtp.to("applicant@example.test") == []
    assert not Notification.objects.filter(user=b.staff.user, key__startswith="decided:").exists()
    assert Notification.objects.filter(user=b.filer, key__startswith="decided:").count() == 1
