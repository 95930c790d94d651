"""Daily metrics and split-ratio performance roll-ups (§10, R-PERF-1..4).

Amounts are stored at full precision: a metric has 2 decimals (yuan), a ratio 4, so a credited
amount is exact with 6 decimals and its sums stay exact. Rounding happens once, half-up, when a
figure is reported (`performance.selectors.money`).
"""
from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import BrinIndex
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from common.guards import append_only_guards
from relationships.models import Customer, Organisation, RelationshipType, Staff

AMOUNT = {"max_digits": 18, "decimal_places": 2}      # a metric as delivered: yuan with 2 decimals
CREDITED = {"max_digits": 30, "decimal_places": 6}    # Σ amount × ratio, exact
COUNT = {"max_digits": 20, "decimal_places": 4}       # Σ count × ratio, exact


class DailyMetric(models.Model):
    """One line of the `metrics` feed (§12) for one customer and day; the feed upserts on (customer, date)."""

    customer = models.ForeignKey(Customer, verbose_name=_("customer"), on_delete=models.PROTECT,
                                 related_name="daily_metrics", db_index=False)
    date = models.DateField(_("date"))
    assets = models.DecimalField(_("end-of-day assets"), **AMOUNT)
    net_commission = models.DecimalField(_("net commission"), **AMOUNT)
    turnover = models.DecimalField(_("turnover"), **AMOUNT)
    trade_count = models.PositiveIntegerField(_("trade count"))
    transfer_in = models.DecimalField(_("assets transferred in"), **AMOUNT)

    class Meta:
        verbose_name = _("daily metric")
        verbose_name_plural = _("daily metrics")
        constraints = [models.UniqueConstraint(fields=["customer", "date"], name="daily_metric_once_per_day")]
        # Feeds arrive day by day, so the table is physically ordered by date: a BRIN index is tiny and
        # lets a month's computation read only that month's blocks.
        indexes = [BrinIndex(fields=["date"], name="daily_metric_date_brin")]

    def __str__(self) -> str:
        return f"{self.customer_id} · {self.date:%Y-%m-%d}"


class MetricDate(models.Model):
    """A day for which the metrics feed delivered data: the reported days that average daily assets divide by."""

    date = models.DateField(_("date"), primary_key=True)
    loaded_at = models.DateTimeField(_("loaded at"), auto_now=True)
    # Raised by every metrics load that touches the day: the performance night recomputes a day whose computed
    # version (`ComputedDay`) is behind.
    version = models.PositiveIntegerField(_("version"), db_default=1)

    class Meta:
        verbose_name = _("reported day")
        verbose_name_plural = _("reported days")

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d}"


class ComputedDay(models.Model):
    """A reported day whose staff rows (grain `day`) were computed from its metrics at `version`."""

    date = models.DateField(_("date"), primary_key=True)
    month = models.DateField(_("month"))
    version = models.PositiveIntegerField(_("version"))
    computed_at = models.DateTimeField(_("computed at"))

    class Meta:
        verbose_name = _("computed day")
        verbose_name_plural = _("computed days")

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d}"


class CustomerMonth(models.Model):
    """One customer's month as the metrics feed reported it, kept by the metrics load (`performance.feeds`):
    his last reported day of the month, his assets that day, and on how many days he traded.

    The silent judgement (R-SEC-3) reads 12 of these per customer instead of his daily rows: he has a
    month-end snapshot when `last_date` is the month's last reported day (`MetricDate`).
    """

    pk = models.CompositePrimaryKey("customer", "month")
    customer = models.ForeignKey(Customer, verbose_name=_("customer"), on_delete=models.PROTECT,
                                 related_name="+", db_constraint=False, db_index=False)
    month = models.DateField(_("month"))
    last_date = models.DateField(_("last reported day"))
    assets = models.DecimalField(_("assets on the last reported day"), **AMOUNT)
    trade_days = models.PositiveIntegerField(_("days with trades"))

    class Meta:
        verbose_name = _("customer month")
        verbose_name_plural = _("customer months")
        constraints = [models.CheckConstraint(
            condition=models.Q(last_date__gte=models.F("month")), name="customer_month_last_date_in_month")]

    def __str__(self) -> str:
        return f"{self.customer_id} · {self.month:%Y-%m}"


