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
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from common.constraints import valid_choice
from common.guards import append_only_guards, change_recorders
from relationships.people_models import (  # noqa: F401  (registered with this app; R-STAFF-1)
    Reassignment,
    ReassignmentLine,
    ReassignmentLineStatus,
    ReassignmentStatus,
    StaffMembership,
)


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
            valid_choice("kind", QualificationKind, name="qualification_kind_valid"),

            models.UniqueConstraint(fields=["staff", "kind", "valid_from"], name="qualification_unique_start"),
            models.CheckConstraint(condition=Q(valid_to__isnull=True) | Q(valid_to__gte=models.F("valid_from")),
                                   name="qualification_dates_ordered"),
        ]

    def __str__(self) -> str:
        return f"{self.staff} · {self.get_kind_display()}"


class Customer(models.Model):
    """R-PII-1: the ID number is only stored encrypted, beside a keyed hash for matching."""

    # R-PII-1: "v<key version>:<hex>" (a bare hex digest is the format before key versions); unique per
    # version here, across versions by `relationships.pii_store`, which adopts the version an ID already has.
    id_hash = models.CharField(_("ID number hash"), max_length=80, unique=True)
    id_encrypted = models.TextField(_("ID number (encrypted)"))
    id_masked = models.CharField(_("ID number (masked)"), max_length=18)
    name = models.CharField(_("customer name"), max_length=100)
    phone_encrypted = models.TextField(_("phone (encrypted)"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        # The customer list's default order (newest first) reads this index instead of sorting millions.
        indexes = [models.Index(fields=["-created_at", "-id"], name="customer_newest_first")]

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

    def __str__(self) -> str:
        return f"{self.get_account_type_display()} {self.account_no}"


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
    # Its unit failed and so did the event alone: set aside with the error, retried by the next run.
    FAILED = "failed", _("set aside after an error")


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
    # NULL: not an opening (nothing to match); "" would read as a state.
    match_state = models.CharField(max_length=10, choices=MatchState.choices, null=True, blank=True)  # noqa: DJ001
    match_outcome = models.CharField(max_length=30, blank=True)
    match_error = models.TextField(_("matching error"), blank=True, db_default="")  # raw batch INSERTs omit it
    matched_on = models.DateField(null=True, blank=True)
    loaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("account event")
        verbose_name_plural = _("account events")
        constraints = [
            valid_choice("kind", EventKind, name="accountevent_kind_valid"),
            valid_choice("account_type", AccountType, name="accountevent_account_type_valid"),

            models.CheckConstraint(condition=Q(match_state__isnull=True) | Q(match_state__in=MatchState.values),
                                   name="accountevent_match_state_valid"),
        ]
        indexes = [
            models.Index(fields=["business_date", "id"], name="event_pending_match",
                         condition=Q(match_state="pending")),
            models.Index(fields=["business_date", "id"], name="event_set_aside",
                         condition=Q(match_state="failed")),
            models.Index(fields=["customer", "event_time"]),
        ]

    def __str__(self) -> str:
        return self.event_id


class EventConflict(models.Model):
    """A line of the account-event feed that gave a known `event_id` with different content (§12).

    The event loaded first stands; the line is refused and recorded here so that the night report of the
    event's business date lists it for review — the core system re-sent an opening (or another event) that
    differs from what was matched. `differences` is {column: [as loaded, as sent]}, ID numbers masked.
    """

    event = models.ForeignKey(AccountEvent, verbose_name=_("account event"), on_delete=models.PROTECT,
                              related_name="conflicts")
    business_date = models.DateField(_("business date"))  # the loaded event's: the night report that lists it
    filename = models.CharField(_("file name"), max_length=300)
    line = models.PositiveIntegerField(_("line"))
    sent_id_masked = models.CharField(_("ID card number sent"), max_length=18)
    differences = models.JSONField(_("differing fields"))
    detected_at = models.DateTimeField(_("detected at"), auto_now_add=True)

    class Meta:
        verbose_name = _("re-sent account event")
        verbose_name_plural = _("re-sent account events")
        indexes = [models.Index(fields=["business_date", "id"], name="event_conflict_by_night")]

    def __str__(self) -> str:
        return f"{self.event_id} · {self.filename}:{self.line}"


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
        return self.name

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


class AuditEntry(models.Model):
    """Append-only trail (who, what, when, which row, before/after). Triggers refuse UPDATE, DELETE and TRUNCATE."""

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
        triggers = append_only_guards()

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_label} {self.action}"


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
        triggers = append_only_guards()  # R-PII-1: the log of every unmasked view

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_label} {self.purpose}"


