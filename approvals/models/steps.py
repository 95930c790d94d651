"""A chain step materialised for one case (R-APR-1, R-APR-6), with the organisation whose post holders act."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from approvals.models.cases import ApprovalCase
from approvals.models.chains import Post
from common.constraints import valid_choice
from relationships.models import Organisation


class StepState(models.TextChoices):
    PENDING = "pending", _("pending")
    APPROVED = "approved", _("approved")
    REJECTED = "rejected", _("rejected")
    RETURNED = "returned", _("returned")
    SKIPPED = "skipped", _("skipped")


class StepKind(models.TextChoices):
    CHAIN = "chain", _("chain step")
    CONFIRM = "confirm", _("branch confirmation")  # R-MATCH-5 / R-APR-6: each branch confirms, in parallel
    HQ = "hq", _("head-office approval")  # R-APR-6: added after the confirmations when the chain has none


class CaseStep(models.Model):
    """A chain step materialised for one case, with the organisation whose post holders act on it.

    Steps are written when the case opens, so a case keeps the chain version it started with.
    """

    case = models.ForeignKey(ApprovalCase, on_delete=models.CASCADE, related_name="steps")
    order = models.PositiveSmallIntegerField(_("order"))
    post = models.CharField(_("post"), max_length=30, choices=Post.choices)
    organisation = models.ForeignKey(Organisation, verbose_name=_("acting organisation"), on_delete=models.PROTECT,
                                     related_name="+")
    state = models.CharField(_("state"), max_length=10, choices=StepState.choices, default=StepState.PENDING)
    kind = models.CharField(_("kind"), max_length=10, choices=StepKind.choices, default=StepKind.CHAIN)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    on_behalf_of = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("case step")
        verbose_name_plural = _("case steps")
        ordering = ["case", "order", "id"]
        constraints = [
            valid_choice("state", StepState, name="case_step_state_valid"),
            valid_choice("post", Post, name="case_step_post_valid"),
            valid_choice("kind", StepKind, name="case_step_kind_valid"),

            models.UniqueConstraint(fields=["case", "order", "post", "organisation"], name="case_step_once"),
        ]
        indexes = [
            models.Index(fields=["post", "organisation"], name="case_step_pending",
                         condition=Q(state="pending")),
        ]

    def __str__(self) -> str:
        return _("Case #%(case)s, step %(order)s: %(post)s") % {
            "case": self.case_id, "order": self.order, "post": self.get_post_display()}
