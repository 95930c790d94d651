from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PermissionsConfig(AppConfig):
    name = "permissions"
    verbose_name = _("permissions")

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        from permissions.middleware import stamp_login

        user_logged_in.connect(stamp_login, dispatch_uid="permissions.stamp_login")
        from permissions import signin_signals

        signin_signals.connect()