class CalendarDay(models.Model):
    """HQ's calendar (R-CAL-1): a day that differs from Monday–Friday working; wins over `chinesecalendar`."""

    date = models.DateField(_("date"), unique=True)
    is_workday = models.BooleanField(_("working day"))
    note = models.CharField(_("note"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("calendar day")
        verbose_name_plural = _("calendar days")
        ordering = ["date"]

    def __str__(self) -> str:
        return self.date.isoformat()


class CalendarYear(models.Model):
    """R-CAL-1: HQ has loaded this year's calendar, so its days no longer count as an unknown year.

    Explicit, because a year is not known merely because one of its holidays was entered.
    """

    year = models.PositiveSmallIntegerField(_("year"), unique=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    loaded_at = models.DateTimeField(_("loaded at"), auto_now=True)
    loaded_by = models.CharField(_("loaded by"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("calendar year")
        verbose_name_plural = _("calendar years")
        ordering = ["-year"]
        constraints = [models.CheckConstraint(condition=Q(year__gte=2000) & Q(year__lte=2999),
                                              name="calendar_year_in_range")]

    def __str__(self) -> str:
        return str(self.year)


# --------------------------------------------------------------------------------------------------
# §7 Secondary development: nightly classification (R-SEC-1/2/3/6) and pre-assignment (R-SEC-4)
# --------------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------------
# §11 Follow-up: callbacks (R-CB-1)
# --------------------------------------------------------------------------------------------------

class CallbackStatus(models.TextChoices):
    PENDING = "pending", _("to call")
    CONFIRMED = "confirmed", _("confirmed")
    DISPUTED = "disputed", _("disputed")


class DisputeResolution(models.TextChoices):
    KEPT = "kept", _("relationship kept")
    ENDED = "ended", _("relationship ended")
    REASSIGNED = "reassigned", _("reassigned to other holders")  # R-STAFF-1, through an approved reassignment


class Callback(models.Model):
    """R-CB-1: one callback (回访) per new relationship, for the relationship's outlet."""

    relationship = models.OneToOneField("Relationship", verbose_name=_("relationship"), on_delete=models.PROTECT,
                                        related_name="callback")
    outlet = models.ForeignKey(Organisation, verbose_name=_("outlet"), null=True, on_delete=models.PROTECT,
                               related_name="+")
    created_on = models.DateField(_("created on"))
    due_on = models.DateField(_("due on"))
    status = models.CharField(_("status"), max_length=10, choices=CallbackStatus.choices,
                              default=CallbackStatus.PENDING)
    reason = models.TextField(_("reason"), blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    recorded_at = models.DateTimeField(_("recorded at"), null=True, blank=True)
    # A disputed relationship goes back to the branch, which keeps or ends it.
    resolution = models.CharField(_("branch decision"), max_length=10, choices=DisputeResolution.choices,
                                  blank=True)
    resolution_note = models.TextField(_("branch note"), blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    resolved_at = models.DateTimeField(_("decided at"), null=True, blank=True)

    class Meta:
        verbose_name = _("callback")
        verbose_name_plural = _("callbacks")
        constraints = [
            valid_choice("status", CallbackStatus, name="callback_status_valid"),
            valid_choice("resolution", DisputeResolution, name="callback_resolution_valid", blank=True),
        ]
        indexes = [
            models.Index(fields=["outlet", "due_on"], name="callback_pending_by_outlet",
                         condition=Q(status="pending")),
            models.Index(fields=["outlet"], name="callback_disputed_open",
                         condition=Q(status="disputed", resolution="")),
        ]

    def __str__(self) -> str:
        return _("Callback of %(relationship)s") % {"relationship": self.relationship}


# --------------------------------------------------------------------------------------------------
# §8 Branch-created relationships (R-BR-1) and core lists (R-CORE-1/2/3)
# --------------------------------------------------------------------------------------------------

class BranchRequestKind(models.TextChoices):
    CREATE = "create", _("create")
    REPLACE = "replace", _("replace")
    END = "end", _("end")


class BranchRequestStatus(models.TextChoices):
    PENDING = "pending", _("pending approval")
    APPROVED = "approved", _("approved")
    REJECTED = "rejected", _("rejected")
    WITHDRAWN = "withdrawn", _("withdrawn")
    APPLIED = "applied", _("applied")


class BranchRequest(models.Model):
    """R-BR-1: the branch creates, replaces or ends an EXISTING_DEV / MAINTENANCE / KEY_SERVICE relationship.

    Creations and replacements go through the 1-level chain (the approval case's dedupe key is
    `branch_request:<id>`); a replacement ends the old version on the new version's start date, and
    every version keeps its validity dates.
    """

    kind = models.CharField(_("change"), max_length=10, choices=BranchRequestKind.choices)
    customer = models.ForeignKey(Customer, verbose_name=_("customer"), on_delete=models.PROTECT,
                                 related_name="branch_requests")
    type = models.ForeignKey(RelationshipType, verbose_name=_("relationship type"), on_delete=models.PROTECT)
    branch = models.ForeignKey(Organisation, verbose_name=_("branch company"), on_delete=models.PROTECT,
                               related_name="+")
    shares = models.JSONField(_("holders and ratios"), default=list)
    effective_from = models.DateField(_("effective from"))
    old_relationship = models.ForeignKey("Relationship", verbose_name=_("replaced / ended version"), null=True,
                                         blank=True, on_delete=models.PROTECT, related_name="+")
    ended_share_ids = models.JSONField(default=list, blank=True)
    new_relationship = models.ForeignKey("Relationship", verbose_name=_("new version"), null=True, blank=True,
                                         on_delete=models.PROTECT, related_name="+")
    status = models.CharField(_("status"), max_length=10, choices=BranchRequestStatus.choices,
                              default=BranchRequestStatus.PENDING)
    reason = models.TextField(_("reason"), blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    requested_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    source = models.CharField(_("source"), max_length=10, default="form")

    class Meta:
        verbose_name = _("branch relationship request")
        verbose_name_plural = _("branch relationship requests")
        constraints = [
            valid_choice("status", BranchRequestStatus, name="branch_request_status_valid"),
            valid_choice("kind", BranchRequestKind, name="branch_request_kind_valid"),
            # R-BR-1: one request waiting per customer and type, whoever files it at the same moment.
            models.UniqueConstraint(fields=["customer", "type"], condition=Q(status="pending"),
                                    name="branch_request_one_pending_per_type"),
        ]
        indexes = [models.Index(fields=["branch", "-requested_at"], name="branch_request_by_branch")]

    def __str__(self) -> str:
        return _("Branch request #%(id)s") % {"id": self.pk}

    @property
    def dedupe_key(self) -> str:
        return f"branch_request:{self.pk}"


class CoreListSubmission(models.Model):
    """R-CORE-2: one submission of a branch's core-customer list (form, file or feed)."""

    branch = models.ForeignKey(Organisation, verbose_name=_("branch company"), on_delete=models.PROTECT,
                               related_name="+")
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    submitted_at = models.DateTimeField(_("submitted at"))
    source = models.CharField(_("source"), max_length=10, default="form")
    filename = models.CharField(_("file name"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("core list submission")
        verbose_name_plural = _("core list submissions")

    def __str__(self) -> str:
        return _("Core list #%(id)s") % {"id": self.pk}


class CoreLineStatus(models.TextChoices):
    REFUSED = "refused", _("refused at submission")
    PENDING = "pending", _("waiting for HQ")
    APPROVED = "approved", _("approved")
    REJECTED = "rejected", _("rejected by HQ")
    WITHDRAWN = "withdrawn", _("withdrawn")


class CoreListLine(models.Model):
    """A line of a core list: one customer for one investment advisor (R-CORE-1), reviewed by HQ (R-CORE-2).

    Its approval case's dedupe key is `core_line:<id>`.
    """

    submission = models.ForeignKey(CoreListSubmission, on_delete=models.CASCADE, related_name="lines")
    line_no = models.PositiveIntegerField(_("line"))
    customer = models.ForeignKey(Customer, verbose_name=_("customer"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="core_lines")
    id_masked = models.CharField(_("ID card number"), max_length=18, blank=True)
    advisor = models.ForeignKey(Staff, verbose_name=_("investment advisor"), null=True, blank=True,
                                on_delete=models.PROTECT, related_name="core_lines")
    advisor_no = models.CharField(_("staff number"), max_length=32, blank=True)
    effective_from = models.DateField(_("effective from"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=CoreLineStatus.choices)
    reason = models.TextField(_("reason"), blank=True)
    relationship = models.ForeignKey("Relationship", null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")

    class Meta:
        verbose_name = _("core list line")
        verbose_name_plural = _("core list lines")
        ordering = ["submission", "line_no"]
        constraints = [
            valid_choice("status", CoreLineStatus, name="core_line_status_valid"),

            # R-CORE-1: one advisor per core customer — one line under review per customer at a time.
            models.UniqueConstraint(fields=["customer"], condition=Q(status="pending"),
                                    name="core_line_one_pending_per_customer"),
        ]
        indexes = [models.Index(fields=["advisor", "status"], name="core_line_by_advisor")]

    def __str__(self) -> str:
        return _("Core list #%(list)s, line %(line)s") % {"list": self.submission_id, "line": self.line_no}

    @property
    def dedupe_key(self) -> str:
        return f"core_line:{self.pk}"
