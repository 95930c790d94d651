"""The scoped admin site's machinery (R-PERM-1..4): a branch permission admin sees and changes only what his
branches' scope holds, and every change asks a reason for the register. Every app's admin builds on it."""
from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _

from permissions.authority import administered_branch_ids, is_hq_office


def admin_branches(request):
    return administered_branch_ids(request.user)


def is_admin_user(request) -> bool:
    """HQ's office or a branch permission admin with at least one branch."""
    user = request.user
    if not (user.is_active and user.is_staff):
        return False
    branches = admin_branches(request)
    return branches is None or bool(branches)


class ScopedAdmin(admin.ModelAdmin):
    """Lists = the scoping function; reads need admin standing; writes are off unless a subclass allows them."""

    scope = None  # a function user -> QuerySet

    def get_queryset(self, request):
        qs = type(self).scope(request.user)
        if not is_admin_user(request):
            qs = qs.none()  # outside the admin site nothing exists (no 403-versus-404 oracle)
        ordering = self.get_ordering(request)
        return qs.order_by(*ordering) if ordering else qs

    def has_module_permission(self, request):
        return is_admin_user(request)

    def has_view_permission(self, request, obj=None):
        if not is_admin_user(request):
            return False
        return obj is None or self.get_queryset(request).filter(pk=obj.pk).exists()

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class HQOfficeAdmin(ScopedAdmin):
    """HQ's office maintains these rows (rule data: types, chains, the calendar); nobody else sees them at all."""

    def _hq(self, request) -> bool:
        return is_admin_user(request) and is_hq_office(request.user)

    def has_module_permission(self, request):
        return self._hq(request)

    def has_view_permission(self, request, obj=None):
        return self._hq(request)

    def has_add_permission(self, request, obj=None):
        return self._hq(request)

    def has_change_permission(self, request, obj=None):
        return self._hq(request)


def reason_action(modeladmin, request, queryset, *, title: str, run, action: str):
    """An admin action that asks for a reason first (R-ATT-1, R-PERM-3: who, when and why)."""
    if request.POST.get("confirm") == "yes":
        reason = (request.POST.get("reason") or "").strip()
        if not reason:
            modeladmin.message_user(request, _("Give the reason for the change."), messages.ERROR)
        else:
            done = 0
            for obj in queryset:
                try:
                    run(obj, reason)
                    done += 1
                except (ValidationError, PermissionDenied) as exc:
                    text = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
                    modeladmin.message_user(request, f"{obj}: {text}", messages.ERROR)
            if done:
                modeladmin.message_user(request, _("%(n)d changed and recorded in the permission register.")
                                        % {"n": done}, messages.SUCCESS)
            return None
    return TemplateResponse(request, "admin/permissions/reason_action.html", {
        **modeladmin.admin_site.each_context(request),
        "title": title, "objects": queryset, "action": action, "opts": modeladmin.model._meta,
        "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
    })
