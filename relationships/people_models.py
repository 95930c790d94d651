"""People change (R-STAFF-1): a staff member's outlet over time, and the reassignment of his relationships.

Models only; imported by `relationships.models` so that Django registers them with this app. The foreign keys
name their models by string, so this module imports nothing of `relationships.models` (no cycle).
"""
from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import BigIntegerRangeField, DateRangeField, RangeOperators
from django.db import models
from django.db.models import Func, Q
from django.utils.translation import gettext_lazy as _

from common.constraints import valid_choice


class DateRange(Func):
    """`daterange(from, to, '[)')`: an open `to` (NULL) is unbounded."""

    function = "daterange"
    output_field = DateRangeField()


class OneStaff(Func):
    """`int8range(staff_id, staff_id, '[]')`: the staff member as a one-point range, so that the no-overlap
    constraint needs only PostgreSQL's built-in GiST range operator class — not the btree_gist extension, which
    the embedded PostgreSQL of `./dev up` (pgserver) does not ship."""

    function = "int8range"
    output_field = BigIntegerRangeField()

    def __init__(self, field: str) -> None:
        super().__init__(models.F(field), models.F(field), models.Value("[]"))


class StaffMembership(models.Model):
    """R-STAFF-1: the outlet a staff member belonged to over [valid_from, valid_to).

    A staff member without rows has always been at `Staff.outlet`; the first move writes the row before it and
    the row after it. The database keeps the rows of one staff member from overlapping (an exclusion
    constraint over their date ranges) and at most one open (`valid_to` NULL). `Staff.outlet` stays the current
    outlet for the rest of the platform; `relationships.membership` keeps the two in step.
    """

    staff = models.ForeignKey("relationships.Staff", verbose_name=_("staff"), on_delete=models.PROTECT,
                              related_name="memberships")
    outlet = models.ForeignKey("relationships.Organisation", verbose_name=_("outlet"), on_delete=models.PROTECT,
                               related_name="+")
    valid_from = models.DateField(_("valid from"))
    valid_to = models.DateField(_("valid to"), null=True, blank=True)
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("outlet membership")
        verbose_name_plural = _("outlet memberships")
        ordering = ["staff", "valid_from"]
        constraints = [
            models.CheckConstraint(condition=Q(valid_to__isnull=True) | Q(valid_to__gt=models.F("valid_from")),
                                   name="membership_dates_ordered"),
            models.UniqueConstraint(fields=["staff"], condition=Q(valid_to__isnull=True),
                                    name="membership_one_open_per_staff"),
            ExclusionConstraint(name="membership_no_overlap", expressions=[
                (OneStaff("staff"), RangeOperators.EQUAL),
                (DateRange("valid_from", "valid_to", models.Value("[)")), RangeOperators.OVERLAPS)]),
        ]

    def __str__(self) -> str:
        return f"{self.staff_id} @ {self.outlet_id} {self.valid_from}–{self.valid_to or ''}"


class ReassignmentStatus(models.TextChoices):
    PENDING = "pending", _("pending approval")
    APPROVED = "approved", _("approved")
    REJECTED = "rejected", _("rejected")
    WITHDRAWN = "withdrawn", _("withdrawn")


class Reassignment(models.Model):
    """R-STAFF-1: one batch of a staff member's relationships given to new holders, decided as one case.

    The case's dedupe key is `reassignment:<id>`; `case_id` is the case's id (no foreign key: approvals sits
    above this app). The new holders and ratios are the case's (its final approver may change them).
    """

    branch = models.ForeignKey("relationships.Organisation", verbose_name=_("branch company"),
                               on_delete=models.PROTECT, related_name="+")
    from_staff = models.ForeignKey("relationships.Staff", verbose_name=_("previous holder"),
                                   on_delete=models.PROTECT, related_name="reassignments_from")
    effective_from = models.DateField(_("effective from"))
    shares = models.JSONField(_("new holders and ratios"), default=list)
    status = models.CharField(_("status"), max_length=10, choices=ReassignmentStatus.choices,
                              default=ReassignmentStatus.PENDING)
    note = models.TextField(_("note"), blank=True)
    source = models.CharField(_("source"), max_length=10, default="form")
    case_id = models.PositiveIntegerField(_("approval case"), null=True, blank=True)
    # A disputed callback resolved by reassignment (R-CB-1): decided when the reassignment is approved.
    callback = models.ForeignKey("relationships.Callback", verbose_name=_("callback"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="+")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    requested_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)

    class Meta:
        verbose_name = _("reassignment")
        verbose_name_plural = _("reassignments")
        constraints = [valid_choice("status", ReassignmentStatus, name="reassignment_status_valid")]
        indexes = [models.Index(fields=["branch", "-requested_at"], name="reassignment_by_branch")]

    def __str__(self) -> str:
        return _("Reassignment #%(id)s") % {"id": self.pk}

    @property
    def dedupe_key(self) -> str:
        return f"reassignment:{self.pk}"


class ReassignmentLineStatus(models.TextChoices):
    PENDING = "pending", _("pending approval")
    APPLIED = "applied", _("reassigned")
    DROPPED = "dropped", _("not reassigned")


class ReassignmentLine(models.Model):
    """One relationship of a reassignment: on approval its version ends and `new_relationship` starts."""

    reassignment = models.ForeignKey(Reassignment, on_delete=models.PROTECT, related_name="lines")
    relationship = models.ForeignKey("relationships.Relationship", verbose_name=_("relationship"),
                                     on_delete=models.PROTECT, related_name="+")
    new_relationship = models.ForeignKey("relationships.Relationship", verbose_name=_("new version"), null=True,
                                         blank=True, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(_("status"), max_length=10, choices=ReassignmentLineStatus.choices,
                              default=ReassignmentLineStatus.PENDING)

    class Meta:
        verbose_name = _("reassigned relationship")
        verbose_name_plural = _("reassigned relationships")
        constraints = [
            valid_choice("status", ReassignmentLineStatus, name="reassignment_line_status_valid"),
            # One reassignment waiting per relationship, whoever files it at the same moment.
            models.UniqueConstraint(fields=["relationship"], condition=Q(status="pending"),
                                    name="reassignment_line_one_pending"),
        ]
        indexes = [models.Index(fields=["reassignment", "id"], name="reassignment_line_order")]

    def __str__(self) -> str:
        return f"{self.reassignment_id} · {self.relationship_id}"
