"""Reservation list as a django-tables2 table (sortable, paginated with a capped count, exportable).

Only the masked ID number (`id_masked`) is a column: the CSV/Excel export shows what the page shows.
"""
from __future__ import annotations

import django_tables2 as tables
from django.utils.translation import gettext_lazy as _

from common.table_rows import CompiledTable
from reservations.models import Reservation


class ReservationTable(CompiledTable):
    registered_at = tables.DateTimeColumn(verbose_name=_("Registered at"), format="Y-m-d H:i",
                                          order_by=("registered_at", "id"),
                                          linkify=("reservations:detail", {"pk": tables.A("pk")}))
    customer_name = tables.Column(verbose_name=_("Customer name"), order_by=("customer_name", "id"))
    id_masked = tables.Column(verbose_name=_("ID card number"), orderable=False)
    type = tables.Column(verbose_name=_("Relationship type"), accessor="type__label", order_by=("type_id", "id"))
    staff = tables.Column(verbose_name=_("Staff"), accessor="staff", orderable=False)
    outlet = tables.Column(verbose_name=_("Outlet"), accessor="outlet__name", orderable=False)
    valid_until = tables.DateColumn(verbose_name=_("Valid until"), format="Y-m-d", order_by=("valid_until", "id"))
    status = tables.TemplateColumn(
        verbose_name=_("Status"), order_by=("status", "id"),
        template_code='<span class="status status-{{ record.status }}">{{ record.get_status_display }}</span>')
    status_note = tables.Column(verbose_name=_("Note"), accessor="note_shown", orderable=False, default="")

    class Meta:
        model = Reservation
        fields = ()
        sequence = ("registered_at", "customer_name", "id_masked", "type", "staff", "outlet", "valid_until",
                    "status", "status_note")
        template_name = "includes/data_table.html"
        empty_text = _("No reservations.")
        order_by = ("-registered_at",)

    def value_status(self, record):
        return str(record.get_status_display())
