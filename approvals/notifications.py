"""Telling people what waits for them (R-APR-9): when a step starts waiting, when a case is returned or decided,
when waiting work is reminded or escalated, and a daily digest.

Every message is a `Notification` row written in the caller's transaction (so the site shows it, and a user
without an address still learns of it); for a user with an address who wants e-mail (the digest goes to every
address) the row names the address, and the e-mail is sent by a Celery task after the commit: a rollback sends
nothing. The task receives the row's id; the row records when it was sent, so a retry never sends twice.
The subject and body are stored as messages (`common.wording`: msgid and parameters, issue 19) and read in the
reader's language: the page in the language it is read in, the e-mail in the recipient's — the site's language
(`LANGUAGE_CODE`), since nothing records another for a user. The text columns keep them worded in that language.
A message's `key` makes it once-only where a re-run must not repeat it (a reminder, a day's digest).
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_noop

from approvals.models import ApprovalCase, CaseStatus, CaseStep, PostAssignment, StepState
from approvals.notices import Notification, NotificationPreference, Reminder, ReminderKind
from approvals.waiting import current_steps
from common import wording
from permissions.models import Role, RoleKind
from relationships.audit import audit
from relationships.models import Staff

# The function that queues one notification's e-mail (approvals.tasks registers its Celery task at start-up);
# without it (a process that never loaded the tasks) the e-mail is sent in-process after the commit.
mailer: list[Callable[[int], None]] = []


@dataclass(frozen=True)
class Message:
    """One notification to write. `subject` and `body` are `common.wording.Message`s (a plain text is stored as
    it is)."""

    user_id: int
    subject: str
    body: str
    link: str = ""
    key: str | None = None


def deliver(messages: Sequence[Message], *, digest: bool = False) -> list[int]:
    """Record `messages` (skipping keys already recorded) and queue their e-mails for after the commit."""
    keys = [m.key for m in messages if m.key]
    seen = set(Notification.objects.filter(key__in=keys).values_list("key", flat=True)) if keys else set()
    fresh, batch_keys = [], set()
    for m in messages:
        if m.key and (m.key in seen or m.key in batch_keys):
            continue
        batch_keys.add(m.key)
        fresh.append(m)
    if not fresh:
        return []
    users = get_user_model().objects.in_bulk({m.user_id for m in fresh})
    digest_only = set(NotificationPreference.objects.filter(user_id__in=list(users), digest_only=True)
                      .values_list("user_id", flat=True))
    rows = []
    for m in fresh:
        user = users.get(m.user_id)
        if user is None or not user.is_active:
            continue
        wants_mail = bool(user.email) and (digest or m.user_id not in digest_only)
        rows.append(Notification(user_id=m.user_id, subject=m.subject[:200], body=m.body, link=m.link[:200],
                                 subject_message=wording.to_json(m.subject), body_message=wording.to_json(m.body),
                                 key=m.key, email_to=user.email if wants_mail else ""))
    created = Notification.objects.bulk_create(rows, batch_size=2000)
    to_mail = [n.pk for n in created if n.email_to]
    if to_mail:
        transaction.on_commit(lambda: _queue_all(to_mail))
    return [n.pk for n in created]


def _queue_all(notification_ids: list[int]) -> None:
    for pk in notification_ids:
        if mailer:
            mailer[0](pk)
        else:
            notification_mail_send(notification_id=pk)


def notification_mail_send(*, notification_id: int) -> bool:
    """Send one notification's e-mail unless it was sent already (the row is locked while sending). An SMTP
    failure raises, and the row stays unsent for the task's retry."""
    with transaction.atomic():
        n = Notification.objects.select_for_update().filter(pk=notification_id).first()
        if n is None or not n.email_to or n.emailed_at is not None:
            return False
        with translation.override(settings.LANGUAGE_CODE):  # the recipient's language (see the module's doc)
            subject, body = n.subject_shown, n.body_shown + (f"\n\n{settings.SITE_URL}{n.link}" if n.link else "")
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [n.email_to], fail_silently=False)
        n.emailed_at = timezone.now()
        n.save(update_fields=["emailed_at"])
    return True


