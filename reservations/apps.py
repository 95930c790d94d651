from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReservationsConfig(AppConfig):
    name = "reservations"
    verbose_name = _("reservations")

    def ready(self):
        # approvals never imports reservations; it calls back through this registry (ARCHITECTURE).
        from approvals.hooks import register_around_case_completion, register_case_decided
        from reservations.branch.follow import branch_cases_decided
        from reservations.case_hooks import case_completion_adjusted, reservations_follow_case
        from reservations.reassign.follow import reassignment_case_decided

        register_case_decided(reservations_follow_case)
        register_case_decided(branch_cases_decided)
        register_case_decided(reassignment_case_decided)  # R-STAFF-1
        register_around_case_completion(case_completion_adjusted)  # R-PERF-5

        from relationships.pii_store import register_hashed_table, register_sealed_column
        from reservations.models import FeedUpload, Reservation

        register_hashed_table(Reservation)  # R-PII-1: rotated with the customer of the same ID number
        register_sealed_column(FeedUpload, "content")  # an uploaded feed, sealed until it is loaded
