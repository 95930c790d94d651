"""Nothing waits unseen (R-APR-9): reminders and escalations of waiting work, in-site notifications, and each
user's e-mail preference.

Models of the approvals app kept beside `approvals.models` (which they name by label only, so neither module
imports the other). A reminder row is the idempotency key of the nightly reminder stage: one per waiting step
(or overdue callback) and kind, enforced by partial unique indexes, so a re-run reminds nobody twice.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from common.constraints import valid_choice
from common.wording import shown


class ReminderKind(models.TextChoices):
    REMIND = "remind", _("reminded")
    ESCALATE = "escalate", _("escalated")


class Reminder(models.Model):
    """A waiting step (or an overdue callback) reminded to its holders, or escalated to `escalated_to`'s head."""

    kind = models.CharField(_("kind"), max_length=10, choices=ReminderKind.choices)
    step = models.ForeignKey("approvals.CaseStep", verbose_name=_("case step"), null=True, blank=True,
                             on_delete=models.CASCADE, related_name="reminders")
    callback = models.ForeignKey("relationships.Callback", verbose_name=_("callback"), null=True, blank=True,
                                 on_delete=models.CASCADE, related_name="reminders")
    # Escalation: the branch (or the head office) whose head now sees the item and may act on it.
    escalated_to = models.ForeignKey("relationships.Organisation", verbose_name=_("escalated to"), null=True,
                                     blank=True, on_delete=models.PROTECT, related_name="+")
    business_date = models.DateField(_("business date"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("reminder")
        verbose_name_plural = _("reminders")
        constraints = [
            valid_choice("kind", ReminderKind, name="reminder_kind_valid"),
            models.CheckConstraint(condition=Q(step__isnull=False, callback__isnull=True)
                                   | Q(step__isnull=True, callback__isnull=False), name="reminder_one_target"),
            models.CheckConstraint(condition=~Q(kind="escalate") | Q(escalated_to__isnull=False),
                                   name="reminder_escalation_target"),
            models.UniqueConstraint(fields=["step", "kind"], condition=Q(step__isnull=False),
                                    name="reminder_once_per_step"),
            models.UniqueConstraint(fields=["callback", "kind"], condition=Q(callback__isnull=False),
                                    name="reminder_once_per_callback"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.business_date}"


class Notification(models.Model):
    """A message in the site (R-APR-9): what the e-mail says, for the user without an address or who opted out."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    # As worded when it was written (in the site's language), and for rows from before messages were stored.
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("message"))
    # The same as messages (common.wording: msgid and parameters), read in the reader's language.
    subject_message = models.JSONField(_("subject"), null=True, blank=True, editable=False)
    body_message = models.JSONField(_("message"), null=True, blank=True, editable=False)
    link = models.CharField(_("link"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    # The address the e-mail goes to (blank: in the site only); set once sent, so a retried task never sends twice.
    email_to = models.EmailField(_("e-mail address"), blank=True)
    emailed_at = models.DateTimeField(_("e-mailed at"), null=True, blank=True)
    # What the message is about, once per user: a re-run (a reminder stage, the digest of a day) tells nobody twice.
    key = models.CharField(max_length=120, null=True, blank=True, unique=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        indexes = [models.Index(fields=["user", "-created_at"], name="notification_user_recent",
                                condition=Q(read_at__isnull=True))]

    def __str__(self) -> str:
        return self.subject_shown

    @property
    def subject_shown(self) -> str:
        """The subject in the language active now; a row from before messages were stored has its text, recognised
        in the catalogue where it can be (else shown as worded then)."""
        return shown(self.subject_message, self.subject)[:200]

    @property
    def body_shown(self) -> str:
        return shown(self.body_message, self.body)


class NotificationPreference(models.Model):
    """A user's choice: e-mail for every event (default), or only the daily digest (R-APR-9)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="notification_preference")
    digest_only = models.BooleanField(_("e-mail me only the daily digest"), default=False)

    class Meta:
        verbose_name = _("notification preference")
        verbose_name_plural = _("notification preferences")

    def __str__(self) -> str:
        return str(self.user)


class StepAssignee(models.Model):
    """R-APR-10: a waiting step handed to one current holder of its post (by the branch head or HQ's office), with
    the reason, which the case's timeline also shows. While it stands, only he (or the head it was escalated to)
    decides the step."""

    step = models.OneToOneField("approvals.CaseStep", on_delete=models.CASCADE, related_name="assignee")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("assigned to"), on_delete=models.PROTECT,
                             related_name="+")
    reason = models.TextField(_("reason"))
    assigned_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    assigned_at = models.DateTimeField(_("assigned at"), auto_now=True)

    class Meta:
        verbose_name = _("step assignee")
        verbose_name_plural = _("step assignees")

    def __str__(self) -> str:
        return str(self.user)
