"""§9: the approval case, its reasons, outcomes and state machine, and its append-only actions (R-APR-8).

A case carries what it decides (customer, type, proposed holders and ratios), so this app never imports
`reservations`; a reservation points at its case.
"""
from __future__ import annotations

import functools

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, FSMFieldMixin, transition

from approvals.models.chains import Chain
from common.constraints import valid_choice
from common.guards import append_only_guards
from relationships.models import AccountEvent, Customer, Organisation, RelationshipType, Staff


class CaseReason(models.TextChoices):
    LATE = "late", _("late reservation")
    DUPLICATE = "duplicate", _("duplicate reservations")
    CROSS_REGION = "cross_region", _("cross-region development")
    BROKER = "broker", _("broker development")
    SPECIAL_NEW = "special_new", _("special new")
    BRANCH_CREATED = "branch_created", _("branch-created relationship")
    CORE_LIST = "core_list", _("core customer list")
    REASSIGNMENT = "reassignment", _("reassignment of relationships")


class CaseOutcome(models.TextChoices):
    """What final approval does: create the relationship (default), end `target_relationship`, or end it and
    create its successor in the same transaction (R-BR-1: every version keeps its validity dates)."""
    CREATE = "create", _("create the relationship")
    END = "end", _("end the relationship")
    REPLACE = "replace", _("replace the relationship")
    # R-STAFF-1: a batch of relationships given to new holders (relationships.reassignment applies it).
    REASSIGN = "reassign", _("reassign the relationships")


class CaseStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    RETURNED = "returned", _("returned for correction")
    APPROVED = "approved", _("approved")
    REJECTED = "rejected", _("rejected")
    WITHDRAWN = "withdrawn", _("withdrawn")


OPEN_CASE_STATUSES = (CaseStatus.PENDING, CaseStatus.RETURNED)
# R-MATCH-3: the reasons of a competing claim on a customer and type; one such case is open at a time (the
# conflict case), enforced by the partial unique index `approval_case_one_open_claim`.
CLAIM_REASONS = (CaseReason.LATE, CaseReason.DUPLICATE, CaseReason.CROSS_REGION, CaseReason.BROKER,
                 CaseReason.SPECIAL_NEW)


class ApprovalCaseQuerySet(models.QuerySet):
    def in_progress(self):
        """Cases still deciding something: pending at a step, or returned to the applicant."""
        return self.filter(status__in=OPEN_CASE_STATUSES)


@functools.cache
def _state_fields(model: type[models.Model]) -> tuple[FSMFieldMixin, ...]:
    return tuple(f for f in model._meta.fields if isinstance(f, FSMFieldMixin))


