"""The permission register (R-PERM-3) as a django-tables2 table, built into a page by
`common.tables.table_page`.

The register copies every name as text when an entry is written, so every column but the branch is a plain
field of the entry; the view selects the branch with the entry (one query a page, however many rows).
Only time and event sort: the other columns are free text, and sorting them would scan the whole register.
`?_export=csv|xlsx` exports these columns; the full register format (ids, detail) stays in
`permissions.exports`.
"""
from __future__ import annotations

import django_tables2 as tables
from django.utils.translation import gettext_lazy as _

from common.table_rows import CompiledTable
from permissions.models import PermissionRegisterEntry


class RegisterTable(CompiledTable):
    at = tables.DateTimeColumn(verbose_name=_("Time"), format="Y-m-d H:i", order_by=("at", "id"))
    event = tables.Column(verbose_name=_("Event"), order_by=("event", "id"))  # shown as its display name
    branch = tables.Column(verbose_name=_("Branch company"), accessor="branch__name", orderable=False,
                           default="—")
    subject = tables.Column(verbose_name=_("Concerns"), accessor="subject_label", orderable=False)
    what = tables.Column(verbose_name=_("What"), accessor="what_text", orderable=False)
    reason = tables.Column(verbose_name=_("Reason"), orderable=False, default="")
    applicant = tables.Column(verbose_name=_("Applicant"), accessor="applicant_label", orderable=False, default="")
    signoff = tables.Column(verbose_name=_("Applicant's sign-off"), accessor="signoff_text", orderable=False,
                            default="")
    approved_by = tables.Column(verbose_name=_("Approved by"), accessor="approver_label", orderable=False,
                                default="")
    applied_by = tables.Column(verbose_name=_("Applied by"), accessor="applier_label", orderable=False,
                               default="")
    recorded_by = tables.Column(verbose_name=_("Recorded by"), accessor="actor_text", orderable=False)

    class Meta:
        model = PermissionRegisterEntry
        fields = ()
        sequence = ("at", "event", "branch", "subject", "what", "reason", "applicant", "signoff", "approved_by",
                    "applied_by", "recorded_by")
        template_name = "includes/data_table.html"
        empty_text = _("No entries.")
        order_by = ("-at",)
