"""HQ's admin for relationship types and approval chains with their steps (R-TYPE-1, R-TYPE-2). HQ's office only.

A type's chain, holder kinds, qualification and match rule are its row's; a chain's steps are edited while no case
has entered it, otherwise through a new version (approvals.chain_services)."""
from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import OuterRef, Subquery
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from approvals.chain_services import chain_activate, chain_in_use, chain_new_version
from approvals.models import Chain, ChainStep
from approvals.models.chains import chain_name
from permissions.admin_base import HQOfficeAdmin
from permissions.authority import is_hq_office
from relationships.audit import audit
from relationships.models import RelationshipType


def _chain_codes() -> set[str]:
    return set(Chain.objects.values_list("code", flat=True))


def _literal(code: str):
    """A code on a change form, as the literal HQ types elsewhere (a type's chain fields), not as words."""
    return format_html("<code>{}</code>", code)


def _active_chain_name(code_field: str) -> Subquery:
    return Subquery(Chain.objects.filter(code=OuterRef(code_field), active=True).values("name")[:1])


def _chain_label(code: str, name: str | None) -> str:
    """A type's chain by the label of its active version (issue 19); "—" for none, the code if no chain has it."""
    if not code:
        return "—"
    return chain_name(code=code, name=name) if name is not None else code


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
    # Issue 19: the list reads in the reader's language — a type by its name in that language, a chain by its
    # label; the codes are the change form's (HQ types them there).
    list_display = ("shown_name", "creation", "qualification", "late_chain", "always_chain", "reservable",
                    "sort_order")
    ordering = ("sort_order", "code")
    search_fields = ("code", "name", "name_en")

    @admin.display(description=_("name"), ordering="name")
    def shown_name(self, rtype):
        return rtype.label

    @admin.display(description=_("approval chain when late"), ordering="chain_late")
    def late_chain(self, rtype):
        return _chain_label(rtype.chain_late, rtype.late_chain_name)

    @admin.display(description=_("approval chain always"), ordering="chain_always")
    def always_chain(self, rtype):
        return _chain_label(rtype.chain_always, rtype.always_chain_name)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(late_chain_name=_active_chain_name("chain_late"),
                                                      always_chain_name=_active_chain_name("chain_always"))

    def get_readonly_fields(self, request, obj=None):
        return ("code_literal",) if obj is not None else ()

    def get_fields(self, request, obj=None):
        fields = list(super().get_fields(request, obj))
        return ["code_literal", *(f for f in fields if f not in ("code", "code_literal"))] if obj is not None \
            else fields

    @admin.display(description=_("code"))
    def code_literal(self, rtype):
        return _literal(rtype.code)

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
    # Issue 19: a chain is listed by its label; its code is the change form's (HQ types it when adding one).
    list_display = ("shown_name", "version", "active")
    list_filter = ("active",)
    search_fields = ("code", "name")
    ordering = ("code", "-version")
    inlines = [ChainStepInline]
    actions = ["new_version", "activate"]

    @admin.display(description=_("name"), ordering="name")
    def shown_name(self, chain):
        """A seeded chain in the reader's language, a chain HQ named by HQ's name (issue 19)."""
        return chain.label

    def get_readonly_fields(self, request, obj=None):
        return ("code_literal", "version", "active") if obj is not None else ("version", "active")

    def get_fields(self, request, obj=None):
        return ("code_literal", "version", "name", "active") if obj is not None else self.fields

    @admin.display(description=_("code"))
    def code_literal(self, chain):
        return _literal(chain.code)

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
