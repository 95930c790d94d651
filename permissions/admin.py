"""The admin site for permission administration (R-PERM-1..3).

A branch permission admin sees only his own branch: every list is the model's scoping function
(`permissions.scoping.visible_<model>s`), every write is allowed only for branches he administers
(a django-guardian object permission on the branch row, `permissions.authority.administered_branch_ids`),
and every change goes through a service that writes the permission register. Django's model
permissions are not used for these models: the scope is the permission.
"""
from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from permissions import (
    exports,
    scoping,
    signin_admin,  # noqa: F401  (registers the locked accounts; unregisters django-otp's)
)
from permissions.admin_base import ScopedAdmin, is_admin_user, reason_action
from permissions.auth_admin import PermissionWordsMixin  # also registers Django's groups, worded (issue 19)
from permissions.authority import administered_branch_ids, is_hq_office
from permissions.models import (
    ApplicationStatus,
    PermissionApplication,
    PermissionRegisterEntry,
    Role,
    RoleKind,
    people_only,
)
from permissions.services import application_apply, application_approve, branch_admin_assign, branch_admin_remove
from permissions.signin import otp_device_reset
from relationships.models import Organisation, OrgKind

User = get_user_model()


# --------------------------------------------------------------------------------------------------
# Users
# --------------------------------------------------------------------------------------------------

class ScopedUserAdmin(PermissionWordsMixin, UserAdmin):
    """Branch users only; a branch admin edits names and e-mail; roles change by application (R-PERM-2). Its
    permission picker names each permission in the reader's language (issue 19)."""

    list_display = ("username", "first_name", "last_name", "email", "is_active", "is_staff")
    list_filter = ("is_active", "is_staff")
    actions = ["reset_second_factor"]
    limited_fieldsets = (
        (None, {"fields": ("username",)}),
        (gettext_lazy("Personal info"), {"fields": ("first_name", "last_name", "email")}),
        (gettext_lazy("Status"), {"fields": ("is_active", "is_staff", "last_login", "date_joined")}),
    )

    def get_queryset(self, request):
        return scoping.visible_users(request.user).order_by("username")

    def get_fieldsets(self, request, obj=None):
        if request.user.is_superuser:
            return super().get_fieldsets(request, obj)
        return self.limited_fieldsets

    def get_readonly_fields(self, request, obj=None):
        if request.user.is_superuser:
            return super().get_readonly_fields(request, obj)
        return ("username", "is_active", "is_staff", "last_login", "date_joined")

    def has_module_permission(self, request):
        return request.user.is_superuser or is_admin_user(request)

    def has_view_permission(self, request, obj=None):
        if request.user.is_superuser:
            return True
        if not is_admin_user(request):
            return False
        return obj is None or self.get_queryset(request).filter(pk=obj.pk).exists()

    def has_change_permission(self, request, obj=None):
        if request.user.is_superuser:
            return True
        if not is_admin_user(request):
            return False
        if obj is None:
            return True
        if obj.is_superuser or obj.pk == request.user.pk:
            return False
        return self.get_queryset(request).filter(pk=obj.pk).exists()

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    @admin.action(description=gettext_lazy("Reset the second-factor device of the selected users"))
    def reset_second_factor(self, request, queryset):
        """R-SEC-AUTH-2: a lost phone; the user enrols again at his next sign-in (a register row)."""
        return reason_action(self, request, queryset, title=_("Reset second-factor devices"),
                             action="reset_second_factor",
                             run=lambda user, reason: otp_device_reset(actor=request.user, user=user, reason=reason))

    def user_change_password(self, request, id, form_url=""):
        if not request.user.is_superuser:
            raise PermissionDenied
        return super().user_change_password(request, id, form_url)


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, ScopedUserAdmin)


# --------------------------------------------------------------------------------------------------
# Roles (read-only; the branch permission admin role is assigned here by HQ, R-PERM-1)
# --------------------------------------------------------------------------------------------------

