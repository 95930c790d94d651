"""Admin for staff, attach permission and qualifications (R-ATT-1/2, R-ORG-4), scoped like every list.

Opening and closing attach permission and recording qualifications go through `permissions.services`,
which check that the user administers the staff member's branch and write the permission register.
"""
from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from common.actors import actor_words
from permissions import scoping
from permissions.admin_base import ScopedAdmin, is_admin_user, reason_action
from permissions.authority import is_hq_office, may_administer
from permissions.services import attach_close, attach_open, qualification_record, qualification_set_validity
from relationships import calendar_admin  # noqa: F401  (R-CAL-1: HQ's calendar days and years)
from relationships.audit import ACTION_LABELS, action_words, change_words, entity_words
from relationships.models import AuditEntry, Organisation, PiiAccess, Qualification, QualificationKind, Staff
from relationships.people_admin import MembershipInline, staff_change_action


class QualificationInline(admin.TabularInline):
    model = Qualification
    fields = ("kind", "number", "valid_from", "valid_to")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return is_admin_user(request)


@admin.register(Staff)
class StaffAdmin(ScopedAdmin):
    scope = scoping.visible_staff
    list_display = ("staff_no", "name", "kind", "outlet", "attach_open", "left_on", "user")
    list_filter = ("attach_open", "kind")
    search_fields = ("staff_no", "name")
    list_select_related = ("outlet", "user")
    ordering = ("staff_no",)
    readonly_fields = ("staff_no", "name", "kind", "outlet", "parent", "user", "attach_open", "left_on")
    inlines = [QualificationInline, MembershipInline]
    actions = ["open_attach", "close_attach", "record_move", "record_leaving"]

    @admin.action(description=gettext_lazy("Record a move of the selected staff to another outlet"))
    def record_move(self, request, queryset):
        return staff_change_action(self, request, queryset, kind="move")

    @admin.action(description=gettext_lazy("Record the leaving of the selected staff"))
    def record_leaving(self, request, queryset):
        return staff_change_action(self, request, queryset, kind="leave")

    @admin.action(description=gettext_lazy("Open attach permission of the selected staff"))
    def open_attach(self, request, queryset):
        return reason_action(self, request, queryset, title=_("Open attach permission"), action="open_attach",
                             run=lambda staff, reason: attach_open(actor=request.user, staff=staff, reason=reason))

    @admin.action(description=gettext_lazy("Close attach permission of the selected staff"))
    def close_attach(self, request, queryset):
        return reason_action(self, request, queryset, title=_("Close attach permission"), action="close_attach",
                             run=lambda staff, reason: attach_close(actor=request.user, staff=staff, reason=reason))


