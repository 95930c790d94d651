from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApprovalsConfig(AppConfig):
    name = "approvals"
    verbose_name = _("approvals")

    def ready(self) -> None:
        # R-APR-9: the applicant hears of the decision; e-mails leave through the Celery task after the commit.
        from approvals import hooks, notifications, tasks

        hooks.register_case_decided(notifications.notify_case_decided)
        if tasks.queue_mail not in notifications.mailer:
            notifications.mailer.append(tasks.queue_mail)
