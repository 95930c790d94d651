"""Roles and what they see (R-PERM-4). Administration of roles (R-PERM-1/2/3) builds on these rows."""
from __future__ import annotations

import datetime as dt
import re

from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.db import models
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from common.actors import actor_words
from common.constraints import valid_choice
from common.guards import append_only_guards
from common.wording import shown
from relationships.models import Organisation

_SIGNOFF_STAMP = re.compile(r"\[(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})([+-]\d{4}) sha256:([0-9a-f]+)\]")


def signoff_words(stored: str, applicant: str) -> str:
    """R-PERM-3: a sign-off as the page shows it — in the page's language, at local time, with its fingerprint.

    The register keeps the statement the applicant signed, stamped `[time±hhmm sha256:…]`, as it was; pages and
    the register table read that stamp. A sign-off without the stamp is shown as stored.
    """
    match = _SIGNOFF_STAMP.search(stored or "")
    if not match:
        return stored or ""
    at = dt.datetime.strptime(match.group(1) + match.group(2), "%Y-%m-%d %H:%M:%S%z")
    return gettext("Signed off by %(user)s on %(time)s (fingerprint %(digest)s)") % {
        "user": applicant, "time": f"{timezone.localtime(at):%Y-%m-%d %H:%M}", "digest": match.group(3)[:12]}


def people_only(users):
    """Users without django-guardian's stand-in for anonymous visitors ("AnonymousUser"), which is a row of the
    user table but nobody anyone picks, lists or scopes."""
    return users.exclude(username=getattr(settings, "ANONYMOUS_USER_NAME", "AnonymousUser"))


class RoleKind(models.TextChoices):
    OUTLET_HEAD = "outlet_head", _("outlet head")
    OUTLET_STAFF = "outlet_ops", _("outlet operations")
    BRANCH = "branch", _("branch user")
    BRANCH_HEAD = "branch_head", _("branch head")
    BRANCH_PERMISSION_ADMIN = "branch_permission_admin", _("branch permission admin")
    HQ = "hq", _("head office")
    HQ_REVIEWER = "hq_reviewer", _("head office reviewer")


class RoleSource(models.TextChoices):
    APPLICATION = "application", _("application")
    DIRECTORY = "directory", _("directory group")