class BranchAdminAssignForm(forms.ModelForm):
    reason = forms.CharField(label=gettext_lazy("Reason"), widget=forms.Textarea(attrs={"rows": 3}))

    class Meta:
        model = Role
        fields = ("user", "organisation")
        labels = {"organisation": gettext_lazy("Branch company")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organisation"].queryset = Organisation.objects.filter(kind=OrgKind.BRANCH).order_by("code")
        self.fields["user"].queryset = people_only(User.objects.filter(is_active=True)).order_by("username")

    def validate_unique(self):  # the service decides (kind is not on the form)
        pass


@admin.register(Role)
class RoleAdmin(ScopedAdmin):
    scope = scoping.visible_roles
    list_display = ("user", "kind", "organisation")
    list_filter = ("kind",)
    search_fields = ("user__username", "organisation__code", "organisation__name")
    list_select_related = ("user", "organisation")
    ordering = ("organisation__code", "kind", "user__username")
    actions = ["remove_branch_admin"]

    def has_add_permission(self, request):
        return is_hq_office(request.user) and request.user.is_staff

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = BranchAdminAssignForm
            kwargs["fields"] = ("user", "organisation", "reason")
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        return ("user", "organisation", "reason") if obj is None else ("user", "kind", "organisation")

    def save_model(self, request, obj, form, change):
        if change:
            raise PermissionDenied
        role = branch_admin_assign(actor=request.user, user=form.cleaned_data["user"],
                                   branch=form.cleaned_data["organisation"], reason=form.cleaned_data["reason"])
        obj.pk, obj.kind = role.pk, role.kind

    def add_view(self, request, form_url="", extra_context=None):
        try:
            return super().add_view(request, form_url, {**(extra_context or {}),
                                                         "title": _("Assign a branch permission admin")})
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return redirect(request.path)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not is_hq_office(request.user):
            actions.pop("remove_branch_admin", None)
        return actions

    @admin.action(description=gettext_lazy("Remove the selected branch permission admins"))
    def remove_branch_admin(self, request, queryset):
        return reason_action(self, request, queryset.filter(kind=RoleKind.BRANCH_PERMISSION_ADMIN),
                             title=_("Remove branch permission admins"), action="remove_branch_admin",
                             run=lambda role, reason: branch_admin_remove(actor=request.user, role=role,
                                                                          reason=reason))


# --------------------------------------------------------------------------------------------------
# Applications (R-PERM-2) and the register (R-PERM-3)
# --------------------------------------------------------------------------------------------------

@admin.register(PermissionApplication)
class PermissionApplicationAdmin(ScopedAdmin):
    scope = scoping.visible_permission_applications
    list_display = ("id", "filed_at", "branch", "action", "subject", "role_kind", "organisation", "status",
                    "applicant", "decided_by", "applied_by")
    list_filter = ("status", "action", "role_kind")
    search_fields = ("subject__username", "applicant__username", "reason")
    list_select_related = ("branch", "subject", "organisation", "applicant", "decided_by", "applied_by")
    ordering = ("-filed_at", "-id")
    date_hierarchy = "filed_at"
    actions = ["approve_selected", "apply_selected"]
    readonly_fields = ("branch", "action", "subject", "role_kind", "organisation", "role", "role_before", "reason",
                       "applicant", "signoff", "status", "filed_at", "decided_by", "decided_at", "decision_note",
                       "applied_by", "applied_at")

    def has_add_permission(self, request):
        return is_admin_user(request)

    def add_view(self, request, form_url="", extra_context=None):
        return redirect("permissions:application_new")

    def _run(self, request, queryset, fn, done_text):
        done = 0
        for app in queryset:
            try:
                fn(actor=request.user, application_id=app.pk)
                done += 1
            except (ValidationError, PermissionDenied) as exc:
                text = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
                self.message_user(request, f"#{app.pk}: {text}", messages.ERROR)
        if done:
            self.message_user(request, done_text % {"n": done}, messages.SUCCESS)

    @admin.action(description=gettext_lazy("Approve the selected applications (branch head)"))
    def approve_selected(self, request, queryset):
        self._run(request, queryset.filter(status=ApplicationStatus.PENDING), application_approve,
                  _("%(n)d application(s) approved."))

    @admin.action(description=gettext_lazy("Apply the selected approved applications"))
    def apply_selected(self, request, queryset):
        self._run(request, queryset.filter(status=ApplicationStatus.APPROVED), application_apply,
                  _("%(n)d application(s) applied."))


@admin.register(PermissionRegisterEntry)
class PermissionRegisterAdmin(ScopedAdmin):
    scope = scoping.visible_register_entries
    list_display = ("at", "event", "branch", "subject_label", "what_words", "applicant_label", "approver_label",
                    "applier_label", "recorded_by")
    # The change page reads as the register does (issue 19): what and the detail in words, the actor and the
    # sign-off as pages show them; the stored message itself is not shown.
    fields = ("at", "event", "branch", "application", "subject_label", "subject_user", "subject_staff",
              "what_words", "reason", "applicant_label", "signoff_words", "approver_label", "applier_label",
              "recorded_by", "actor", "detail_words")
    list_filter = ("event", "branch")
    search_fields = ("subject_label", "what", "reason", "applicant_label", "actor_label")
    list_select_related = ("branch",)
    ordering = ("-at", "-id")
    date_hierarchy = "at"
    actions = ["export_csv", "export_xlsx"]
    show_full_result_count = False

    @admin.display(description=gettext_lazy("recorded by"), ordering="actor_label")
    def recorded_by(self, entry):
        return entry.actor_text  # a system actor in words (issue 19)

    @admin.display(description=gettext_lazy("what"))
    def what_words(self, entry):
        return entry.what_text  # rendered from its message in the reader's language

    @admin.display(description=gettext_lazy("applicant's sign-off"))
    def signoff_words(self, entry):
        return entry.signoff_text

    @admin.display(description=gettext_lazy("detail"))
    def detail_words(self, entry):
        return exports.detail_words(entry.detail)

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def get_list_filter(self, request):
        return ("event",) if administered_branch_ids(request.user) is not None else self.list_filter

    @admin.action(description=gettext_lazy("Export the selected entries as CSV"))
    def export_csv(self, request, queryset):
        return exports.csv_response(queryset)

    @admin.action(description=gettext_lazy("Export the selected entries as Excel"))
    def export_xlsx(self, request, queryset):
        return exports.xlsx_response(queryset)