class QualificationAddForm(forms.ModelForm):
    reason = forms.CharField(label=gettext_lazy("Reason"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    class Meta:
        model = Qualification
        fields = ("staff", "kind", "number", "valid_from", "valid_to")

    def validate_unique(self):  # the service reports duplicates
        pass


class QualificationChangeForm(forms.ModelForm):
    reason = forms.CharField(label=gettext_lazy("Reason"), widget=forms.Textarea(attrs={"rows": 2}))

    class Meta:
        model = Qualification
        fields = ("valid_to",)


@admin.register(Qualification)
class QualificationAdmin(ScopedAdmin):
    scope = scoping.visible_qualifications
    list_display = ("staff", "kind", "number", "valid_from", "valid_to")
    list_filter = ("kind",)
    search_fields = ("staff__staff_no", "staff__name", "number")
    list_select_related = ("staff",)
    ordering = ("staff__staff_no", "kind", "-valid_from")
    raw_id_fields = ("staff",)

    def _branch_of(self, obj):
        return obj.staff.outlet.branch_id

    def has_add_permission(self, request):
        return is_admin_user(request)

    def has_change_permission(self, request, obj=None):
        if not is_admin_user(request):
            return False
        return obj is None or (self.get_queryset(request).filter(pk=obj.pk).exists()
                               and may_administer(request.user, self._branch_of(obj)))

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = QualificationChangeForm if obj is not None else QualificationAddForm
        kwargs["fields"] = ("valid_to", "reason") if obj is not None else (
            "staff", "kind", "number", "valid_from", "valid_to", "reason")
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("staff", "kind", "number", "valid_from", "valid_to", "reason")
        if self.has_change_permission(request, obj):
            return ("staff", "kind", "number", "valid_from", "valid_to", "reason")
        return ("staff", "kind", "number", "valid_from", "valid_to")

    def get_readonly_fields(self, request, obj=None):
        return ("staff", "kind", "number", "valid_from") if obj is not None else ()

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "staff":
            kwargs["queryset"] = scoping.visible_staff(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        d = form.cleaned_data
        if change:
            q = qualification_set_validity(actor=request.user, qualification=obj, valid_to=d.get("valid_to"),
                                           reason=d.get("reason", ""))
        else:
            q = qualification_record(actor=request.user, staff=d["staff"], kind=QualificationKind(d["kind"]),
                                     number=d["number"], valid_from=d["valid_from"], valid_to=d.get("valid_to"),
                                     reason=d.get("reason", ""))
        obj.pk = q.pk

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except (ValidationError, PermissionDenied) as exc:
            text = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            self.message_user(request, text, messages.ERROR)
            return redirect(request.path)


@admin.register(Organisation)
class OrganisationAdmin(ScopedAdmin):
    scope = scoping.visible_organisations
    list_display = ("code", "name", "kind", "parent", "branch", "region")
    list_filter = ("kind",)
    search_fields = ("code", "name")
    list_select_related = ("parent", "branch", "region")
    ordering = ("code",)


class HQOnlyAdmin(ScopedAdmin):
    """Read-only trails for the head office."""

    def has_module_permission(self, request):
        return is_admin_user(request) and is_hq_office(request.user)

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)


class AuditActionFilter(admin.SimpleListFilter):
    """The actions by their labels (issue 19); the key stays the query value."""

    title = gettext_lazy("action")
    parameter_name = "action"

    def lookups(self, request, model_admin):
        return sorted(((key, action_words(key)) for key in ACTION_LABELS), key=lambda pair: pair[1])

    def queryset(self, request, queryset):
        return queryset.filter(action=self.value()) if self.value() else queryset


def _changes_html(entry: AuditEntry, values) -> str:
    rows = change_words(entry.target_model, values)
    if not rows:
        return "—"
    return format_html("<table>{}</table>", format_html_join(
        "", "<tr><th>{}</th><td>{}</td></tr>", rows))


@admin.register(AuditEntry)
class AuditEntryAdmin(HQOnlyAdmin):
    """The trail in the reader's words (issue 19): an action by its label, a row's kind by its model's name and
    before/after by the fields' names; the action key stays searchable."""

    scope = staticmethod(lambda user: AuditEntry.objects.all() if is_hq_office(user) else AuditEntry.objects.none())
    list_display = ("at", "recorded_by", "what", "entity", "target_id")
    list_filter = (AuditActionFilter,)
    search_fields = ("actor_label", "target_id", "action")
    ordering = ("-at", "-id")
    show_full_result_count = False
    fields = ("at", "recorded_by", "what", "entity", "target_id", "before_words", "after_words")
    readonly_fields = fields

    @admin.display(description=gettext_lazy("recorded by"), ordering="actor_label")
    def recorded_by(self, entry):
        return actor_words(entry.actor_label)

    @admin.display(description=gettext_lazy("action"), ordering="action")
    def what(self, entry):
        return action_words(entry.action)

    @admin.display(description=gettext_lazy("object type"), ordering="target_model")
    def entity(self, entry):
        return entity_words(entry.target_model)

    @admin.display(description=gettext_lazy("before"))
    def before_words(self, entry):
        return _changes_html(entry, entry.before)

    @admin.display(description=gettext_lazy("after"))
    def after_words(self, entry):
        return _changes_html(entry, entry.after)


@admin.register(PiiAccess)
class PiiAccessAdmin(HQOnlyAdmin):
    scope = staticmethod(lambda user: PiiAccess.objects.all() if is_hq_office(user) else PiiAccess.objects.none())
    list_display = ("at", "actor_label", "purpose", "detail", "rows")
    search_fields = ("actor_label", "detail")
    ordering = ("-at", "-id")
    show_full_result_count = False