# --------------------------------------------------------------------------------------------------
# Who is told: the holders of a step's post, the heads work is escalated to, the outlet of a callback
# --------------------------------------------------------------------------------------------------

def holders_of(pairs: Iterable[tuple[str, int]], on: dt.date | None = None) -> dict[tuple[str, int], set[int]]:
    """The users holding (or deputising, while the principal holds) each (post, organisation) on `on`."""
    pairs = set(pairs)
    found: dict[tuple[str, int], set[int]] = defaultdict(set)
    if not pairs:
        return found
    on = on or timezone.localdate()
    live = Q(valid_from__lte=on) & (Q(valid_to__isnull=True) | Q(valid_to__gte=on))
    rows = (PostAssignment.objects.filter(live, post__in={p for p, _o in pairs},
                                          organisation_id__in={o for _p, o in pairs})
            .values_list("post", "organisation_id", "user_id", "delegate_for_id", "delegate_for__valid_from",
                         "delegate_for__valid_to"))
    for post, org, user_id, principal, p_from, p_to in rows:
        if (post, org) not in pairs:
            continue
        if principal is not None and not (p_from <= on and (p_to is None or p_to >= on)):
            continue
        found[(post, org)].add(user_id)
    return found


def heads_of(organisation_ids: Iterable[int]) -> dict[int, set[int]]:
    """The heads escalated work reaches: branch heads of a branch, HQ's office at the head office."""
    found: dict[int, set[int]] = defaultdict(set)
    rows = Role.objects.filter(organisation_id__in=set(organisation_ids)).filter(
        Q(kind=RoleKind.BRANCH_HEAD) | Q(kind=RoleKind.HQ, organisation__kind="hq"))
    for org, user_id in rows.values_list("organisation_id", "user_id"):
        found[org].add(user_id)
    return found


def _outlet_users(outlet_ids: Iterable[int]) -> dict[int, set[int]]:
    found: dict[int, set[int]] = defaultdict(set)
    for org, user_id in (Role.objects.filter(organisation_id__in=set(outlet_ids),
                                             kind__in=(RoleKind.OUTLET_HEAD, RoleKind.OUTLET_STAFF))
                         .values_list("organisation_id", "user_id")):
        found[org].add(user_id)
    return found


def _case_link(case_id: int) -> str:
    return reverse("approvals:case", args=[case_id])


def _chinese():
    """The site's language: the stored text columns are worded in it (the messages are read in the reader's)."""
    return translation.override(settings.LANGUAGE_CODE)


# A decided case's status as the message of its label (CaseStatus's labels, the same msgids).
CASE_STATUS_WORDS = {CaseStatus.PENDING: gettext_noop("pending"),
                     CaseStatus.RETURNED: gettext_noop("returned for correction"),
                     CaseStatus.APPROVED: gettext_noop("approved"), CaseStatus.REJECTED: gettext_noop("rejected"),
                     CaseStatus.WITHDRAWN: gettext_noop("withdrawn")}


# --------------------------------------------------------------------------------------------------
# The events
# --------------------------------------------------------------------------------------------------

def _current_steps_of(case_ids: Iterable[int]) -> list[tuple[int, int, str, int, int | None, int | None]]:
    """(step, case, post, organisation, the applicant's user, the filer) of each pending case's current step(s), as
    `current_steps()` picks them, read as two plain statements rather than one join: right after the nightly batch
    inserts a unit's cases, the statistics still count no pending case, and the join's plan went quadratic
    (every pending step scanned again for each new case: half a second per unit at 10k openings, and growing)."""
    cases = {pk: (current, user, filer) for pk, current, user, filer in ApprovalCase.objects.filter(
        pk__in=list(case_ids), status=CaseStatus.PENDING).values_list(
        "id", "current_step", "applicant__user_id", "filed_by_id")}
    if not cases:
        return []
    steps = (CaseStep.objects.filter(case_id__in=list(cases), state=StepState.PENDING)
             .order_by("case_id", "order", "id").values_list("id", "case_id", "order", "post", "organisation_id"))
    return [(step_id, case_id, post, org, cases[case_id][1], cases[case_id][2])
            for step_id, case_id, order, post, org in steps if order == cases[case_id][0]]


