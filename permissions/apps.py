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
        # Post designations live in approvals/; their admin is scoped here unless approvals registers its own
        # (the admin app's ready(), which autodiscovers every admin module, has run before this one).
        from permissions.admin import register_post_assignment_admin

        register_post_assignment_admin()
        from permissions.signin_admin import register_signin_admin

        register_signin_admin()
