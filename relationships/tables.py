"""Relationship list as a django-tables2 table (built into a page by `common.tables.table_page`).

A relationship's holders are read from `listed_shares`, the list its view prefetches (`relationships.views`).

Only the masked ID number (`customer.id_masked`) is ever a column: the export shows what the page shows.
"""
from __future__ import annotations

import django_tables2 as tables
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from common.table_rows import CompiledTable
from relationships.models import Customer, Relationship


class RelationshipTable(CompiledTable):
    customer = tables.Column(verbose_name=_("Customer name"), accessor="customer__name", orderable=False,
                             linkify=("relationships:detail", {"pk": tables.A("pk")}))
    id_masked = tables.Column(verbose_name=_("ID card number"), accessor="customer__id_masked", orderable=False)
    type = tables.Column(verbose_name=_("Relationship type"), accessor="type__label", order_by=("type_id",))
    holders = tables.Column(verbose_name=_("Holders and split ratios"), accessor="pk", orderable=False)
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

    def value_status(self, value):
        if value:
            return gettext("ended %(date)s") % {"date": date_format(value, "Y-m-d")}
        return gettext("active")

    def render_status(self, value):
        css = "ended" if value else "active"
        return format_html('<span class="status status-{}">{}</span>', css, self.value_status(value))

    def render_holders(self, record):
        # Python, not a template column: a template would be compiled again for every row.
        return format_html_join("", '<span style="white-space: nowrap; margin-right: 10px;">{} {}</span>',
                                ((share.staff, share.ratio) for share in record.listed_shares
                                 if not share.effective_to))

    def value_holders(self, record):
        return "; ".join(f"{share.staff} {share.ratio}" for share in record.listed_shares if not share.effective_to)


class CustomerTable(CompiledTable):
    """Customers whose history page the user may open (R-PERM-4), shown with the masked ID only (R-PII-1).

    The relationship and class columns read `visible_active_relationships` / `visible_open_classes`, lists the
    view prefetches through the scoping functions: walking `customer.relationships` here would show holders
    outside the user's scope, and cost a query a row.
    """
    name = tables.Column(verbose_name=_("Customer name"), order_by=("name", "id"),
                         linkify=("work:customer", {"pk": tables.A("pk")}))
    id_masked = tables.Column(verbose_name=_("ID card number"), orderable=False)
    relationships = tables.Column(verbose_name=_("Active relationships"), accessor="visible_active_relationships",
                                  orderable=False, empty_values=())
    classification = tables.Column(verbose_name=_("Classification"), accessor="visible_open_classes",
                                   orderable=False, empty_values=())
    created_at = tables.DateColumn(verbose_name=_("First seen"), format="Y-m-d", order_by=("created_at", "id"))

    class Meta:
        model = Customer
        fields = ()
        sequence = ("name", "id_masked", "relationships", "classification", "created_at")
        template_name = "includes/data_table.html"
        empty_text = _("No customers.")
        order_by = ("-created_at",)

    @staticmethod
    def _holders(relationship) -> str:
        return ", ".join(f"{share.staff} {share.ratio}" for share in relationship.listed_shares)

    def render_relationships(self, value):
        if not value:
            return "—"
        return format_html_join("", '<span style="white-space: nowrap; margin-right: 10px;">{}: {}</span>',
                                ((rel.type.label, self._holders(rel)) for rel in value))

    def value_relationships(self, value):
        return "; ".join(f"{rel.type.label}: {self._holders(rel)}" for rel in value or ())

    def value_classification(self, value):
        return "; ".join(str(c.get_kind_display()) for c in value or ())

    def render_classification(self, value):
        return self.value_classification(value) or "—"

    def value_created_at(self, value):
        """The office's calendar day, as the page shows it, not the UTC time of the row."""
        return timezone.localtime(value).date()
