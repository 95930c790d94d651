"""Post designations (R-APR-1) in the scoped admin site: a branch head designates his branch's post holders, HQ's
office names HQ reviewers. Listed through `permissions.scoping.visible_post_assignments`; written through
`approvals.designations.designation_add` (a register row, R-APR-10)."""
from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.utils.translation import gettext as _

from approvals import chain_admin  # noqa: F401  (R-TYPE-2: HQ's relationship types and chains)
from approvals.designations import designation_add
from approvals.models import PostAssignment
from permissions import scoping
from permissions.admin_base import ScopedAdmin, is_admin_user
from permissions.authority import is_hq_office
from permissions.models import Role, RoleKind


class PostAssignmentForm(forms.ModelForm):
    class Meta:
        model = PostAssignment
        fields = ("post", "organisation", "user", "valid_from", "valid_to", "delegate_for")


@admin.register(PostAssignment)
class PostAssignmentAdmin(ScopedAdmin):
    scope = scoping.visible_post_assignments
    form = PostAssignmentForm
    list_display = ("post", "organisation", "user", "valid_from", "valid_to", "delegate_for")
    list_filter = ("post",)
    search_fields = ("user__username", "organisation__code", "organisation__name")
    list_select_related = ("organisation", "user", "delegate_for__user")
    ordering = ("organisation__code", "post", "-valid_from")
    raw_id_fields = ("delegate_for",)

    def has_add_permission(self, request):
        user = request.user
        return is_admin_user(request) and (is_hq_office(user) or Role.objects.filter(
            user=user, kind=RoleKind.BRANCH_HEAD).exists())

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "organisation":
            kwargs["queryset"] = scoping.visible_organisations(request.user).order_by("code")
        elif db_field.name == "user":
            kwargs["queryset"] = scoping.visible_users(request.user).order_by("username")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        d = form.cleaned_data
        # R-APR-10: as on the designations page, the change is a row of the permission register too.
        created = designation_add(actor=request.user, post=d["post"], organisation=d["organisation"], user=d["user"],
                                  valid_from=d["valid_from"], valid_to=d.get("valid_to"),
                                  delegate_for=d.get("delegate_for"), reason=_("Designated in the admin site."))
        obj.pk = created.pk

    def add_view(self, request, form_url="", extra_context=None):
        try:
            return super().add_view(request, form_url, extra_context)
        except (ValidationError, PermissionDenied) as exc:
            text = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            self.message_user(request, text, messages.ERROR)
            return redirect(request.path)
