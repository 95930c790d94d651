"""The demo data set (fixtures/demo/) loads through the public feeds and nightly runs, and reloads as a no-op."""
from __future__ import annotations

import datetime as dt
import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db.models import Count, Sum
from django.utils import timezone

from approvals.models import ApprovalCase
from performance.models import ComputedPeriod, Grain, StaffPerformance
from performance.services import month_start
from permissions.models import Role
from relationships.models import (
    AccountEvent,
    AuditEntry,
    Callback,
    CallbackStatus,
    Customer,
    Organisation,
    Relationship,
    RelationshipShare,
    Staff,
)
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
def test_load_demo_reaches_every_reservation_state_and_is_idempotent(settings):
    settings.DEBUG = True  # the demo's passwords are public: it loads only in development (or --demo-site)
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


@pytest.mark.django_db(transaction=False)
def test_the_demo_is_dated_from_the_day_it_is_loaded_with_a_month_of_figures_and_every_role():
    """R-PERF-1, R-CB-1, R-REM-1: last night has run, the month has figures, callbacks are due (not all overdue),
    reservations are about to expire, and every role of the README's table has a login."""
    call_command("load_demo", "--demo-site", stdout=io.StringIO())
    today = timezone.localdate()
    yesterday = today - dt.timedelta(days=1)

    assert BatchRun.objects.filter(business_date=yesterday, stage="performance", status="succeeded").exists()
    month = StaffPerformance.objects.filter(grain=Grain.MONTH, period=month_start(yesterday))
    figures = month.aggregate(assets=Sum("assets"), turnover=Sum("turnover"), trades=Sum("trade_count"))
    assert all(v and v > 0 for v in figures.values()), figures
    assert ComputedPeriod.objects.order_by("-period").values_list("period", flat=True).first() == month_start(yesterday)
    assert month.values("staff").distinct().count() >= 10  # a ranking, not one name

    pending = Callback.objects.filter(status=CallbackStatus.PENDING)
    assert pending.filter(due_on__gte=today).exists()
    recorded = Callback.objects.filter(status=CallbackStatus.CONFIRMED).count()
    assert 0 < pending.filter(due_on__lt=today).count() < recorded / 4  # a few overdue, most called
    assert Reservation.objects.filter(status="active", valid_until__gte=today,
                                      valid_until__lte=today + dt.timedelta(days=7)).exists()
    assert not Reservation.objects.filter(registered_at__date__gt=today).exists()

    users = get_user_model().objects
    assert users.get(username="hq").is_staff
    for branch in Organisation.objects.filter(kind="branch"):
        admin = users.get(username=f"padmin_{branch.code}")
        assert admin.is_staff and Role.objects.filter(user=admin, kind="branch_permission_admin",
                                                      organisation=branch).exists()
    for prefix, kind in (("branch_", "branch"), ("head_", "branch_head"), ("outlet_", "outlet_head")):
        assert Role.objects.filter(user__username__startswith=prefix, kind=kind).exists(), prefix
    assert Staff.objects.filter(kind="broker", user__isnull=False).exists()
    assert not FeedFile.objects.filter(rows_failed__gt=0).exists()


@pytest.mark.django_db
def test_the_demo_refuses_to_load_with_debug_off_unless_the_site_is_a_demo(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DJANGO_DEBUG"):
        call_command("load_demo", stdout=io.StringIO())
    assert not FeedFile.objects.exists()