class SilentJudgement(models.Model):
    """The last silent judgement (R-SEC-3): the window and its month-ends. It is judged once per new month-end;
    a metrics load that touches a month of the window drops it, so the next night judges again."""

    window_end = models.DateField(_("window end"), primary_key=True)
    window_start = models.DateField(_("window start"))
    month_ends = ArrayField(models.DateField(), verbose_name=_("month-ends"))
    customers = models.PositiveIntegerField(_("customers"))
    judged_at = models.DateTimeField(_("judged at"))

    class Meta:
        verbose_name = _("silent judgement")
        verbose_name_plural = _("silent judgements")

    def __str__(self) -> str:
        return f"{self.window_end:%Y-%m-%d}"


class SilentCustomer(models.Model):
    """A customer the last silent judgement found silent, with the outlet of his latest account."""

    customer = models.OneToOneField(Customer, verbose_name=_("customer"), primary_key=True,
                                    on_delete=models.PROTECT, related_name="+", db_constraint=False)
    window_end = models.DateField(_("window end"))
    outlet = models.ForeignKey(Organisation, verbose_name=_("outlet"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="+", db_constraint=False, db_index=False)

    class Meta:
        verbose_name = _("silent customer")
        verbose_name_plural = _("silent customers")

    def __str__(self) -> str:
        return f"{self.customer_id} · {self.window_end:%Y-%m-%d}"


class Grain(models.TextChoices):
    DAY = "day", _("day")
    MONTH = "month", _("month")


class StaffPerformance(models.Model):
    """Credited figures of one staff member and relationship type for one day or one month (R-PERF-1/2).

    `period` is the day (grain `day`) or the first day of the month (grain `month`); `month` is always the
    first day of the month the row belongs to.
    `outlet` is the outlet the staff member belonged to on the credited day (R-STAFF-1, his effective-dated
    membership): a move on the 15th splits the month into one month row per outlet. A locked period keeps its
    organisation too (R-PERF-3). Branch and region roll-ups join the outlet at query time.

    - `asset_days`: Σ over reported days of end-of-day assets × ratio (average = asset_days / days);
    - `assets`: assets × ratio on the last reported day of the period (month-end assets);
    - `new_customers`: Σ ratio over relationships whose effective date falls in the period
      (see `performance.services.compute_period`).
    """

    grain = models.CharField(_("grain"), max_length=5, choices=Grain.choices)
    period = models.DateField(_("period"))
    month = models.DateField(_("month"))
    # A derived table, written only by `compute_period` from rows joined to staff, types and outlets: the
    # references are kept by the ORM (PROTECT) but not re-checked by the database row by row, and only the
    # indexes below are kept — each index and each foreign-key check is paid for on every row of every
    # recomputation of a month.
    staff = models.ForeignKey(Staff, verbose_name=_("staff"), on_delete=models.PROTECT, related_name="+",
                              db_index=False, db_constraint=False)
    type = models.ForeignKey(RelationshipType, verbose_name=_("relationship type"), on_delete=models.PROTECT,
                             related_name="+", db_index=False, db_constraint=False)
    outlet = models.ForeignKey(Organisation, verbose_name=_("outlet"), on_delete=models.PROTECT, related_name="+",
                               db_index=False, db_constraint=False)
    asset_days = models.DecimalField(_("asset-days"), db_default=Decimal("0"), **CREDITED)
    assets = models.DecimalField(_("assets"), db_default=Decimal("0"), **CREDITED)
    net_commission = models.DecimalField(_("net commission"), db_default=Decimal("0"), **CREDITED)
    turnover = models.DecimalField(_("turnover"), db_default=Decimal("0"), **CREDITED)
    transfer_in = models.DecimalField(_("assets transferred in"), db_default=Decimal("0"), **CREDITED)
    trade_count = models.DecimalField(_("trade count"), db_default=Decimal("0"), **COUNT)
    new_customers = models.DecimalField(_("new effective customers"), db_default=Decimal("0"), **COUNT)

    class Meta:
        verbose_name = _("staff performance")
        verbose_name_plural = _("staff performance")
        constraints = [
            models.UniqueConstraint(fields=["grain", "period", "staff", "type", "outlet"],
                                    name="staff_performance_once"),
            models.CheckConstraint(condition=models.Q(grain__in=["day", "month"]), name="staff_performance_grain"),
        ]
        # Every report reads one grain over a period range (the unique index's prefix) and filters the
        # scope from there; a staff member's own figures over time use the second index.
        indexes = [models.Index(fields=["staff", "grain", "period"], name="staff_perf_by_staff")]

    def __str__(self) -> str:
        return f"{self.staff_id} · {self.period:%Y-%m-%d} · {self.grain}"


class ComputedPeriod(models.Model):
    """A computed month: when, over how many reported days, up to which day (frozen with a locked period)."""

    period = models.DateField(_("period"), primary_key=True)
    days = models.PositiveIntegerField(_("reported days"))
    last_day = models.DateField(_("last reported day"), null=True, blank=True)
    rows = models.PositiveIntegerField(_("rows"), default=0)
    computed_at = models.DateTimeField(_("computed at"))

    class Meta:
        verbose_name = _("computed period")
        verbose_name_plural = _("computed periods")

    def __str__(self) -> str:
        return f"{self.period:%Y-%m}"


class PeriodLock(models.Model):
    """R-PERF-3: HQ closes a month; its figures are never recomputed afterwards."""

    period = models.DateField(_("period"), unique=True)
    locked_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("locked by"), null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="+")
    locked_by_label = models.CharField(_("locked by"), max_length=100)
    locked_at = models.DateTimeField(_("locked at"), auto_now_add=True)

    class Meta:
        verbose_name = _("period lock")
        verbose_name_plural = _("period locks")

    def __str__(self) -> str:
        return f"{self.period:%Y-%m}"