class Role(models.Model):
    """A user's role at an organisation. Staff without a role see only their own rows.

    `source`: granted through an application (R-PERM-2) or by a directory group (R-SEC-AUTH-2); the directory
    reconciles only the roles it granted.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE,
                             related_name="roles")
    kind = models.CharField(_("role"), max_length=30, choices=RoleKind.choices)
    organisation = models.ForeignKey(Organisation, verbose_name=_("organisation"), on_delete=models.PROTECT,
                                     related_name="roles")
    source = models.CharField(_("granted by"), max_length=12, choices=RoleSource.choices,
                              default=RoleSource.APPLICATION)

    class Meta:
        verbose_name = _("role")
        verbose_name_plural = _("roles")
        constraints = [
            valid_choice("kind", RoleKind, name="role_kind_valid"),
models.UniqueConstraint(fields=["user", "kind", "organisation"], name="role_once")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} @ {self.organisation}"


# --------------------------------------------------------------------------------------------------
# R-PERM-2 / R-PERM-3: permission applications and the append-only permission register
# --------------------------------------------------------------------------------------------------

class ApplicationAction(models.TextChoices):
    GRANT = "grant", _("grant")
    ADJUST = "adjust", _("adjust")
    REVOKE = "revoke", _("revoke")


class ApplicationStatus(models.TextChoices):
    PENDING = "pending", _("waiting for the branch head")
    APPROVED = "approved", _("approved, waiting to be applied")
    APPLIED = "applied", _("applied")
    REJECTED = "rejected", _("rejected")
    WITHDRAWN = "withdrawn", _("withdrawn")


class PermissionApplication(models.Model):
    """R-PERM-2: a grant, adjustment or revocation of a branch user's role. Nothing changes until applied.

    Filed by the branch permission admin or the user himself (with his electronic sign-off), approved by
    the branch head, applied by the branch permission admin.
    """

    branch = models.ForeignKey(Organisation, verbose_name=_("branch company"), on_delete=models.PROTECT,
                               related_name="+")
    action = models.CharField(_("change"), max_length=10, choices=ApplicationAction.choices)
    subject = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("user concerned"),
                                on_delete=models.PROTECT, related_name="permission_applications")
    # For grant and adjust: the role asked for. For revoke: the role to be removed (snapshot).
    role_kind = models.CharField(_("role"), max_length=30, choices=RoleKind.choices)
    organisation = models.ForeignKey(Organisation, verbose_name=_("organisation"), on_delete=models.PROTECT,
                                     related_name="+")
    # The existing role adjusted or revoked (null for grants; set null once the role is gone).
    role = models.ForeignKey(Role, verbose_name=_("existing role"), null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="applications")
    role_before = models.JSONField(_("role before"), null=True, blank=True)
    reason = models.TextField(_("reason"))
    applicant = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("applicant"), on_delete=models.PROTECT,
                                  related_name="+")
    signoff = models.CharField(_("applicant's sign-off"), max_length=400)
    status = models.CharField(_("status"), max_length=10, choices=ApplicationStatus.choices,
                              default=ApplicationStatus.PENDING)
    filed_at = models.DateTimeField(_("filed at"), default=timezone.now)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("approved or rejected by"), null=True,
                                   blank=True, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.TextField(_("decision note"), blank=True)
    applied_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("applied by"), null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    applied_at = models.DateTimeField(_("applied at"), null=True, blank=True)

    class Meta:
        verbose_name = _("permission application")
        verbose_name_plural = _("permission applications")
        constraints = [
            valid_choice("status", ApplicationStatus, name="permapp_status_valid"),
            valid_choice("action", ApplicationAction, name="permapp_action_valid"),
            # R-PERM-2: one open application (filed or approved, not yet applied) per role, and per grant asked.
            models.UniqueConstraint(fields=["subject", "role"], name="permapp_one_open_per_role",
                                    condition=Q(status__in=["pending", "approved"], role__isnull=False)),
            models.UniqueConstraint(fields=["subject", "role_kind", "organisation"], name="permapp_one_open_grant",
                                    condition=Q(status__in=["pending", "approved"], action="grant")),
        ]
        indexes = [models.Index(fields=["branch", "status", "-filed_at"], name="permapp_branch_status")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_action_display()} {self.get_role_kind_display()} @ {self.organisation}"

    @property
    def signoff_text(self) -> str:
        return signoff_words(self.signoff, self.applicant.get_username())


class RegisterEvent(models.TextChoices):
    FILED = "filed", _("application filed")
    APPROVED = "approved", _("application approved")
    REJECTED = "rejected", _("application rejected")
    WITHDRAWN = "withdrawn", _("application withdrawn")
    GRANTED = "granted", _("grant applied")
    ADJUSTED = "adjusted", _("adjustment applied")
    REVOKED = "revoked", _("revocation applied")
    BRANCH_ADMIN_ASSIGNED = "branch_admin_assigned", _("branch permission admin assigned")
    BRANCH_ADMIN_REMOVED = "branch_admin_removed", _("branch permission admin removed")
    ATTACH_OPENED = "attach_opened", _("attach permission opened")
    ATTACH_CLOSED = "attach_closed", _("attach permission closed")
    QUALIFICATION_RECORDED = "qualification_recorded", _("qualification recorded")
    QUALIFICATION_CHANGED = "qualification_changed", _("qualification validity changed")
    # R-SEC-AUTH-1 / R-SEC-AUTH-2
    LOCKOUT_LIFTED = "lockout_lifted", _("sign-in lockout lifted")
    OTP_DEVICE_RESET = "otp_device_reset", _("second-factor device reset")
    DIRECTORY_GRANTED = "directory_granted", _("role granted by the directory")
    DIRECTORY_REVOKED = "directory_revoked", _("role withdrawn by the directory")
    # R-APR-10: post designations and delegations, and waiting steps handed to another holder
    POST_DESIGNATED = "post_designated", _("post holder designated")
    POST_DESIGNATION_ENDED = "post_designation_ended", _("post designation ended")
    STEP_REASSIGNED = "step_reassigned", _("waiting step reassigned")


class PermissionRegisterEntry(models.Model):
    """R-PERM-3 / R-ATT-1: the permission register (登记簿). Append-only: triggers refuse UPDATE, DELETE and TRUNCATE.

    Labels are copied as text so that the register reads the same whatever happens to the rows it names.
    `what` is that frozen text, in the language of whoever wrote the entry; `what_message` is the same as a
    message (`common.wording`: msgid and parameters, choice labels nested as messages), rendered in the reader's
    language (issue 19). An entry written before messages were stored has only the text (`what_text`).
    """

    at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    event = models.CharField(_("event"), max_length=30, choices=RegisterEvent.choices)
    branch = models.ForeignKey(Organisation, verbose_name=_("branch company"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="+")
    application = models.ForeignKey(PermissionApplication, verbose_name=_("application"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="register_entries")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("recorded by (user)"), null=True, blank=True,
                              on_delete=models.PROTECT, related_name="+")
    actor_label = models.CharField(_("recorded by"), max_length=150)
    applicant_label = models.CharField(_("applicant"), max_length=150, blank=True)
    approver_label = models.CharField(_("approved by"), max_length=150, blank=True)
    applier_label = models.CharField(_("applied by"), max_length=150, blank=True)
    subject_user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("user concerned"), null=True,
                                     blank=True, on_delete=models.PROTECT, related_name="+")
    subject_staff = models.ForeignKey("relationships.Staff", verbose_name=_("staff member concerned"), null=True,
                                      blank=True, on_delete=models.PROTECT, related_name="+")
    subject_label = models.CharField(_("concerns"), max_length=150)
    what = models.CharField(_("what"), max_length=300)
    what_message = models.JSONField(_("what (message)"), null=True, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    signoff = models.CharField(_("applicant's sign-off"), max_length=400, blank=True)
    detail = models.JSONField(_("detail"), null=True, blank=True)

    class Meta:
        verbose_name = _("permission register entry")
        verbose_name_plural = _("permission register")
        indexes = [models.Index(fields=["branch", "-at"], name="permreg_branch_at")]
        triggers = append_only_guards()  # R-PERM-3: append-only

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.get_event_display()} {self.subject_label}"

    @property
    def actor_text(self) -> str:
        """Who recorded it as a reader reads it (issue 19): a system actor in words, a user by his label."""
        return actor_words(self.actor_label)

    @property
    def signoff_text(self) -> str:
        return signoff_words(self.signoff, self.applicant_label)

    @property
    def what_text(self) -> str:
        """What the entry records, in the reader's language (issue 19): its message; for an entry without one, its
        text as the catalogue recognises it, else as it was written."""
        return shown(self.what_message, self.what)



# --------------------------------------------------------------------------------------------------
# R-SEC-AUTH-1: locked accounts, as the admin site lists them (django-axes' attempts, read-only)
# --------------------------------------------------------------------------------------------------

class LockedAccountManager(models.Manager):
    """The attempts of accounts locked now: as django-axes decides, the failures for the user name within the
    cool-off add up to the limit. One row per address and browser the failures came from."""

    def get_queryset(self):
        recent = AccessAttempt.objects.all()
        cool_off = get_cool_off()
        if cool_off:
            recent = recent.filter(attempt_time__gte=timezone.now() - cool_off)
        locked = (recent.order_by().values("username").annotate(failures=Sum("failures_since_start"))
                  .filter(failures__gte=settings.AXES_FAILURE_LIMIT).values("username"))
        qs = super().get_queryset().filter(username__in=locked)
        return qs.filter(attempt_time__gte=timezone.now() - cool_off) if cool_off else qs


class LockedAccount(AccessAttempt):
    objects = LockedAccountManager()

    class Meta:
        proxy = True
        verbose_name = _("locked account")
        verbose_name_plural = _("locked accounts")

    def __str__(self) -> str:
        return self.username or "—"
