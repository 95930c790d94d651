"""Approval case lists as django-tables2 tables: the scoped "All cases" list (built into a page, with its
exports, by `common.tables.table_page`) and the two tables of the inbox.

Only the masked ID number (`customer.id_masked`) is ever shown (R-PII-1): the export shows what the page shows.
Every column reads the case's own row or a `select_related` join, so a page costs the same for 3 or 50 rows.
"""
from __future__ import annotations

import django_tables2 as tables
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from approvals.models import ApprovalCase, CaseStep
from common.table_rows import CompiledTable
from relationships.workdays import WorkdayAges

CASE_LINK = ("approvals:case", {"pk": tables.A("pk")})


def case_number(pk: int) -> str:
    return f"#{pk}"


class _CaseColumns(CompiledTable):
    """The columns every table of cases shows, and how they render."""

    number = tables.Column(verbose_name=_("Case"), accessor="pk", order_by=("id",), linkify=CASE_LINK)
    reason = tables.Column(verbose_name=_("Reason"), order_by=("reason", "id"))
    type = tables.Column(verbose_name=_("Relationship type"), accessor="type__label", orderable=False)
    branch = tables.Column(verbose_name=_("Branch company"), accessor="branch__name", orderable=False,
                           default="—")
    current_step = tables.Column(verbose_name=_("Current step"), orderable=False)
    opened = tables.DateTimeColumn(verbose_name=_("Opened"), accessor="created_at", format="Y-m-d H:i",
                                   order_by=("created_at", "id"))

    def render_number(self, value):
        return case_number(value)


class CaseTable(_CaseColumns):
    """Every case the user may see (`approvals.selectors.visible_cases`, R-PERM-4), newest first."""

    customer = tables.Column(verbose_name=_("Customer name"), accessor="customer__name", orderable=False)
    id_masked = tables.Column(verbose_name=_("ID card number"), accessor="customer__id_masked", orderable=False)
    applicant = tables.Column(verbose_name=_("Applicant"), accessor="applicant", orderable=False, default="—")
    status = tables.Column(verbose_name=_("Status"), order_by=("status", "id"))

    class Meta:
        model = ApprovalCase
        fields = ()
        sequence = ("number", "reason", "type", "customer", "id_masked", "applicant", "branch", "status",
                    "current_step", "opened")
        template_name = "includes/data_table.html"
        empty_text = _("No cases.")
        order_by = ("-opened",)

    def value_status(self, record):
        return str(record.get_status_display())

    def render_status(self, value, record):
        # `value` is the status's display value (django-tables2 reads a choices field's display).
        return format_html('<span class="status status-{}">{}</span>', record.status, value)


class HQCaseTable(_CaseColumns):
    """R-APR-6: the pending cross-region and special-new cases of every region (`approvals.selectors.hq_inbox`),
    oldest first."""

    customer = tables.Column(verbose_name=_("Customer"), accessor="customer", orderable=False)

    class Meta:
        model = ApprovalCase
        fields = ()
        sequence = ("number", "reason", "type", "customer", "branch", "current_step", "opened")
        template_name = "includes/data_table.html"
        empty_text = _("No pending cases.")
        order_by = ("opened",)


class InboxStepTable(CompiledTable):
    """Steps waiting for the user now (`approvals.selectors.inbox_for`), oldest case first."""

    number = tables.Column(verbose_name=_("Case"), accessor="case_id", order_by=("case_id", "order", "id"),
                           linkify=("approvals:case", {"pk": tables.A("case_id")}))
    reason = tables.Column(verbose_name=_("Reason"), accessor="case__reason",
                           order_by=("case__reason", "case__created_at", "case_id", "order", "id"))
    type = tables.Column(verbose_name=_("Relationship type"), accessor="case__type__label", orderable=False)
    customer = tables.Column(verbose_name=_("Customer"), accessor="case__customer", orderable=False)
    applicant = tables.Column(verbose_name=_("Applicant"), accessor="case__applicant", orderable=False,
                              default="—")
    step = tables.Column(verbose_name=_("Step"), accessor="order", orderable=False)
    branch = tables.Column(verbose_name=_("Branch company"), accessor="case__branch__name", orderable=False,
                           default="—")
    opened = tables.DateTimeColumn(verbose_name=_("Opened"), accessor="case__created_at", format="Y-m-d H:i",
                                   order_by=("case__created_at", "case_id", "order", "id"))
    # R-APR-9 / R-REM-1: working days the step has waited (`approvals.waiting.with_waiting`); oldest first.
    age = tables.Column(verbose_name=_("Waiting (working days)"), accessor="waiting_since",
                        order_by=("waiting_since", "case_id", "order", "id"))

    class Meta:
        model = CaseStep
        fields = ()
        sequence = ("number", "reason", "type", "customer", "applicant", "branch", "step", "opened", "age")
        template_name = "includes/data_table.html"
        empty_text = _("Nothing is waiting for you.")
        order_by = ("age",)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.ages = WorkdayAges()  # the page's rows share one read of the calendar
        self.post_labels: dict[str, str] = {}  # a post's name, read once per page (Django builds its choices per call)

    def render_age(self, record):
        age = self.ages.age(record.waiting_since)
        marks = [label for flag, label in ((getattr(record, "escalated", False), _("escalated")),
                                           (getattr(record, "reminded", False), _("reminded"))) if flag]
        if not marks:
            return age
        return format_html('{} <span class="status status-flagged">{}</span>', age, "·".join(map(str, marks)))

    def value_age(self, record):
        return self.ages.age(record.waiting_since)

    def render_number(self, value):
        return case_number(value)

    def render_step(self, record):
        label = self.post_labels.get(record.post)
        if label is None:
            label = self.post_labels[record.post] = str(record.get_post_display())
        return f"{record.order} · {label} · {record.organisation.name}"


class EscalatedStepTable(InboxStepTable):
    """Steps escalated to the branch head (HQ's office), who decides them or hands them to another holder."""

    handover = tables.LinkColumn("approvals:step_reassign", args=[tables.A("pk")], text=_("Hand to another holder"),
                                 verbose_name=_("Reassign"), orderable=False, exclude_from_export=True)

    class Meta(InboxStepTable.Meta):
        sequence = ("number", "reason", "type", "customer", "applicant", "branch", "step", "opened", "age",
                    "handover")
        empty_text = _("Nothing was escalated to you.")