class PeriodEvent(models.TextChoices):
    LOCK = "lock", _("locked")
    REOPEN = "reopen", _("reopened")
    RELOCK = "relock", _("locked again")


class PeriodRegisterEntry(models.Model):
    """R-PERF-3 / R-PERF-5: the register of locked periods — every lock, reopen and relock by HQ, with the reason of
    a reopen (required). Append-only: triggers refuse UPDATE, DELETE and TRUNCATE."""

    at = models.DateTimeField(_("time"), default=timezone.now)
    period = models.DateField(_("period"))
    event = models.CharField(_("event"), max_length=10, choices=PeriodEvent.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("recorded by"), null=True, blank=True,
                              on_delete=models.PROTECT, related_name="+")
    actor_label = models.CharField(_("recorded by"), max_length=150)
    reason = models.TextField(_("reason"), blank=True)
    detail = models.JSONField(_("detail"), null=True, blank=True)

    class Meta:
        verbose_name = _("period register entry")
        verbose_name_plural = _("period register")
        constraints = [
            models.CheckConstraint(condition=models.Q(event__in=PeriodEvent.values), name="period_register_event"),
            models.CheckConstraint(condition=~models.Q(event=PeriodEvent.REOPEN) | ~models.Q(reason=""),
                                   name="period_register_reopen_has_reason"),
        ]
        indexes = [models.Index(fields=["period", "at"], name="period_register_period_at")]
        triggers = append_only_guards()  # R-PERF-5: append-only

    def __str__(self) -> str:
        return f"{self.period:%Y-%m} {self.event}"


