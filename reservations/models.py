"""Reservations, their participants, loaded feed files and the nightly run ledger."""
from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from approvals.models import ApprovalCase
from common.actors import actor_words
from common.constraints import valid_choice
from common.wording import render_value
from relationships.models import AccountEvent, Organisation, Relationship, RelationshipType, Staff


class ReservationStatus(models.TextChoices):
    ACTIVE = "active", _("active")
    MATCHED = "matched", _("matched")
    PENDING_APPROVAL = "pending_approval", _("pending approval")
    FLAGGED = "flagged", _("flagged")
    EXPIRED = "expired", _("expired")
    WITHDRAWN = "withdrawn", _("withdrawn")
    REFUSED = "refused", _("refused")


OPEN_STATUSES = (ReservationStatus.ACTIVE, ReservationStatus.FLAGGED, ReservationStatus.PENDING_APPROVAL)


class Reservation(models.Model):
    """R-RES-1: who reserved which customer for which type, when, and with whom."""

    staff = models.ForeignKey(Staff, verbose_name=_("staff"), on_delete=models.PROTECT, related_name="reservations")
    outlet = models.ForeignKey(Organisation, verbose_name=_("outlet"), on_delete=models.PROTECT, related_name="+")
    type = models.ForeignKey(RelationshipType, verbose_name=_("relationship type"), on_delete=models.PROTECT)
    customer_name = models.CharField(_("customer name"), max_length=100)
    name_normalised = models.CharField(max_length=100)
    id_hash = models.CharField(max_length=80)  # R-PII-1: versioned like Customer.id_hash
    id_encrypted = models.TextField()
    id_masked = models.CharField(_("ID card number"), max_length=18)
    phone_encrypted = models.TextField(blank=True)
    phone_masked = models.CharField(_("phone"), max_length=20, blank=True)
    registered_at = models.DateTimeField(_("registered at"))
    valid_until = models.DateField(_("valid until"))
    status = models.CharField(_("status"), max_length=20, choices=ReservationStatus.choices,
                              default=ReservationStatus.ACTIVE)
    # Why the status is what it is. A note the system wrote (the night's matching, an approval case's end) is a
    # message (common.wording: msgid and parameters), shown in the reader's language; `status_note` is text as
    # it was written — typed by a person, or a system note from before notes were messages. `note_shown` reads
    # the message if there is one, else the text.
    status_note = models.CharField(_("note"), max_length=300, blank=True)
    status_message = models.JSONField(_("note"), null=True, blank=True, editable=False)
    matched_event = models.ForeignKey(AccountEvent, null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="reservations")
    relationship = models.ForeignKey(Relationship, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="reservations")
    approval_case = models.ForeignKey(ApprovalCase, null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="reservations")
    source = models.CharField(_("source"), max_length=10, default="form")
    # R-CAL-1: the business date of a decision (late window) counted through a year nobody's calendar knew.
    calendar_unknown_on = models.DateField(_("decided without the year's calendar on"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("reservation")
        verbose_name_plural = _("reservations")
        constraints = [
            valid_choice("status", ReservationStatus, name="reservation_status_valid"),

            # One open reservation per staff, customer and type: a double submit cannot create two.
            models.UniqueConstraint(fields=["staff", "type", "id_hash"],
                                    condition=Q(status__in=["active", "flagged", "pending_approval"]),
                                    name="reservation_one_open_per_staff"),
        ]
        indexes = [
            # Matching looks reservations up by customer and type (active, and expired for late events).
            models.Index(fields=["id_hash", "type"], name="reservation_by_customer"),
            models.Index(fields=["valid_until"], name="reservation_active_validity",
                         condition=Q(status="active")),
            models.Index(fields=["staff", "-registered_at"]),
            models.Index(fields=["outlet", "-registered_at"]),
            # The home page's per-status tiles and the list filtered by status, newest first.
            models.Index(fields=["status", "-registered_at"], name="reservation_by_status"),
            # R-CAL-1: the night report lists the decisions counted through an unknown calendar year.
            models.Index(fields=["calendar_unknown_on"], name="reservation_calendar_unknown",
                         condition=Q(calendar_unknown_on__isnull=False)),
        ]

    def __str__(self) -> str:
        return _("Reservation #%(id)s") % {"id": self.pk}

    @property
    def note_shown(self) -> str:
        """The note in the reader's language: the system's message, else the text as written."""
        return self.status_note if self.status_message is None else render_value(self.status_message)


class ReservationParticipant(models.Model):
    """R-RES-4: a co-developer and his split ratio (the registering staff is a participant too)."""

    reservation = models.ForeignKey(Reservation, on_delete=models.CASCADE, related_name="participants")
    staff = models.ForeignKey(Staff, verbose_name=_("staff"), on_delete=models.PROTECT, related_name="+")
    ratio = models.DecimalField(_("split ratio"), max_digits=5, decimal_places=4)

    class Meta:
        verbose_name = _("participant")
        verbose_name_plural = _("participants")
        constraints = [
            models.UniqueConstraint(fields=["reservation", "staff"], name="participant_once"),
            models.CheckConstraint(condition=Q(ratio__gt=Decimal("0")) & Q(ratio__lte=Decimal("1")),
                                   name="participant_ratio_in_range"),
        ]

    def __str__(self) -> str:
        return f"{self.staff} · {self.ratio}"


# The §12 feeds as people read them; the code is what `load_feed KIND` and the `kind` columns hold.
FEED_KIND_LABELS = {
    "org": _("organisation"),
    "staff": _("staff"),
    "reservations": _("reservations"),
    "account_events": _("account events"),
    "metrics": _("daily metrics"),
    "assignments": _("pre-assignments"),
    "relationships": _("branch relationships and core lists"),
    "calendar": _("working-day calendar"),
    "reassignments": _("reassignments"),  # R-STAFF-1
}


def feed_kind_label(kind: str) -> str:
    return str(FEED_KIND_LABELS.get(kind, _("other feed")))


class FeedFile(models.Model):
    """A loaded feed file; the content hash makes loading the same file twice a no-op (§12)."""

    kind = models.CharField(_("feed"), max_length=30)
    sha256 = models.CharField(max_length=64)
    filename = models.CharField(_("file name"), max_length=300)
    loaded_at = models.DateTimeField(_("loaded at"), auto_now_add=True)
    loaded_by = models.CharField(_("loaded by"), max_length=100)
    rows_total = models.PositiveIntegerField(default=0)
    rows_loaded = models.PositiveIntegerField(default=0)
    rows_skipped = models.PositiveIntegerField(default=0)
    rows_failed = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list)

    class Meta:
        verbose_name = _("feed file")
        verbose_name_plural = _("feed files")
        constraints = [models.UniqueConstraint(fields=["kind", "sha256"], name="feed_file_once")]

    def __str__(self) -> str:
        return self.filename

    @property
    def kind_label(self) -> str:
        return feed_kind_label(self.kind)

    @property
    def error_shown(self) -> str:
        """Why the load failed, in the reader's language (the text as worded then, for an upload from before)."""
        return self.error if self.error_message is None else render_value(self.error_message)

    @property
    def loaded_by_text(self) -> str:
        return actor_words(self.loaded_by)


class UploadStatus(models.TextChoices):
    QUEUED = "queued", _("queued")
    RUNNING = "running", _("loading")
    DONE = "done", _("done")
    FAILED = "failed", _("failed")


class FeedUpload(models.Model):
    """A feed file uploaded in the browser, loaded in the background so the page can show its progress.

    The content holds full ID numbers, so it is kept sealed (`relationships.pii.seal`: AES-GCM with the current
    PII key version, re-sealed by `rotate_pii_key`) and only until it is loaded — blanked when the load ends,
    done or failed; the loaded file's record (lines, refusals) is `feed`. Only the loading task unseals it.
    """

    kind = models.CharField(_("feed"), max_length=30)
    filename = models.CharField(_("file name"), max_length=300)
    content = models.BinaryField(editable=False)  # sealed: b"v<key version>:" + nonce + ciphertext
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("uploaded by"),
                                    on_delete=models.PROTECT, related_name="+")
    status = models.CharField(_("status"), max_length=10, choices=UploadStatus.choices, default=UploadStatus.QUEUED)
    created_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    feed = models.ForeignKey(FeedFile, verbose_name=_("feed file"), null=True, blank=True,
                             on_delete=models.PROTECT, related_name="uploads")
    already_loaded = models.BooleanField(_("already loaded"), default=False)
    error = models.TextField(_("error"), blank=True)  # as worded when it failed (and for rows from before)
    # Why it failed, as a message and its parameters (common.wording), shown in the reader's language.
    error_message = models.JSONField(_("error message"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("feed upload")
        verbose_name_plural = _("feed uploads")
        constraints = [
            models.CheckConstraint(condition=Q(status__in=[s.value for s in UploadStatus]),
                                   name="feed_upload_status_valid"),
            # A finished upload says how it ended: a loaded file (or "already loaded"), or an error.
            models.CheckConstraint(condition=~Q(status="done") | Q(feed__isnull=False) | Q(already_loaded=True),
                                   name="feed_upload_done_has_result"),
            models.CheckConstraint(condition=~Q(status="failed") | ~Q(error=""), name="feed_upload_failed_says_why"),
        ]

    def __str__(self) -> str:
        return self.filename

    @property
    def kind_label(self) -> str:
        return feed_kind_label(self.kind)

    @property
    def error_shown(self) -> str:
        """Why the load failed, in the reader's language (the text as worded then, for an upload from before)."""
        return self.error if self.error_message is None else render_value(self.error_message)


class RunStatus(models.TextChoices):
    RUNNING = "running", _("running")
    SUCCEEDED = "succeeded", _("succeeded")
    FAILED = "failed", _("failed")


class BatchRun(models.Model):
    """R-MATCH-7: the run ledger; one row per business date and stage guards re-runs."""

    business_date = models.DateField(_("business date"))
    stage = models.CharField(_("stage"), max_length=30)
    status = models.CharField(_("status"), max_length=20, choices=RunStatus.choices, default=RunStatus.RUNNING)
    counts = models.JSONField(_("counts"), default=dict)
    attempts = models.PositiveIntegerField(_("attempts"), default=1)
    started_at = models.DateTimeField(_("started at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("batch run")
        verbose_name_plural = _("batch runs")
        ordering = ["-business_date", "id"]
        constraints = [
            valid_choice("status", RunStatus, name="batch_run_status_valid"),
models.UniqueConstraint(fields=["business_date", "stage"], name="batch_run_once_per_stage")]

    def __str__(self) -> str:
        return f"{self.business_date:%Y-%m-%d} {self.stage}"
