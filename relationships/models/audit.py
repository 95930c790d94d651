"""The append-only trails: the audit entries and every unmasked view of personal information (R-PII-1)."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from common.actors import actor_words
from common.guards import append_only_guards


class AuditEntry(models.Model):
    """Append-only trail (who, what, when, which row, before/after). Triggers refuse UPDATE, DELETE and TRUNCATE."""

    at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+")
    actor_label = models.CharField(_("actor"), max_length=100)
    action = models.CharField(_("action"), max_length=60)
    target_model = models.CharField(_("object type"), max_length=60)
    target_id = models.CharField(_("object id"), max_length=40)
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"), null=True, blank=True)

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        indexes = [models.Index(fields=["target_model", "target_id"])]
        triggers = append_only_guards()

    def __str__(self) -> str:
        # Issue 19: the admin's title and breadcrumbs read this; the action key is not words (the page shows
        # the action's label, relationships.audit.action_words).
        return f"{self.at:%Y-%m-%d %H:%M} {actor_words(self.actor_label)}"


class PiiAccess(models.Model):
    """R-PII-1: every unmasked view or export of an ID number or phone."""

    at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+")
    actor_label = models.CharField(max_length=100)
    purpose = models.CharField(max_length=100)
    detail = models.CharField(max_length=200)
    rows = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("personal information access")
        verbose_name_plural = _("personal information accesses")
        triggers = append_only_guards()  # R-PII-1: the log of every unmasked view

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_label} {self.purpose}"
