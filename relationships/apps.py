from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RelationshipsConfig(AppConfig):
    name = "relationships"
    verbose_name = _("relationships")

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from relationships import checks  # noqa: F401  registers the PII key check
        from relationships.models import Customer, RelationshipType
        from relationships.pii_store import register_hashed_table
        from relationships.types import forget_type_rows

        # The type filters' cached rows (issue 18) are forgotten when a type changes (no rule here: a cache).
        post_save.connect(forget_type_rows, sender=RelationshipType, dispatch_uid="forget_type_rows_saved")
        post_delete.connect(forget_type_rows, sender=RelationshipType, dispatch_uid="forget_type_rows_deleted")

        register_hashed_table(Customer)  # R-PII-1: first, so a customer's hash version is the one others adopt