class AdjustmentSource(models.TextChoices):
    DISPUTE = "dispute", _("dispute")
    REASSIGNMENT = "reassignment", _("reassignment")
    CORRECTION = "correction", _("correction")
    # A relationship approved (late, duplicate, broker, special-new, branch, core list) or matched with a start date
    # in a locked month, and a staff member's outlet move recorded from a day in one.
    APPROVAL = "approval", _("approved relationship")
    MATCH = "match", _("matched relationship")
    MOVE = "move", _("outlet move")
    REVERSAL = "reversal", _("reversal on reopening")


class PerformanceAdjustment(models.Model):
    """R-PERF-5: an adjustment (调整) — the difference a change made to a locked month `belongs_to`, posted into
    the first open month after it, `posted_in` (see `performance.adjustments`). Figures as `StaffPerformance`'s,
    exact. Append-only: a reversal is a counter-row (`reverses`), never an edit."""

    posted_in = models.DateField(_("posted in"))
    belongs_to = models.DateField(_("belongs to"))
    staff = models.ForeignKey(Staff, verbose_name=_("staff"), on_delete=models.PROTECT, related_name="+",
                              db_index=False)
    type = models.ForeignKey(RelationshipType, verbose_name=_("relationship type"), on_delete=models.PROTECT,
                             related_name="+", db_index=False)
    outlet = models.ForeignKey(Organisation, verbose_name=_("outlet"), on_delete=models.PROTECT, related_name="+",
                               db_index=False)
    source = models.CharField(_("source"), max_length=12, choices=AdjustmentSource.choices)
    # What caused it (any that applies): the approval case, the reassignment, the one relationship changed.
    case = models.ForeignKey("approvals.ApprovalCase", verbose_name=_("case"), null=True, blank=True,
                             on_delete=models.PROTECT, related_name="+", db_index=False)
    reassignment = models.ForeignKey("relationships.Reassignment", verbose_name=_("reassignment"), null=True,
                                     blank=True, on_delete=models.PROTECT, related_name="+", db_index=False)
    relationship = models.ForeignKey("relationships.Relationship", verbose_name=_("relationship"), null=True,
                                     blank=True, on_delete=models.PROTECT, related_name="+", db_index=False)
    reverses = models.ForeignKey("self", verbose_name=_("reverses"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="+", db_index=False)
    asset_days = models.DecimalField(_("asset-days"), default=Decimal("0"), **CREDITED)
    assets = models.DecimalField(_("assets"), default=Decimal("0"), **CREDITED)
    net_commission = models.DecimalField(_("net commission"), default=Decimal("0"), **CREDITED)
    turnover = models.DecimalField(_("turnover"), default=Decimal("0"), **CREDITED)
    transfer_in = models.DecimalField(_("assets transferred in"), default=Decimal("0"), **CREDITED)
    trade_count = models.DecimalField(_("trade count"), default=Decimal("0"), **COUNT)
    new_customers = models.DecimalField(_("new effective customers"), default=Decimal("0"), **COUNT)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    created_by_label = models.CharField(_("created by"), max_length=150)

    class Meta:
        verbose_name = _("performance adjustment")
        verbose_name_plural = _("performance adjustments")
        constraints = [
            models.CheckConstraint(condition=models.Q(source__in=AdjustmentSource.values),
                                   name="performance_adjustment_source"),
            models.CheckConstraint(condition=models.Q(posted_in__gt=models.F("belongs_to")),
                                   name="performance_adjustment_posted_after"),
            models.CheckConstraint(condition=models.Q(source=AdjustmentSource.REVERSAL, reverses__isnull=False)
                                   | (~models.Q(source=AdjustmentSource.REVERSAL) & models.Q(reverses__isnull=True)),
                                   name="performance_adjustment_reversal_reverses"),
        ]
        indexes = [models.Index(fields=["posted_in", "staff"], name="perf_adjust_posted"),
                   models.Index(fields=["belongs_to"], name="perf_adjust_belongs")]
        triggers = append_only_guards()  # R-PERF-5: append-only

    def __str__(self) -> str:
        return f"{self.staff_id} · {self.belongs_to:%Y-%m} → {self.posted_in:%Y-%m} · {self.source}"
