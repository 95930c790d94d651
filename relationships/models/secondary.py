"""§7 Secondary development: nightly classification (R-SEC-1/2/3/6) and pre-assignment (R-SEC-4)."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from common.constraints import valid_choice
from relationships.models.customers import AccountEvent, Customer
from relationships.models.org import Organisation, Staff


class CustomerClassKind(models.TextChoices):
    LOST = "lost", _("lost")
    DORMANT = "dormant", _("dormant")
    SILENT = "silent", _("silent")


class CustomerClass(models.Model):
    """R-SEC-6: a period during which a customer is lost, dormant or silent, derived by the nightly batch.

    One open row per customer (`ended_on` null). A new loss or dormancy episode is a new row; the
    old one keeps its dates, so the history of a customer's classes is never rewritten.
    """

    customer = models.ForeignKey(Customer, verbose_name=_("customer"), on_delete=models.PROTECT,
                                 related_name="classes")
    kind = models.CharField(_("classification"), max_length=10, choices=CustomerClassKind.choices)
    # Lost: the loss (close / cancelled designation); dormant: the dormancy event; silent: the 12th month-end.
    since = models.DateField(_("since"))
    since_at = models.DateTimeField(_("since (time)"), null=True, blank=True)
    source_event = models.ForeignKey(AccountEvent, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    # Where the customer belongs for scoping (R-PERM-4): the outlet of the loss / dormancy / last account.
    outlet = models.ForeignKey(Organisation, verbose_name=_("outlet"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="+")
    detected_on = models.DateField(_("detected on"))
    ended_on = models.DateField(_("ended on"), null=True, blank=True)

    class Meta:
        verbose_name = _("customer classification")
        verbose_name_plural = _("customer classifications")
        constraints = [
            models.UniqueConstraint(fields=["customer"], condition=Q(ended_on__isnull=True),
                                    name="customer_class_one_open"),
            models.CheckConstraint(condition=Q(kind__in=["lost", "dormant", "silent"]), name="customer_class_kind"),
        ]
        indexes = [
            models.Index(fields=["kind", "outlet"], name="customer_class_open_by_kind",
                         condition=Q(ended_on__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"{self.customer} · {self.get_kind_display()}"

    @property
    def active(self) -> bool:
        return self.ended_on is None


class PreAssignmentStatus(models.TextChoices):
    ACTIVE = "active", _("active")
    DEVELOPED = "developed", _("developed")
    ENDED = "ended", _("ended by the branch")
    LAPSED = "lapsed", _("lapsed")


class PreAssignment(models.Model):
    """R-SEC-4: the branch pre-assigns a lost / dormant / silent customer to one front staff member."""

    customer = models.ForeignKey(Customer, verbose_name=_("customer"), on_delete=models.PROTECT,
                                 related_name="preassignments")
    classification = models.ForeignKey(CustomerClass, verbose_name=_("classification"), on_delete=models.PROTECT,
                                       related_name="preassignments")
    staff = models.ForeignKey(Staff, verbose_name=_("assignee"), on_delete=models.PROTECT,
                              related_name="preassignments")
    branch = models.ForeignKey(Organisation, verbose_name=_("branch company"), on_delete=models.PROTECT,
                               related_name="+")
    assigned_at = models.DateTimeField(_("assigned at"))
    assigned_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    source = models.CharField(_("source"), max_length=10, default="form")
    status = models.CharField(_("status"), max_length=10, choices=PreAssignmentStatus.choices,
                              default=PreAssignmentStatus.ACTIVE)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    end_note = models.CharField(_("note"), max_length=300, blank=True)
    relationship = models.ForeignKey("Relationship", null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")

    class Meta:
        verbose_name = _("pre-assignment")
        verbose_name_plural = _("pre-assignments")
        constraints = [
            valid_choice("status", PreAssignmentStatus, name="preassignment_status_valid"),

            # R-SEC-4: at most one active pre-assignment per customer, whoever (whichever branch) assigns.
            models.UniqueConstraint(fields=["customer"], condition=Q(status="active"),
                                    name="preassignment_one_active_per_customer"),
        ]
        indexes = [
            models.Index(fields=["staff", "status"], name="preassignment_by_staff"),
            models.Index(fields=["branch", "status"], name="preassignment_by_branch"),
        ]

    def __str__(self) -> str:
        return f"{self.customer} → {self.staff}"
