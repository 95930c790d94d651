"""Issue 19, R-APR-9: a notification's subject and body are stored as messages (msgid and parameters) and read in
the reader's language on the notifications page, whatever the language of the night or the request that wrote
them; the e-mail is worded in the recipient's language, the site's (tests/integration/approvals/
test_notifications_mail.py). A row written before messages were stored is recognised in the catalogue."""
from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import translation

from approvals.models import CaseReason, Notification
from approvals.reminders import reminders_run
from approvals.services import case_act, case_open
from relationships.models import Callback, CallbackStatus, RelationshipType
from relationships.services import customer_get_or_create
from tests.integration.relationships.test_callbacks import matched_relationship
from tests.support.approvals import holder, make_branch
from tests.support.factories import OutletFactory, RoleFactory, StaffFactory, make_id_number

pytestmark = pytest.mark.django_db

DUE = dt.date(2026, 9, 30)
READS = {"en": ("Reminder: a callback is overdue", "A callback due on 2026-09-30 has not been made."),
         "zh-hans": ("催办：一项回访已逾期", "应于 2026-09-30 完成的回访尚未完成。")}


@pytest.fixture
def outlet_head():
    """The head of an outlet with a callback due on 30 September, reminded by the night (run in zh-hans)."""
    outlet = OutletFactory()
    rel = matched_relationship(StaffFactory(outlet=outlet), outlet)
    head = RoleFactory(kind="outlet_head", organisation=outlet).user
    Callback.objects.filter(relationship=rel).update(due_on=DUE, status=CallbackStatus.PENDING)
    with translation.override("zh-hans"):
        assert reminders_run(business_date=dt.date(2026, 10, 9)) == {"callbacks_reminded": 1}
    return head


def test_a_reminder_is_stored_as_its_messages(outlet_head):
    n = Notification.objects.get(user=outlet_head)
    assert n.subject_message == {"msg": "Reminder: a callback is overdue", "params": {"due": "2026-09-30"}}
    assert n.body_message == {"msg": "A callback due on %(due)s has not been made.", "params": {"due": "2026-09-30"}}
    assert (n.subject, n.body) == READS["zh-hans"]  # the text columns: worded in the site's language


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_a_reminder_written_by_the_night_reads_in_the_readers_language(client, outlet_head, language):
    client.force_login(outlet_head)
    html = client.get(reverse("approvals:notifications"), HTTP_ACCEPT_LANGUAGE=language).content.decode()
    other = READS["zh-hans" if language == "en" else "en"]
    assert all(text in html for text in READS[language]) and not any(text in html for text in other)


@pytest.mark.parametrize(("language", "subject"), [("en", "Approval case #%d: approved"),
                                                    ("zh-hans", "审批案件 #%d：已通过")])
def test_a_decided_case_is_told_with_its_status_in_the_readers_language(client, language, subject):
    b = make_branch()
    approver = holder("designated_person", b.branch, actor=b.head)
    customer = customer_get_or_create(id_number=make_id_number(), name="王五")
    case = case_open(actor=RoleFactory(kind="branch", organisation=b.branch).user, reason=CaseReason.BRANCH_CREATED,
                     rel_type=RelationshipType.objects.get(code="EXISTING_DEV"), customer=customer,
                     proposed_shares=[{"staff_id": b.staff.pk, "ratio": "1.0000"}], dedupe_key=f"l:{customer.pk}",
                     branch=b.branch, applicant=b.staff, explanation="分公司创建")
    with translation.override("zh-hans" if language == "en" else "en"):  # written in the other language
        case_act(actor=approver, case_id=case.pk, decision="approve")
    client.force_login(b.staff.user)
    html = client.get(reverse("approvals:notifications"), HTTP_ACCEPT_LANGUAGE=language).content.decode()
    assert subject % case.pk in html


def test_a_notification_from_before_messages_were_stored_is_recognised_in_the_readers_language(client):
    user = RoleFactory(kind="outlet_head", organisation=OutletFactory()).user
    Notification.objects.create(user=user, subject=READS["zh-hans"][0], body=READS["zh-hans"][1])
    client.force_login(user)
    html = client.get(reverse("approvals:notifications"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert all(text in html for text in READS["en"]) and "回访" not in html
