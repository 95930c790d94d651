"""Customers (R-PII-1), their accounts, and the core system's account events (§12) with the re-sent ones."""
from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from common.constraints import valid_choice
from relationships.models.org import Organisation


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
        return gettext("%(name)s (%(code)s)") % {"name": self.name, "code": self.id_masked}


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
