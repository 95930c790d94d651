"""What a case holds besides its steps: the competing claims of a conflict case (R-MATCH-3) and the broker
case's signed forms (R-APR-5)."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from approvals.models.cases import ApprovalCase
from relationships.models import Staff


class CaseClaimant(models.Model):
    """R-MATCH-3: one competing claim a case holds — the reservation, its staff, when it was registered
    (on time, or late by how many working days) and the ratios it proposed. Kept while the case lives."""

    case = models.ForeignKey(ApprovalCase, on_delete=models.PROTECT, related_name="claimants")
    reservation = models.OneToOneField("reservations.Reservation", null=True, blank=True, on_delete=models.PROTECT,
                                       related_name="claim")
    staff = models.ForeignKey(Staff, verbose_name=_("staff"), on_delete=models.PROTECT, related_name="+")
    registered_at = models.DateTimeField(_("registered at"))
    late_workdays = models.PositiveSmallIntegerField(_("late by working days"), null=True, blank=True)
    shares = models.JSONField(_("proposed ratios"), default=list)  # [{"staff_id": 1, "ratio": "0.6000"}, …]
    joined_at = models.DateTimeField(_("joined at"), auto_now_add=True)

    class Meta:
        verbose_name = _("claimant")
        verbose_name_plural = _("claimants")
        ordering = ["case", "registered_at", "id"]
        indexes = [models.Index(fields=["case", "registered_at"], name="case_claimant_order")]

    def __str__(self) -> str:
        return f"{self.case_id} · {self.staff_id}"


class CaseDocuments(models.Model):
    """R-APR-5: the broker case's signed forms, recorded as received and reviewed."""

    case = models.OneToOneField(ApprovalCase, on_delete=models.CASCADE, related_name="documents")
    risk_disclosure_received = models.BooleanField(_("risk disclosure form received"), default=False)
    risk_disclosure_reviewed = models.BooleanField(_("risk disclosure form reviewed"), default=False)
    service_confirmation_received = models.BooleanField(_("customer service confirmation received"), default=False)
    service_confirmation_reviewed = models.BooleanField(_("customer service confirmation reviewed"), default=False)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now=True)

    FIELDS = ("risk_disclosure_received", "risk_disclosure_reviewed",
              "service_confirmation_received", "service_confirmation_reviewed")

    class Meta:
        verbose_name = _("case documents")
        verbose_name_plural = _("case documents")

    def __str__(self) -> str:
        return _("Documents of case #%(case)s") % {"case": self.case_id}

    @property
    def complete(self) -> bool:
        return all(getattr(self, f) for f in self.FIELDS)

    def as_dict(self) -> dict:
        return {f: getattr(self, f) for f in self.FIELDS}
