"""The staff admin's moves and leavings (R-STAFF-1): each asks for its date (and outlet) and a reason, then
goes through `permissions.staff_changes`, which checks the branch and writes the register and audit rows, and
writes the membership rows and the credit change through `relationships.membership`, as the staff feed does; a
move goes through `performance.adjusted.staff_move_adjusted`, which posts adjustments if its day is in a locked
month (R-PERF-5)."""
from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from performance.adjusted import staff_move_adjusted
from permissions import scoping
from permissions.admin_base import is_admin_user
from permissions.staff_changes import staff_leave
from relationships.models import Organisation, OrgKind, StaffMembership


class MembershipInline(admin.TabularInline):
    model = StaffMembership
    fields = ("outlet", "valid_from", "valid_to")
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = gettext_lazy("outlets over time")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return is_admin_user(request)


class LeaveForm(forms.Form):
    on = forms.DateField(label=gettext_lazy("Leaving date (first day away)"))
    reason = forms.CharField(label=gettext_lazy("Reason"), widget=forms.Textarea(attrs={"rows": 3}))


class MoveForm(forms.Form):
    outlet = forms.ModelChoiceField(label=gettext_lazy("New outlet"), queryset=Organisation.objects.none())
    on = forms.DateField(label=gettext_lazy("Effective from (first day at the new outlet)"))
    reason = forms.CharField(label=gettext_lazy("Reason"), widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, outlets, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["outlet"].queryset = outlets


def staff_change_action(modeladmin, request, queryset, *, kind: str):
    """The intermediate page of the two actions; each staff member is changed on his own (an error names him)."""
    if kind == "move":
        outlets = scoping.visible_organisations(request.user).filter(kind=OrgKind.OUTLET).order_by("code")
        form: forms.Form = MoveForm(request.POST if request.POST.get("confirm") == "yes" else None, outlets=outlets)
        title, action = _("Record a move"), "record_move"
    else:
        form = LeaveForm(request.POST if request.POST.get("confirm") == "yes" else None)
        title, action = _("Record leaving"), "record_leaving"
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        done = 0
        for staff in queryset:
            try:
                if kind == "move":
                    staff_move_adjusted(actor=request.user, staff=staff, outlet=data["outlet"], on=data["on"],
                               reason=data["reason"])
                else:
                    staff_leave(actor=request.user, staff=staff, on=data["on"], reason=data["reason"])
                done += 1
            except (ValidationError, PermissionDenied) as exc:
                text = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
                modeladmin.message_user(request, f"{staff}: {text}", messages.ERROR)
        if done:
            modeladmin.message_user(request, _("%(n)d changed and recorded.") % {"n": done}, messages.SUCCESS)
        return None
    return TemplateResponse(request, "admin/relationships/staff_change.html", {
        **modeladmin.admin_site.each_context(request), "title": title, "objects": queryset, "action": action,
        "form": form, "opts": modeladmin.model._meta, "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME})
