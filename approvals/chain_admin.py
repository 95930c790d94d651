"""HQ's admin for relationship types and approval chains with their steps (R-TYPE-1, R-TYPE-2). HQ's office only.

A type's chain, holder kinds, qualification and match rule are its row's; a chain's steps are edited while no case
has entered it, otherwise through a new version (approvals.chain_services)."""
from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext_lazy as _

from approvals.chain_services import chain_activate, chain_in_use, chain_new_version
from approvals.models import Chain, ChainStep
from permissions.admin_base import HQOfficeAdmin
from permissions.authority import is_hq_office
from relationships.audit import audit
from relationships.models import RelationshipType


def _chain_codes() -> set[str]:
    return set(Chain.objects.values_list("code", flat=True))


class RelationshipTypeForm(forms.ModelForm):
    class Meta:
        model = RelationshipType
        fields = ("code", "name", "name_en", "holder_kinds", "qualification", "creation", "match_event_kind",
                  "match_account_type", "match_customer", "match_first_only", "single_holder", "cross_region_check",
                  "chain_late", "chain_always", "reservable", "is_development", "special_new_for", "sort_order")

    def clean(self):
        data = super().clean()
        codes = _chain_codes()
        for name in ("chain_late", "chain_always"):
            if data.get(name) and data[name] not in codes:
                self.add_error(name, _("No approval chain has this code."))
        return data


@admin.register(RelationshipType)
class RelationshipTypeAdmin(HQOfficeAdmin):
    scope = staticmethod(lambda user: RelationshipType.objects.all())
    form = RelationshipTypeForm
    list_display = ("code", "name", "name_en", "creation", "qualification", "chain_late", "chain_always",
                    "reservable", "sort_order")
    ordering = ("sort_order", "code")

    def get_readonly_fields(self, request, obj=None):
        return ("code",) if obj is not None else ()

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        audit(actor=request.user, action="relationship_type.change" if change else "relationship_type.add",
              target=obj, after={f: form.cleaned_data.get(f) for f in form.changed_data})


class ChainStepInline(admin.TabularInline):
    model = ChainStep
    extra = 0
    fields = ("order", "post", "scope")

    def _editable(self, request, obj) -> bool:
        return is_hq_office(request.user) and (obj is None or not chain_in_use(obj))

    def has_add_permission(self, request, obj=None):
        return self._editable(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._editable(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._editable(request, obj)

    def has_view_permission(self, request, obj=None):
        return is_hq_office(request.user)


@admin.register(Chain)
class ChainAdmin(HQOfficeAdmin):
    scope = staticmethod(lambda user: Chain.objects.all())
    fields = ("code", "version", "name", "active")
    readonly_fields = ("version", "active")
    list_display = ("code", "version", "shown_name", "active")
    list_filter = ("active",)
    ordering = ("code", "-version")
    inlines = [ChainStepInline]
    actions = ["new_version", "activate"]

    @admin.display(description=_("name"), ordering="name")
    def shown_name(self, chain):
        """A seeded chain in the reader's language, a chain HQ named by HQ's name (issue 19)."""
        return chain.label

    def get_readonly_fields(self, request, obj=None):
        return ("code", "version", "active") if obj is not None else ("version", "active")

    def save_model(self, request, obj, form, change):
        if not change:
            obj.active = not Chain.objects.filter(code=obj.code, active=True).exists()
        super().save_model(request, obj, form, change)
        audit(actor=request.user, action="chain.change" if change else "chain.add", target=obj,
              after={"code": obj.code, "version": obj.version, "name": obj.name})

    def _run(self, request, queryset, fn, done_text):
        for chain in queryset:
            try:
                fn(actor=request.user, chain_id=chain.pk)
            except (ValidationError, PermissionDenied) as exc:
                text = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
                self.message_user(request, f"{chain}: {text}", messages.ERROR)
            else:
                self.message_user(request, done_text % {"chain": chain}, messages.SUCCESS)

    @admin.action(description=_("Create the next version (inactive, to edit)"))
    def new_version(self, request, queryset):
        self._run(request, queryset, chain_new_version, _("A new version of %(chain)s was created."))

    @admin.action(description=_("Activate: new cases enter this version"))
    def activate(self, request, queryset):
        self._run(request, queryset, chain_activate, _("%(chain)s is now the version new cases enter."))
