"""The organisation and its people: regions, HQ → branch → outlet (R-ORG-1), marketing staff (R-ORG-2/3)
and their qualifications (R-ORG-4)."""
from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from common.constraints import valid_choice


class Region(models.Model):
    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)

    class Meta:
        verbose_name = _("region")
        verbose_name_plural = _("regions")

    def __str__(self) -> str:
        return self.name


class OrgKind(models.TextChoices):
    HQ = "hq", _("head office")
    BRANCH = "branch", _("branch company")
    OUTLET = "outlet", _("business department")


class Organisation(models.Model):
    """R-ORG-1: HQ → branch → outlet; every branch belongs to a region.

    `branch` is denormalised (a branch points at itself, an outlet at its
    parent) so that visibility and cross-region checks are one indexed join.
    """

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=10, choices=OrgKind.choices)
    parent = models.ForeignKey("self", verbose_name=_("parent"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="children")
    branch = models.ForeignKey("self", verbose_name=_("branch company"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="+")
    region = models.ForeignKey(Region, verbose_name=_("region"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="organisations")

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=["hq", "branch", "outlet"]), name="org_kind_valid"),
            models.CheckConstraint(condition=Q(kind="hq") | Q(parent__isnull=False), name="org_non_hq_has_parent"),
        ]

    def __str__(self) -> str:
        return f"{self.name}"


class StaffKind(models.TextChoices):
    ADVISOR = "advisor", _("investment advisor")
    ACCOUNT_MANAGER = "account_manager", _("account manager")
    OTHER_FRONT = "other_front", _("other front staff")
    BROKER = "broker", _("securities broker")


FRONT_KINDS = (StaffKind.ADVISOR, StaffKind.ACCOUNT_MANAGER, StaffKind.OTHER_FRONT)


class Staff(models.Model):
    """R-ORG-2: marketing staff, one outlet at a time; brokers form a tree (R-ORG-3)."""

    staff_no = models.CharField(_("staff number"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    user = models.OneToOneField(settings.AUTH_USER_MODEL, verbose_name=_("user"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="staff")
    outlet = models.ForeignKey(Organisation, verbose_name=_("outlet"), on_delete=models.PROTECT,
                               related_name="staff", limit_choices_to={"kind": OrgKind.OUTLET})
    kind = models.CharField(_("staff kind"), max_length=20, choices=StaffKind.choices)
    parent = models.ForeignKey("self", verbose_name=_("parent broker"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="children")
    attach_open = models.BooleanField(_("attach permission open"), default=False)
    # R-STAFF-1 / R-ATT-2: from this day he holds no outlet and may not be attached (relationships.membership).
    left_on = models.DateField(_("leaving date"), null=True, blank=True)

    class Meta:
        verbose_name = _("marketing staff")
        verbose_name_plural = _("marketing staff")
        constraints = [
            valid_choice("kind", StaffKind, name="staff_kind_valid"),
        ]

    def __str__(self) -> str:
        return gettext("%(name)s (%(code)s)") % {"name": self.name, "code": self.staff_no}


class QualificationKind(models.TextChoices):
    SECURITIES = "securities", _("securities practice")
    FUTURES = "futures", _("futures practice")
    CONSULTING = "consulting", _("investment consulting")
    BROKER = "broker", _("securities broker practice")


class Qualification(models.Model):
    """R-ORG-4: a lapsed qualification counts as absent."""

    staff = models.ForeignKey(Staff, verbose_name=_("staff"), on_delete=models.CASCADE,
                              related_name="qualifications")
    kind = models.CharField(_("qualification"), max_length=20, choices=QualificationKind.choices)
    number = models.CharField(_("certificate number"), max_length=64, blank=True)
    valid_from = models.DateField(_("valid from"), default=dt.date(2000, 1, 1))
    valid_to = models.DateField(_("valid to"), null=True, blank=True)

    class Meta:
        verbose_name = _("qualification")
        verbose_name_plural = _("qualifications")
        constraints = [
            valid_choice("kind", QualificationKind, name="qualification_kind_valid"),

            models.UniqueConstraint(fields=["staff", "kind", "valid_from"], name="qualification_unique_start"),
            models.CheckConstraint(condition=Q(valid_to__isnull=True) | Q(valid_to__gte=models.F("valid_from")),
                                   name="qualification_dates_ordered"),
        ]

    def __str__(self) -> str:
        return f"{self.staff} · {self.get_kind_display()}"
