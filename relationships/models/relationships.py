"""The relationship types (R-TYPE-1/2), the relationships with their holders' shares, and the credit changes
that performance reads (R-PERF-3)."""
from __future__ import annotations

from decimal import Decimal

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from common.guards import change_recorders
from relationships.models.customers import AccountEvent, Customer
from relationships.models.org import Organisation, QualificationKind, Staff


class RelationshipType(models.Model):
    """R-TYPE-1: the ten types are rows; matching and chains read them, no code branches per type."""

    code = models.CharField(_("code"), max_length=30, primary_key=True)
    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=100)
    holder_kinds = ArrayField(models.CharField(max_length=20), verbose_name=_("who may hold it"))
    qualification = models.CharField(_("qualification"), max_length=20, choices=QualificationKind.choices)
    creation = models.CharField(_("how it is created"), max_length=20, choices=[
        ("auto_match", _("reservation and automatic match")),
        ("reservation_approval", _("reservation, then approval")),
        ("secondary", _("pre-assignment and reactivation")),
        ("branch", _("branch creates")),
        ("core_list", _("branch list, HQ review")),
    ])
    # Issue 19: HQ edits these rows in the admin, which shows every field by its verbose name.
    match_event_kind = models.CharField(_("matching account event"), max_length=30, blank=True)
    match_account_type = models.CharField(_("matching account type"), max_length=20, blank=True)
    match_customer = models.CharField(_("matching customer"), max_length=10, blank=True, choices=[
        ("new", _("new customer")), ("existing", _("existing customer")), ("any", _("any customer"))])
    match_first_only = models.BooleanField(_("first match only"), default=False)
    single_holder = models.BooleanField(_("single holder"), default=False)
    cross_region_check = models.BooleanField(_("cross-region check"), default=False)
    chain_late = models.CharField(_("approval chain when late"), max_length=30, blank=True)
    chain_always = models.CharField(_("approval chain always"), max_length=30, blank=True)
    reservable = models.BooleanField(_("can be reserved"), default=True)
    sort_order = models.PositiveSmallIntegerField(_("sort order"), default=0)
    # R-TYPE-2: what rules used to hard-code, on the row. A development relationship (开发关系) keeps its customer off
    # a core list (R-CORE-1); a special-new application by a staff member of one of these kinds creates this type.
    is_development = models.BooleanField(_("development relationship"), default=False)
    special_new_for = ArrayField(models.CharField(max_length=20), verbose_name=_("special-new applications of"),
                                 default=list, blank=True)

    class Meta:
        verbose_name = _("relationship type")
        verbose_name_plural = _("relationship types")
        ordering = ["sort_order"]

    def __str__(self) -> str:
        # Issue 19: every picker and page that shows a type shows it by str(); the English pages read its English name.
        return self.label

    @property
    def label(self) -> str:
        """The name in the page's language: the rows carry a Chinese and an English name."""
        return self.name_en if (get_language() or "").startswith("en") and self.name_en else self.name


class RelationshipStatus(models.TextChoices):
    ACTIVE = "active", _("active")
    ENDED = "ended", _("ended")


# Where a relationship came from, as people read it (the `source` column holds the code).
RELATIONSHIP_SOURCES = {
    "reservation": _("reservation matched to an account opening"),
    "approval": _("approval case"),
    "secondary": _("secondary development of a pre-assigned customer"),
    "core_list": _("core list"),
    "feed": _("loaded from the relationships feed"),
    "reassignment": _("reassignment of a departing or moving holder"),
}


class Relationship(models.Model):
    customer = models.ForeignKey(Customer, verbose_name=_("customer"), on_delete=models.PROTECT,
                                 related_name="relationships")
    type = models.ForeignKey(RelationshipType, verbose_name=_("relationship type"), on_delete=models.PROTECT)
    effective_from = models.DateField(_("effective from"))
    effective_to = models.DateField(_("effective to"), null=True, blank=True)
    source = models.CharField(_("source"), max_length=20)
    origin_event = models.ForeignKey(AccountEvent, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="relationships")
    # Outlet of the opening (or of the first holder): the row-level scope of the customer.
    outlet = models.ForeignKey(Organisation, verbose_name=_("outlet"), null=True, on_delete=models.PROTECT,
                               related_name="relationships")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("client relationship")
        verbose_name_plural = _("client relationships")
        constraints = [
            models.UniqueConstraint(fields=["customer", "type"], condition=Q(effective_to__isnull=True),
                                    name="relationship_one_active_per_type"),
            models.CheckConstraint(condition=(Q(effective_to__isnull=True)
                                              | Q(effective_to__gte=models.F("effective_from"))),
                                   name="relationship_dates_ordered"),
        ]
        # Performance (R-PERF-3) recomputes the open months from the earliest day a change touched.
        triggers = change_recorders(into="relationships_creditchange", columns=["customer_id", "type_id"])

    def __str__(self) -> str:
        return f"{self.type} · {self.customer}"

    @property
    def source_label(self) -> str:
        return str(RELATIONSHIP_SOURCES.get(self.source, _("other")))

    @property
    def status(self) -> str:
        return RelationshipStatus.ACTIVE if self.effective_to is None else RelationshipStatus.ENDED


class RelationshipShare(models.Model):
    """A holder's ratio, effective [effective_from, effective_to) (R-PERF-3)."""

    relationship = models.ForeignKey(Relationship, on_delete=models.CASCADE, related_name="shares")
    staff = models.ForeignKey(Staff, verbose_name=_("holder"), on_delete=models.PROTECT, related_name="shares")
    ratio = models.DecimalField(_("split ratio"), max_digits=5, decimal_places=4)
    effective_from = models.DateField(_("effective from"))
    effective_to = models.DateField(_("effective to"), null=True, blank=True)

    class Meta:
        verbose_name = _("relationship share")
        verbose_name_plural = _("relationship shares")
        constraints = [
            models.CheckConstraint(condition=Q(ratio__gt=Decimal("0")) & Q(ratio__lte=Decimal("1")),
                                   name="share_ratio_in_range"),
            models.UniqueConstraint(fields=["relationship", "staff"], condition=Q(effective_to__isnull=True),
                                    name="share_one_active_per_holder"),
        ]
        indexes = [models.Index(fields=["staff", "effective_from"])]
        triggers = change_recorders(into="relationships_creditchange",
                                    columns=["relationship_id", "staff_id", "ratio"])

    def __str__(self) -> str:
        return f"{self.staff} · {self.ratio}"


class CreditChange(models.Model):
    """Who is credited with a customer's figures may have changed from `from_day` on: written by the triggers of
    `Relationship` and `RelationshipShare` (one row per statement), read and removed by the performance night."""

    from_day = models.DateField(_("from day"))
    recorded_at = models.DateTimeField(_("recorded at"))

    class Meta:
        verbose_name = _("credit change")
        verbose_name_plural = _("credit changes")

    def __str__(self) -> str:
        return f"{self.from_day:%Y-%m-%d}"