class ApprovalCase(ConcurrentTransitionMixin, models.Model):
    reason = models.CharField(_("reason"), max_length=20, choices=CaseReason.choices)
    type = models.ForeignKey(RelationshipType, verbose_name=_("relationship type"), on_delete=models.PROTECT)
    customer = models.ForeignKey(Customer, verbose_name=_("customer"), on_delete=models.PROTECT,
                                 related_name="approval_cases")
    chain = models.ForeignKey(Chain, verbose_name=_("chain"), null=True, on_delete=models.PROTECT)
    status = FSMField(_("status"), default=CaseStatus.PENDING, choices=CaseStatus.choices, protected=True)
    current_step = models.PositiveSmallIntegerField(_("current step"), default=1)
    # What the case decides: [{"staff_id": 1, "ratio": "0.6000"}, …]; the final approver may change it.
    proposed_shares = models.JSONField(_("proposed holders and ratios"), default=list)
    opening_event = models.ForeignKey(AccountEvent, null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="approval_cases")
    opening_date = models.DateField(_("account opening date"), null=True, blank=True)
    opening_outlet = models.ForeignKey(Organisation, verbose_name=_("opening outlet"), null=True, blank=True,
                                       on_delete=models.PROTECT, related_name="+")
    branch = models.ForeignKey(Organisation, verbose_name=_("branch company"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="+")
    applicant = models.ForeignKey(Staff, verbose_name=_("applicant"), null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="applied_cases")
    explanation = models.TextField(_("explanation"), blank=True)
    # Why the case exists, as data: rendered in words at read time in the reader's language
    # (`approvals.explanations`); `explanation_params` holds the facts (dates, staff ids, numbers, a note).
    explanation_code = models.CharField(_("explanation code"), max_length=40, blank=True)
    explanation_params = models.JSONField(_("explanation facts"), default=dict, blank=True)
    outcome = models.CharField(_("outcome"), max_length=10, choices=CaseOutcome.choices,
                               default=CaseOutcome.CREATE)
    # The version an `end` / `replace` case ends on `opening_date` when approved.
    target_relationship = models.ForeignKey("relationships.Relationship", verbose_name=_("relationship to end"),
                                            null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # Who filed the case (a branch user files branch-created and core-list cases, which have no staff applicant).
    filed_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("filed by"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="+")
    # What a branch-created case (R-BR-1) or a core-list case (R-CORE-2) decides: the request or the list line,
    # which follow the decision (reservations.branch.follow).
    branch_request = models.ForeignKey("relationships.BranchRequest", verbose_name=_("branch request"), null=True,
                                       blank=True, on_delete=models.PROTECT, related_name="cases")
    core_line = models.ForeignKey("relationships.CoreListLine", verbose_name=_("core list line"), null=True,
                                  blank=True, on_delete=models.PROTECT, related_name="cases")
    # The batch's idempotency key: re-running a night never opens the same case twice (R-MATCH-6).
    dedupe_key = models.CharField(max_length=120, unique=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ApprovalCaseQuerySet.as_manager()

    class Meta:
        verbose_name = _("approval case")
        verbose_name_plural = _("approval cases")
        indexes = [
            models.Index(fields=["status", "created_at"]),
            # Issue 18: the inbox joins a holder's waiting steps to their pending cases by id; with the columns it
            # tests and sorts on included, PostgreSQL probes this index per step (index-only) instead of reading
            # every case in a sequential scan.
            models.Index(fields=["id"], include=["current_step", "filed_by", "applicant", "created_at"],
                         condition=Q(status="pending"), name="case_pending_by_id"),
        ]
        constraints = [
            valid_choice("status", CaseStatus, name="case_status_valid"),
            valid_choice("reason", CaseReason, name="case_reason_valid"),

            models.CheckConstraint(
                condition=(Q(outcome__in=["create", "reassign"], target_relationship__isnull=True)
                           | Q(outcome__in=["end", "replace"], target_relationship__isnull=False)),
                name="approval_case_outcome_target"),
            models.UniqueConstraint(fields=["customer", "type"], name="approval_case_one_open_claim",
                                    condition=Q(status__in=[s.value for s in OPEN_CASE_STATUSES],
                                                reason__in=[r.value for r in CLAIM_REASONS])),
        ]

    def __str__(self) -> str:
        return _("Approval case #%(id)s") % {"id": self.pk}

    @property
    def state_fields(self):
        """django-fsm's state fields (the status), found once per class: django-fsm walks every field of the
        model for each case it builds, 50 a list page (issue 18)."""
        return _state_fields(type(self))

    @transition(field=status, source=[CaseStatus.PENDING], target=CaseStatus.APPROVED)
    def approve(self):
        pass

    @transition(field=status, source=[CaseStatus.PENDING], target=CaseStatus.REJECTED)
    def reject(self):
        pass

    @transition(field=status, source=[CaseStatus.PENDING], target=CaseStatus.RETURNED)
    def return_for_correction(self):
        pass

    @transition(field=status, source=[CaseStatus.RETURNED], target=CaseStatus.PENDING)
    def resubmit(self):
        pass

    @transition(field=status, source=[CaseStatus.PENDING, CaseStatus.RETURNED], target=CaseStatus.WITHDRAWN)
    def withdraw(self):
        pass


class CaseAction(models.Model):
    """R-APR-8: every action, kept forever (a trigger refuses UPDATE/DELETE)."""

    case = models.ForeignKey(ApprovalCase, on_delete=models.PROTECT, related_name="actions")
    step_order = models.PositiveSmallIntegerField(_("step"))
    post = models.CharField(_("post"), max_length=30, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    on_behalf_of = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    decision = models.CharField(_("decision"), max_length=20)
    reason = models.TextField(_("reason"), blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("case action")
        verbose_name_plural = _("case actions")
        ordering = ["at", "id"]
        triggers = append_only_guards()  # R-APR-8: kept forever

    def __str__(self) -> str:
        return _("Action on case #%(case)s, step %(step)s") % {"case": self.case_id, "step": self.step_order}