def notify_steps_waiting(case_ids: Iterable[int]) -> list[int]:
    """The holders of each case's current step(s): a step now waits for them."""
    steps = _current_steps_of(case_ids)
    holders = holders_of((post, org) for _s, _c, post, org, _a, _f in steps)
    messages = []
    with _chinese():
        for step_id, case_id, post, org, applicant, filer in steps:
            for user_id in holders.get((post, org), set()) - {applicant, filer}:
                messages.append(Message(
                    user_id, wording.Message(gettext_noop("Approval case #%(id)s waits for you"), {"id": case_id}),
                    wording.Message(gettext_noop("A step of approval case #%(id)s now waits for your decision."),
                                    {"id": case_id}),
                    _case_link(case_id), key=f"wait:{step_id}:{user_id}"))
    return deliver(messages)


def notify_steps_waiting_atomic(case_ids: list[int]) -> list[int]:
    with transaction.atomic():
        return notify_steps_waiting(case_ids)


def _case_people(case: ApprovalCase) -> set[int]:
    ids = {case.filed_by_id} if case.filed_by_id else set()
    if case.applicant_id:
        ids |= set(Staff.objects.filter(pk=case.applicant_id, user__isnull=False)
                   .values_list("user_id", flat=True))
    return ids


def notify_case_returned(case: ApprovalCase) -> list[int]:
    with _chinese():
        return deliver([Message(uid, wording.Message(gettext_noop("Approval case #%(id)s was returned to you"),
                                                     {"id": case.pk}),
                                wording.Message(gettext_noop(
                                    "Approval case #%(id)s was returned for correction; correct and resubmit it, or "
                                    "withdraw it."), {"id": case.pk}), _case_link(case.pk))
                        for uid in _case_people(case)])


def notify_case_decided(case: ApprovalCase, *, actor=None, **_kwargs) -> list[int]:
    """A `case_decided` handler: the applicant (and filer) learn the outcome (not of what they did themselves, a
    withdrawal)."""
    people = _case_people(case) - {getattr(actor, "pk", None)}
    with _chinese():
        values = {"id": case.pk, "status": wording.Message(CASE_STATUS_WORDS[case.status])}
        return deliver([Message(uid, wording.Message(gettext_noop("Approval case #%(id)s: %(status)s"), values),
                                wording.Message(gettext_noop("Approval case #%(id)s has been decided: %(status)s."),
                                                values),
                                _case_link(case.pk), key=f"decided:{case.pk}:{uid}")
                        for uid in people])


