"""§11 Follow-up: callbacks (R-CB-1)."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from common.constraints import valid_choice
from relationships.models.org import Organisation


class CallbackStatus(models.TextChoices):
    PENDING = "pending", _("to call")
    CONFIRMED = "confirmed", _("confirmed")
    DISPUTED = "disputed", _("disputed")


class DisputeResolution(models.TextChoices):
    KEPT = "kept", _("relationship kept")
    ENDED = "ended", _("relationship ended")
    REASSIGNED = "reassigned", _("reassigned to other holders")  # R-STAFF-1, through an approved reassignment


class Callback(models.Model):
    """R-CB-1: one callback (回访) per new relationship, for the relationship's outlet."""

    relationship = models.OneToOneField("Relationship", verbose_name=_("relationship"), on_delete=models.PROTECT,
                                        related_name="callback")
    outlet = models.ForeignKey(Organisation, verbose_name=_("outlet"), null=True, on_delete=models.PROTECT,
                               related_name="+")
    created_on = models.DateField(_("created on"))
    due_on = models.DateField(_("due on"))
    status = models.CharField(_("status"), max_length=10, choices=CallbackStatus.choices,
                              default=CallbackStatus.PENDING)
    reason = models.TextField(_("reason"), blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    recorded_at = models.DateTimeField(_("recorded at"), null=True, blank=True)
    # A disputed relationship goes back to the branch, which keeps or ends it.
    resolution = models.CharField(_("branch decision"), max_length=10, choices=DisputeResolution.choices,
                                  blank=True)
    resolution_note = models.TextField(_("branch note"), blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    resolved_at = models.DateTimeField(_("decided at"), null=True, blank=True)

    class Meta:
        verbose_name = _("callback")
        verbose_name_plural = _("callbacks")
        constraints = [
            valid_choice("status", CallbackStatus, name="callback_status_valid"),
            valid_choice("resolution", DisputeResolution, name="callback_resolution_valid", blank=True),
        ]
        indexes = [
            models.Index(fields=["outlet", "due_on"], name="callback_pending_by_outlet",
                         condition=Q(status="pending")),
            models.Index(fields=["outlet"], name="callback_disputed_open",
                         condition=Q(status="disputed", resolution="")),
        ]

    def __str__(self) -> str:
        return _("Callback of %(relationship)s") % {"relationship": self.relationship}
