"""R-APR-1: approval chains as data (posts, chains, their steps) and who holds a post, or a delegate for him."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from relationships.models import Organisation


class Post(models.TextChoices):
    OUTLET_HEAD = "outlet_head", _("outlet head")
    ACCOUNT_OPENING_REVIEW = "account_opening_review", _("account-opening review")
    OUTLET_REVIEW = "outlet_review", _("outlet review")
    FINAL_APPROVAL = "final_approval", _("final approval")
    BRANCH_HEAD = "branch_head", _("branch head")
    DESIGNATED_PERSON = "designated_person", _("branch designated person")
    HQ = "hq", _("head office")


# Issue 19: the seeded chains (migrations 0002, 0011) are stored with their Chinese names. code: (seeded name,
# the name in the reader's language). A chain still carrying its seeded name is named by its code in the
# reader's language; a chain HQ renamed (or added) keeps the name HQ gave it.
SEEDED_NAMES = {
    "three_level": ("三级审批", _("Three-level approval")),
    "two_level_ib": ("二级审批（IB）", _("Two-level approval (IB)")),
    "one_level": ("一级审批", _("One-level approval")),
    "special_new": ("特殊新增审批", _("Special new-development approval")),
    "broker": ("经纪人开发关系审批", _("Broker development approval")),
    "cross_region": ("跨区域审批", _("Cross-region approval")),
    "core_list": ("核心客户名单审核", _("Core customer list review")),
    "reassignment": ("客户关系重新分配", _("Reassignment of relationships")),
}


def chain_name(*, code: str, name: str) -> str:
    seeded = SEEDED_NAMES.get(code)
    return str(seeded[1]) if seeded is not None and name == seeded[0] else name


class Chain(models.Model):
    """R-APR-1: an ordered list of steps; a case keeps the chain version it started with."""

    code = models.CharField(_("code"), max_length=30)
    version = models.PositiveIntegerField(_("version"), default=1)
    name = models.CharField(_("name"), max_length=100)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("approval chain")
        verbose_name_plural = _("approval chains")
        constraints = [
            models.UniqueConstraint(fields=["code", "version"], name="chain_code_version"),
            models.UniqueConstraint(fields=["code"], condition=Q(active=True), name="chain_one_active_version"),
        ]

    def __str__(self) -> str:
        return f"{self.label} v{self.version}"

    @property
    def label(self) -> str:
        return chain_name(code=self.code, name=self.name)


class ChainStep(models.Model):
    chain = models.ForeignKey(Chain, on_delete=models.CASCADE, related_name="steps")
    order = models.PositiveSmallIntegerField(_("order"))
    post = models.CharField(_("post"), max_length=30, choices=Post.choices)
    # Steps sharing `order` run in parallel (R-APR-6); `scope` says whose organisation acts.
    scope = models.CharField(_("acting organisation"), max_length=20, default="branch", choices=[
        ("outlet", _("opening outlet")), ("branch", _("applicant's branch")),
        ("opening_branch", _("opening outlet's branch")), ("participant_branches", _("each participant's branch")),
        ("hq", _("head office")),
    ])

    class Meta:
        verbose_name = _("chain step")
        verbose_name_plural = _("chain steps")
        ordering = ["chain", "order", "id"]

    def __str__(self) -> str:
        return f"{self.chain} · {self.order} · {self.get_post_display()}"


class PostAssignment(models.Model):
    """R-APR-1: who holds a post at an organisation, and when; or a delegate (授权代表) for a holder.

    A row with `delegate_for` set is a delegation: `user` acts for `delegate_for.user` at the same
    post and organisation between `valid_from` and `valid_to` (inclusive).
    """

    post = models.CharField(_("post"), max_length=30, choices=Post.choices)
    organisation = models.ForeignKey(Organisation, verbose_name=_("organisation"), on_delete=models.PROTECT,
                                     related_name="post_assignments")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("holder"), on_delete=models.PROTECT,
                             related_name="post_assignments")
    valid_from = models.DateField(_("valid from"))
    valid_to = models.DateField(_("valid to"), null=True, blank=True)
    delegate_for = models.ForeignKey("self", verbose_name=_("delegate for"), null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="delegations")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("post assignment")
        verbose_name_plural = _("post assignments")
        constraints = [
            models.CheckConstraint(condition=Q(valid_to__isnull=True) | Q(valid_to__gte=models.F("valid_from")),
                                   name="post_assignment_dates_ordered"),
        ]
        indexes = [models.Index(fields=["user", "post", "organisation"])]

    def __str__(self) -> str:
        return f"{self.get_post_display()} @ {self.organisation}: {self.user}"