def notify_reminders(reminder_ids: Sequence[int]) -> list[int]:
    """Reminded steps to their holders, escalated ones to the heads; overdue callbacks to their outlet, escalated
    ones to the branch head."""
    rows = list(Reminder.objects.filter(pk__in=list(reminder_ids))
                .values_list("id", "kind", "step__case_id", "step__post", "step__organisation_id", "escalated_to_id",
                             "callback_id", "callback__outlet_id", "callback__due_on"))
    holders = holders_of((r[3], r[4]) for r in rows if r[2] and r[1] == ReminderKind.REMIND)
    heads = heads_of(r[5] for r in rows if r[5])
    outlets = _outlet_users(r[7] for r in rows if r[6] and r[1] == ReminderKind.REMIND)
    link_cb = reverse("work:callbacks")
    messages = []
    with _chinese():
        for rid, kind, case_id, post, org, esc, _cb, outlet, due in rows:
            if case_id and kind == ReminderKind.REMIND:
                who, link = holders.get((post, org), set()), _case_link(case_id)
                subject = gettext_noop("Reminder: approval case #%(id)s is waiting")
                body = gettext_noop("Approval case #%(id)s has waited %(days)s working days for your decision.")
            elif case_id:
                who, subject = heads.get(esc, set()), gettext_noop("Escalated: approval case #%(id)s")
                body, link = gettext_noop("Approval case #%(id)s has waited %(days)s working days; it is escalated to "
                                          "you: decide it or hand it to another holder."), _case_link(case_id)
            elif kind == ReminderKind.REMIND:
                who, subject = outlets.get(outlet, set()), gettext_noop("Reminder: a callback is overdue")
                body, link = gettext_noop("A callback due on %(due)s has not been made."), link_cb
            else:
                who, subject = heads.get(esc, set()), gettext_noop("Escalated: an overdue callback")
                body, link = gettext_noop("A callback due on %(due)s has not been made; it is escalated to you."), \
                    link_cb
            days = settings.APPROVAL_REMIND_DAYS if kind == ReminderKind.REMIND else settings.APPROVAL_ESCALATE_DAYS
            values: dict[str, object] = ({"id": case_id, "days": days} if case_id
                                         else {"due": due.isoformat() if due else None})
            messages += [Message(uid, wording.Message(subject, values), wording.Message(body, values), link,
                                 key=f"reminder:{rid}:{uid}") for uid in who]
    return deliver(messages)


def digest_send(*, day: dt.date | None = None) -> int:
    """R-APR-9: each user with waiting work gets one digest a day (to every address, opted out or not)."""
    day = day or timezone.localdate()
    counts: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    steps = list(current_steps().values_list("post", "organisation_id", "case__applicant__user_id",
                                             "case__filed_by_id"))
    holders = holders_of((p, o) for p, o, _a, _f in steps)
    for post, org, applicant, filer in steps:
        for uid in holders.get((post, org), set()) - {applicant, filer}:
            counts[uid]["steps"] += 1
    esc = list(Reminder.objects.filter(kind=ReminderKind.ESCALATE, step__in=current_steps())
               .values_list("escalated_to_id", flat=True))
    heads = heads_of(esc)
    for org in esc:
        for uid in heads.get(org, set()):
            counts[uid]["escalated"] += 1
    returned = ApprovalCase.objects.filter(status=CaseStatus.RETURNED)
    for uid in returned.filter(applicant__user__isnull=False).values_list("applicant__user_id", flat=True):
        counts[uid]["returned"] += 1
    for uid in returned.filter(filed_by__isnull=False).values_list("filed_by_id", flat=True):
        counts[uid]["returned"] += 1
    messages = []
    with _chinese():
        for uid, c in counts.items():
            body = wording.Message(gettext_noop(
                "Waiting for you today: %(steps)s approval steps, %(escalated)s escalated steps, %(returned)s "
                "returned cases."), {"steps": c["steps"], "escalated": c["escalated"], "returned": c["returned"]})
            messages.append(Message(uid, wording.Message(gettext_noop("What waits for you on %(day)s"),
                                                         {"day": day.isoformat()}), body,
                                    reverse("home"), key=f"digest:{day.isoformat()}:{uid}"))
    with transaction.atomic():
        return len(deliver(messages, digest=True))



def notification_preference_set(*, actor, digest_only: bool) -> NotificationPreference:
    """The user's own choice (R-APR-9): e-mail for every event, or only the daily digest. Audited."""
    with transaction.atomic():
        pref, _created = NotificationPreference.objects.select_for_update().get_or_create(user=actor)
        before = pref.digest_only
        pref.digest_only = bool(digest_only)
        pref.save(update_fields=["digest_only"])
        audit(actor=actor, action="notification.preference", target=pref, before={"digest_only": before},
              after={"digest_only": pref.digest_only})
    return pref


def notifications_mark_read(*, actor) -> int:
    return Notification.objects.filter(user=actor, read_at__isnull=True).update(read_at=timezone.now())
