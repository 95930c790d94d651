"""§8 Branch-created relationships (R-BR-1) and core lists (R-CORE-1/2/3)."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from common.constraints import valid_choice
from relationships.models.customers import Customer
from relationships.models.org import Organisation, Staff
from relationships.models.relationships import RelationshipType


class BranchRequestKind(models.TextChoices):
    CREATE = "create", _("create")
    REPLACE = "replace", _("replace")
    END = "end", _("end")


class BranchRequestStatus(models.TextChoices):
    PENDING = "pending", _("pending approval")
    APPROVED = "approved", _("approved")
    REJECTED = "rejected", _("rejected")
    WITHDRAWN = "withdrawn", _("withdrawn")
    APPLIED = "applied", _("applied")


class BranchRequest(models.Model):
    """R-BR-1: the branch creates, replaces or ends an EXISTING_DEV / MAINTENANCE / KEY_SERVICE relationship.

    Creations and replacements go through the 1-level chain (the approval case's dedupe key is
    `branch_request:<id>`); a replacement ends the old version on the new version's start date, and
    every version keeps its validity dates.
    """

    kind = models.CharField(_("change"), max_length=10, choices=BranchRequestKind.choices)
    customer = models.ForeignKey(Customer, verbose_name=_("customer"), on_delete=models.PROTECT,
                                 related_name="branch_requests")
    type = models.ForeignKey(RelationshipType, verbose_name=_("relationship type"), on_delete=models.PROTECT)
    branch = models.ForeignKey(Organisation, verbose_name=_("branch company"), on_delete=models.PROTECT,
                               related_name="+")
    shares = models.JSONField(_("holders and ratios"), default=list)
    effective_from = models.DateField(_("effective from"))
    old_relationship = models.ForeignKey("Relationship", verbose_name=_("replaced / ended version"), null=True,
                                         blank=True, on_delete=models.PROTECT, related_name="+")
    ended_share_ids = models.JSONField(default=list, blank=True)
    new_relationship = models.ForeignKey("Relationship", verbose_name=_("new version"), null=True, blank=True,
                                         on_delete=models.PROTECT, related_name="+")
    status = models.CharField(_("status"), max_length=10, choices=BranchRequestStatus.choices,
                              default=BranchRequestStatus.PENDING)
    reason = models.TextField(_("reason"), blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    requested_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    source = models.CharField(_("source"), max_length=10, default="form")

    class Meta:
        verbose_name = _("branch relationship request")
        verbose_name_plural = _("branch relationship requests")
        constraints = [
            valid_choice("status", BranchRequestStatus, name="branch_request_status_valid"),
            valid_choice("kind", BranchRequestKind, name="branch_request_kind_valid"),
            # R-BR-1: one request waiting per customer and type, whoever files it at the same moment.
            models.UniqueConstraint(fields=["customer", "type"], condition=Q(status="pending"),
                                    name="branch_request_one_pending_per_type"),
        ]
        indexes = [models.Index(fields=["branch", "-requested_at"], name="branch_request_by_branch")]

    def __str__(self) -> str:
        return _("Branch request #%(id)s") % {"id": self.pk}

    @property
    def dedupe_key(self) -> str:
        return f"branch_request:{self.pk}"


class CoreListSubmission(models.Model):
    """R-CORE-2: one submission of a branch's core-customer list (form, file or feed)."""

    branch = models.ForeignKey(Organisation, verbose_name=_("branch company"), on_delete=models.PROTECT,
                               related_name="+")
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    submitted_at = models.DateTimeField(_("submitted at"))
    source = models.CharField(_("source"), max_length=10, default="form")
    filename = models.CharField(_("file name"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("core list submission")
        verbose_name_plural = _("core list submissions")

    def __str__(self) -> str:
        return _("Core list #%(id)s") % {"id": self.pk}


class CoreLineStatus(models.TextChoices):
    REFUSED = "refused", _("refused at submission")
    PENDING = "pending", _("waiting for HQ")
    APPROVED = "approved", _("approved")
    REJECTED = "rejected", _("rejected by HQ")
    WITHDRAWN = "withdrawn", _("withdrawn")


class CoreListLine(models.Model):
    """A line of a core list: one customer for one investment advisor (R-CORE-1), reviewed by HQ (R-CORE-2).

    Its approval case's dedupe key is `core_line:<id>`.
    """

    submission = models.ForeignKey(CoreListSubmission, on_delete=models.CASCADE, related_name="lines")
    line_no = models.PositiveIntegerField(_("line"))
    customer = models.ForeignKey(Customer, verbose_name=_("customer"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="core_lines")
    id_masked = models.CharField(_("ID card number"), max_length=18, blank=True)
    advisor = models.ForeignKey(Staff, verbose_name=_("investment advisor"), null=True, blank=True,
                                on_delete=models.PROTECT, related_name="core_lines")
    advisor_no = models.CharField(_("staff number"), max_length=32, blank=True)
    effective_from = models.DateField(_("effective from"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=CoreLineStatus.choices)
    reason = models.TextField(_("reason"), blank=True)
    relationship = models.ForeignKey("Relationship", null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")

    class Meta:
        verbose_name = _("core list line")
        verbose_name_plural = _("core list lines")
        ordering = ["submission", "line_no"]
        constraints = [
            valid_choice("status", CoreLineStatus, name="core_line_status_valid"),

            # R-CORE-1: one advisor per core customer — one line under review per customer at a time.
            models.UniqueConstraint(fields=["customer"], condition=Q(status="pending"),
                                    name="core_line_one_pending_per_customer"),
        ]
        indexes = [models.Index(fields=["advisor", "status"], name="core_line_by_advisor")]

    def __str__(self) -> str:
        return _("Core list #%(list)s, line %(line)s") % {"list": self.submission_id, "line": self.line_no}

    @property
    def dedupe_key(self) -> str:
        return f"core_line:{self.pk}"
