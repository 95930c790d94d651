"""Roles and what they see (R-PERM-4). Administration of roles (R-PERM-1/2/3) builds on these rows."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from relationships.models import Organisation


class RoleKind(models.TextChoices):
    OUTLET_HEAD = "outlet_head", _("outlet head")
    OUTLET_STAFF = "outlet_ops", _("outlet operations")
    BRANCH = "branch", _("branch user")
    BRANCH_HEAD = "branch_head", _("branch head")
    BRANCH_PERMISSION_ADMIN = "branch_permission_admin", _("branch permission admin")
    HQ = "hq", _("head office")
    HQ_REVIEWER = "hq_reviewer", _("head office reviewer")


class Role(models.Model):
    """A user's role at an organisation. Staff without a role see only their own rows."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="roles")
    kind = models.CharField(_("role"), max_length=30, choices=RoleKind.choices)
    organisation = models.ForeignKey(Organisation, verbose_name=_("organisation"), on_delete=models.PROTECT,
                                     related_name="roles")

    class Meta:
        verbose_name = _("role")
        verbose_name_plural = _("roles")
        constraints = [models.UniqueConstraint(fields=["user", "kind", "organisation"], name="role_once")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} @ {self.organisation}"
