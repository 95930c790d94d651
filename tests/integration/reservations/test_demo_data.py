"""The demo data set (fixtures/demo/) loads through the public feeds and nightly runs, and reloads as a no-op."""
from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import Count

from approvals.models import ApprovalCase
from permissions.models import Role
from relationships.models import AccountEvent, AuditEntry, Customer, Relationship, RelationshipShare, Staff
from reservations.models import BatchRun, FeedFile, Reservation


def _counts() -> dict:
    return {
        "reservations": dict(Reservation.objects.values_list("status").annotate(n=Count("id")).order_by()),
        "relationships": Relationship.objects.count(),
        "shares": RelationshipShare.objects.count(),
        "cases": dict(ApprovalCase.objects.values_list("reason").annotate(n=Count("id")).order_by()),
        "customers": Customer.objects.count(),
        "events": AccountEvent.objects.count(),
        "users": get_user_model().objects.count(),
        "roles": Role.objects.count(),
        "feeds": FeedFile.objects.count(),
        "runs": BatchRun.objects.count(),
        "audit": AuditEntry.objects.count(),
    }


@pytest.mark.django_db(transaction=False)
def test_load_demo_reaches_every_reservation_state_and_is_idempotent():
    call_command("load_demo", stdout=io.StringIO())
    first = _counts()

    statuses = first["reservations"]
    for status in ("active", "matched", "pending_approval", "flagged", "expired", "withdrawn"):
        assert statuses.get(status, 0) > 0, f"no {status} reservation in the demo: {statuses}"
    assert first["relationships"] > 0 and first["shares"] >= first["relationships"]
    assert {"duplicate", "late", "cross_region", "broker"} <= set(first["cases"]), first["cases"]
    assert first["customers"] > 4000
    # Every demo line is accepted: a refused line means the generator and the feed rules disagree.
    assert not list(FeedFile.objects.filter(rows_failed__gt=0).values_list("filename", "errors"))
    assert Staff.objects.filter(user__isnull=True).count() == 0
    assert get_user_model().objects.filter(username="admin", is_superuser=True).exists()
    assert Role.objects.filter(user__username="hq", kind="hq").exists()

    call_command("load_demo", stdout=io.StringIO())
    assert _counts() == first
