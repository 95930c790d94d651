"""Relationship list as a django-tables2 table (built into a page by `crm_platform.tables.table_page`).

Only the masked ID number (`customer.id_masked`) is ever a column: the export shows what the page shows.
"""
from __future__ import annotations

from django.template.loader import render_to_string
from django.utils.dateformat import format as date_format
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
import django_tables2 as tables

from relationships.models import Relationship


def type_name(record_type) -> str:
    return render_to_string("reservations/_type_name.html", {"rel_type": record_type}).strip()


class RelationshipTable(tables.Table):
    customer = tables.Column(verbose_name=_("Customer name"), accessor="customer__name", orderable=False,
                             linkify=("relationships:detail", {"pk": tables.A("pk")}))
    id_masked = tables.Column(verbose_name=_("ID card number"), accessor="customer__id_masked", orderable=False)
    type = tables.Column(verbose_name=_("Relationship type"), accessor="type", order_by=("type_id",))
    holders = tables.TemplateColumn(
        verbose_name=_("Holders and split ratios"), accessor="pk", orderable=False,
        template_code='{% for share in record.shares.all %}{% if not share.effective_to %}'
                      '<span style="white-space: nowrap; margin-right: 10px;">{{ share.staff }} {{ share.ratio }}'
                      '</span>{% endif %}{% endfor %}')
    outlet = tables.Column(verbose_name=_("Outlet"), accessor="outlet__name", orderable=False, default="—")
    effective_from = tables.DateColumn(verbose_name=_("Effective from"), format="Y-m-d",
                                       order_by=("effective_from", "id"))
    status = tables.Column(verbose_name=_("Status"), accessor="effective_to", order_by=("effective_to", "id"),
                           empty_values=())

    class Meta:
        model = Relationship
        fields = ()
        sequence = ("customer", "id_masked", "type", "holders", "outlet", "effective_from", "status")
        template_name = "includes/data_table.html"
        empty_text = _("No relationships.")
        order_by = ("-effective_from",)

    def render_type(self, value):
        return type_name(value)

    def value_type(self, value):
        return type_name(value)

    def value_status(self, value):
        if value:
            return gettext("ended %(date)s") % {"date": date_format(value, "Y-m-d")}
        return gettext("active")

    def render_status(self, value):
        css = "ended" if value else "active"
        return format_html('<span class="status status-{}">{}</span>', css, self.value_status(value))

    def value_holders(self, record):
        return "; ".join(f"{share.staff} {share.ratio}" for share in record.shares.all() if not share.effective_to)
