"""R-SEC-AUTH-1 / R-SEC-AUTH-2 in the admin site: locked accounts and their lifting, second-factor device reset.

The list is the scoping function (`visible_locked_accounts`); the actions ask for a reason and call the services
of `permissions.signin`, which write the permission register.
"""
from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from permissions import scoping
from permissions.admin_base import ScopedAdmin, reason_action
from permissions.models import LockedAccount
from permissions.signin import lockout_lift, lockout_of


@admin.register(LockedAccount)
class LockedAccountAdmin(ScopedAdmin):
    scope = scoping.visible_locked_accounts
    list_display = ("username", "locked_until", "failures_since_start", "ip_address", "user_agent", "attempt_time")
    search_fields = ("username", "ip_address")
    ordering = ("username", "-attempt_time")
    actions = ["lift_lockout"]

    @admin.display(description=gettext_lazy("locked until"))
    def locked_until(self, obj):
        lock = lockout_of(obj.username)
        return lock.until if lock else "—"

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @admin.action(description=gettext_lazy("Lift the lockout of the selected accounts"))
    def lift_lockout(self, request, queryset):
        one_per_account = {}
        for attempt in queryset:
            one_per_account.setdefault((attempt.username or "").lower(), attempt)
        return reason_action(self, request, list(one_per_account.values()), title=_("Lift sign-in lockouts"),
                             action="lift_lockout",
                             run=lambda attempt, reason: lockout_lift(actor=request.user, username=attempt.username,
                                                                      reason=reason))


# django-otp's own device admins show a device's secret (its QR code) and edit devices outside the register:
# devices are enrolled by their user and reset through `permissions.signin.otp_device_reset` only. (django-otp's
# admin modules are discovered before this one: its apps come first in INSTALLED_APPS.)
for _model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)
