from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RelationshipsConfig(AppConfig):
    name = "relationships"
    verbose_name = _("relationships")

    def ready(self):
        from relationships import checks  # noqa: F401  registers the PII key check
        from relationships.models import Customer
        from relationships.pii_store import register_hashed_table

        register_hashed_table(Customer)  # R-PII-1: first, so a customer's hash version is the one others adopt
