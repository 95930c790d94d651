"""Organisation, people, customers, accounts and the relationships themselves.

This is the lowest app: nothing here imports from the apps above it.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


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

    class Meta:
        verbose_name = _("marketing staff")
        verbose_name_plural = _("marketing staff")

    def __str__(self) -> str:
        return f"{self.name}（{self.staff_no}）"


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
            models.UniqueConstraint(fields=["staff", "kind", "valid_from"], name="qualification_unique_start"),
            models.CheckConstraint(condition=Q(valid_to__isnull=True) | Q(valid_to__gte=models.F("valid_from")),
                                   name="qualification_dates_ordered"),
        ]


class Customer(models.Model):
    """R-PII-1: the ID number is only stored encrypted, beside a keyed hash for matching."""

    id_hash = models.CharField(_("ID number hash"), max_length=64, unique=True)
    id_encrypted = models.TextField(_("ID number (encrypted)"))
    id_masked = models.CharField(_("ID number (masked)"), max_length=18)
    name = models.CharField(_("customer name"), max_length=100)
    phone_encrypted = models.TextField(_("phone (encrypted)"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")

    def __str__(self) -> str:
        return f"{self.name}（{self.id_masked}）"


class AccountType(models.TextChoices):
    SECURITIES = "securities", _("securities account")
    CREDIT = "credit", _("credit account")
    FUTURES = "futures", _("futures account")
    REPURCHASE = "repurchase", _("agreed repurchase")


class Account(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="accounts")
    account_no = models.CharField(_("account number"), max_length=40)
    account_type = models.CharField(_("account type"), max_length=20, choices=AccountType.choices)
    outlet = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="accounts", null=True)
    opened_at = models.DateTimeField(_("opened at"), null=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        constraints = [
            models.UniqueConstraint(fields=["account_type", "account_no"], name="account_unique_number"),
        ]
        indexes = [models.Index(fields=["customer", "opened_at"])]


class EventKind(models.TextChoices):
    OPEN = "open", _("open")
    CLOSE = "close", _("close")
    DESIGNATE = "designate", _("designate")
    CANCEL_DESIGNATION = "cancel_designation", _("cancel designation")
    DORMANT = "dormant", _("dormant")
    ACTIVATE = "activate", _("activate")
    TRANSFER_IN_BRANCH = "transfer_in_branch", _("own-request cross-branch transfer")
    REPURCHASE_START = "repurchase_start", _("agreed repurchase start")


MATCHABLE_EVENT_KINDS = (EventKind.OPEN, EventKind.REPURCHASE_START)


class MatchState(models.TextChoices):
    PENDING = "pending", _("waiting for matching")
    DONE = "done", _("matched")


class AccountEvent(models.Model):
    """A line of the core system's account-event feed (§12); `event_id` is the idempotency key."""

    event_id = models.CharField(_("event id"), max_length=64, unique=True)
    event_time = models.DateTimeField(_("event time"))
    business_date = models.DateField(_("business date"))
    kind = models.CharField(_("event kind"), max_length=30, choices=EventKind.choices)
    account_type = models.CharField(_("account type"), max_length=20, choices=AccountType.choices)
    account_no = models.CharField(_("account number"), max_length=40)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="events")
    customer_name = models.CharField(_("customer name"), max_length=100)
    outlet = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="events")
    # Whether the customer already had an account before this event (decides NEW_DEV vs CREDIT_DEV …).
    existing_customer = models.BooleanField(default=False)
    # First agreed-repurchase business of the customer (R-MATCH-1, REPURCHASE_DEV).
    first_of_kind = models.BooleanField(default=True)
    match_state = models.CharField(max_length=10, choices=MatchState.choices, null=True, blank=True)
    match_outcome = models.CharField(max_length=30, blank=True)
    matched_on = models.DateField(null=True, blank=True)
    loaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("account event")
        verbose_name_plural = _("account events")
        indexes = [
            models.Index(fields=["business_date", "id"], name="event_pending_match",
                         condition=Q(match_state="pending")),
            models.Index(fields=["customer", "event_time"]),
        ]


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
    match_event_kind = models.CharField(max_length=30, blank=True)
    match_account_type = models.CharField(max_length=20, blank=True)
    match_customer = models.CharField(max_length=10, blank=True,
                                      choices=[("new", "new"), ("existing", "existing"), ("any", "any")])
    match_first_only = models.BooleanField(default=False)
    single_holder = models.BooleanField(default=False)
    cross_region_check = models.BooleanField(default=False)
    chain_late = models.CharField(max_length=30, blank=True)
    chain_always = models.CharField(max_length=30, blank=True)
    reservable = models.BooleanField(default=True)
    sort_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("relationship type")
        verbose_name_plural = _("relationship types")
        ordering = ["sort_order"]

    def __str__(self) -> str:
        return self.name


class RelationshipStatus(models.TextChoices):
    ACTIVE = "active", _("active")
    ENDED = "ended", _("ended")


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
            models.CheckConstraint(condition=Q(effective_to__isnull=True) | Q(effective_to__gte=models.F("effective_from")),
                                   name="relationship_dates_ordered"),
        ]

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


class AuditEntry(models.Model):
    """Append-only trail (who, what, when, which row, before/after). A trigger refuses UPDATE/DELETE."""

    at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+")
    actor_label = models.CharField(_("actor"), max_length=100)
    action = models.CharField(_("action"), max_length=60)
    target_model = models.CharField(_("object type"), max_length=60)
    target_id = models.CharField(_("object id"), max_length=40)
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"), null=True, blank=True)

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        indexes = [models.Index(fields=["target_model", "target_id"])]


class PiiAccess(models.Model):
    """R-PII-1: every unmasked view or export of an ID number or phone."""

    at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+")
    actor_label = models.CharField(max_length=100)
    purpose = models.CharField(max_length=100)
    detail = models.CharField(max_length=200)
    rows = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("personal information access")
        verbose_name_plural = _("personal information accesses")


class CalendarDay(models.Model):
    """Overrides of the mainland working-day calendar, for years `chinesecalendar` does not know yet."""

    date = models.DateField(_("date"), unique=True)
    is_workday = models.BooleanField(_("working day"))
    note = models.CharField(_("note"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("calendar day")
        verbose_name_plural = _("calendar days")
