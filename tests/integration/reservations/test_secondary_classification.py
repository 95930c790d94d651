"""§7 — the nightly classification of lost, dormant and silent customers (R-SEC-1/2/3/6)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from performance.classification import customers_classify as classify_customers
from performance.classification import silent_window
from relationships.models import AuditEntry, CustomerClass
from reservations.models import BatchRun
from tests.support.factories import OutletFactory
from tests.support.helpers import nightly
from tests.support.secondary import customer_of, event, lost_customer, open_account, open_class, silent_history

pytestmark = pytest.mark.django_db

D = dt.date


@pytest.fixture
def outlet():
    return OutletFactory()


def classify(day: str):
    return classify_customers(business_date=D.fromisoformat(day))


def test_cancelled_designation_makes_a_customer_lost_from_that_day(outlet):
    """R-SEC-1, R-SEC-6: derived from the account events by the nightly run, nobody types it."""
    idn = lost_customer(outlet, lost_at="2026-01-15 10:00")
    nightly("2026-01-15")
    cls = open_class(idn)
    assert (cls.kind, cls.since, cls.outlet_id, cls.detected_on) == ("lost", D(2026, 1, 15), outlet.pk, D(2026, 1, 15))
    assert BatchRun.objects.get(stage="classify").counts["new_lost"] == 1


def test_a_loss_dated_after_the_business_date_is_not_seen_yet(outlet):
    """R-SEC-6: the state is as of the business date."""
    idn = lost_customer(outlet, lost_at="2026-01-15 10:00")
    classify("2026-01-14")
    assert open_class(idn) is None


def test_closing_his_only_securities_account_makes_him_lost(outlet):
    """R-SEC-1: closed his account."""
    idn = open_account(outlet, account_no="ACC-ONLY")
    event(outlet, idn, "close", "2026-02-01 10:00", account_no="ACC-ONLY")
    classify("2026-02-01")
    assert open_class(idn).kind == "lost"


def test_closing_one_of_two_securities_accounts_is_not_a_loss(outlet):
    """R-SEC-1: he still has an account at the firm."""
    idn = open_account(outlet, account_no="ACC-1")
    open_account(outlet, id_number=idn, account_no="ACC-2", when="2024-06-01 10:00")
    event(outlet, idn, "close", "2026-02-01 10:00", account_no="ACC-1")
    classify("2026-02-01")
    assert open_class(idn) is None


def test_reopening_ends_the_lost_class_and_keeps_its_row(outlet):
    """R-SEC-6: the class is ended on the business date; its history stays."""
    idn = lost_customer(outlet, lost_at="2026-01-15 10:00")
    classify("2026-01-15")
    event(outlet, idn, "designate", "2026-02-10 10:00")
    counts = classify("2026-02-10")
    assert open_class(idn) is None
    old = CustomerClass.objects.get(customer=customer_of(idn))
    assert (old.kind, old.since, old.ended_on) == ("lost", D(2026, 1, 15), D(2026, 2, 10))
    assert counts["ended_lost"] == 1


def test_a_second_loss_is_a_new_class_row(outlet):
    idn = lost_customer(outlet, lost_at="2026-01-15 10:00")
    classify("2026-01-15")
    event(outlet, idn, "designate", "2026-02-10 10:00")
    classify("2026-02-10")
    event(outlet, idn, "cancel_designation", "2026-03-02 10:00")
    classify("2026-03-02")
    assert list(CustomerClass.objects.filter(customer=customer_of(idn)).order_by("id")
                .values_list("since", "ended_on")) == [(D(2026, 1, 15), D(2026, 2, 10)), (D(2026, 3, 2), None)]


def test_dormant_customer_and_activation(outlet):
    """R-SEC-2: dormant until an activation (or a reopening)."""
    idn = open_account(outlet)
    event(outlet, idn, "dormant", "2026-01-05 10:00")
    classify("2026-01-05")
    assert (open_class(idn).kind, open_class(idn).since) == ("dormant", D(2026, 1, 5))
    event(outlet, idn, "activate", "2026-03-01 10:00")
    classify("2026-03-01")
    assert open_class(idn) is None


def test_lost_comes_before_dormant(outlet):
    idn = open_account(outlet)
    event(outlet, idn, "dormant", "2026-01-05 10:00")
    event(outlet, idn, "cancel_designation", "2026-01-06 10:00")
    classify("2026-01-06")
    assert open_class(idn).kind == "lost"


def test_silent_window_is_the_last_twelve_complete_months():
    assert silent_window(D(2026, 1, 6)) == (D(2025, 1, 1), D(2025, 12, 31))
    assert silent_window(D(2025, 12, 31)) == (D(2025, 1, 1), D(2025, 12, 31))
    assert silent_window(D(2026, 3, 30)) == (D(2025, 3, 1), D(2026, 2, 28))


def test_twelve_month_ends_below_1000_without_a_trade_make_a_customer_silent(outlet):
    """R-SEC-3: 12 consecutive month-ends below 1,000 yuan and no trade."""
    idn = open_account(outlet)
    silent_history([idn])
    counts = classify("2025-12-31")
    cls = open_class(idn)
    assert (cls.kind, cls.since, cls.outlet_id) == ("silent", D(2025, 12, 31), outlet.pk)
    assert counts["silent_judged"] == 1


@pytest.mark.parametrize("change,silent", [
    ({"assets": Decimal("999.99")}, True),
    ({"assets": Decimal("1000.00")}, False),   # 1,000 is not below 1,000
    ({"trade": 1}, False),
])
def test_one_month_end_at_the_threshold_or_one_trade_breaks_the_silence(outlet, change, silent):
    """R-SEC-3: below 1,000 at every month-end, and no trade in the 12 months."""
    idn = open_account(outlet)
    june = D(2025, 6, 30)
    silent_history([idn], overrides={(idn, june): (change.get("assets", Decimal("500")), change.get("trade", 0))})
    classify("2025-12-31")
    assert (open_class(idn) is not None) is silent


def test_eleven_month_ends_are_not_enough(outlet):
    idn = open_account(outlet)
    silent_history([idn], first_month=D(2025, 2, 1), months=11)
    classify("2025-12-31")
    assert open_class(idn) is None


def test_a_missing_metrics_month_keeps_yesterdays_silent_classes(outlet):
    """Without the latest month-end's metrics the silent state is not judged (a late feed clears nothing)."""
    idn = open_account(outlet)
    silent_history([idn])
    classify("2025-12-31")
    counts = classify("2026-02-01")  # January's metrics never arrived
    assert counts["silent_judged"] == 0
    assert open_class(idn).kind == "silent"


def test_classification_twice_for_the_same_date_changes_nothing(outlet):
    """R-SEC-6 + R-MATCH-6: the stage is idempotent."""
    lost = lost_customer(outlet)
    quiet = open_account(outlet)
    silent_history([quiet], months=13)
    event(outlet, open_account(outlet), "dormant", "2026-01-05 10:00")
    classify("2026-01-31")
    before = list(CustomerClass.objects.order_by("id").values_list("id", "customer_id", "kind", "since", "ended_on"))
    counts = classify("2026-01-31")
    assert list(CustomerClass.objects.order_by("id").values_list(
        "id", "customer_id", "kind", "since", "ended_on")) == before
    assert (counts["new_lost"], counts["ended_lost"], counts["lost"], counts["dormant"],
            counts["silent"]) == (0, 0, 1, 1, 1)
    assert open_class(lost).kind == "lost"


def test_r_sec_6_every_reclassification_is_audited_by_the_batch_with_before_and_after(outlet):
    """Issue "The night never jams", item 8: the batch's class changes are audited like every other batch change,
    by the statements that make them: three new classes one night, two ended the next, five audit rows."""
    lost_a, lost_b = lost_customer(outlet), lost_customer(outlet)
    sleeper = open_account(outlet)
    event(outlet, sleeper, "dormant", "2026-01-05 10:00")
    nightly("2026-01-15")
    event(outlet, lost_a, "designate", "2026-02-10 10:00")
    event(outlet, sleeper, "activate", "2026-02-10 11:00")
    nightly("2026-02-10")

    entries = AuditEntry.objects.filter(target_model="relationships.customerclass").order_by("id")
    assert [(e.action, e.actor_label, e.actor_id) for e in entries] == (
        [("customer_class.create", "nightly-batch", None)] * 3 + [("customer_class.end", "nightly-batch", None)] * 2)
    by_class = {int(e.target_id): e for e in entries if e.action == "customer_class.create"}
    for cls in CustomerClass.objects.all():
        created = by_class[cls.pk]
        assert created.before is None
        assert created.after == {"customer": cls.customer_id, "kind": cls.kind, "since": cls.since.isoformat(),
                                 "event": cls.source_event_id, "outlet": cls.outlet_id}
    ended = {int(e.target_id): e for e in entries if e.action == "customer_class.end"}
    a_class = CustomerClass.objects.get(customer=customer_of(lost_a))
    assert ended[a_class.pk].before == {"customer": a_class.customer_id, "kind": "lost", "since": "2026-01-15",
                                        "ended_on": None}
    assert ended[a_class.pk].after == {**ended[a_class.pk].before, "ended_on": "2026-02-10"}
    assert set(ended) == {a_class.pk, CustomerClass.objects.get(customer=customer_of(sleeper)).pk}
    # A quiet night changes nothing and audits nothing.
    classify("2026-02-10")
    assert AuditEntry.objects.filter(target_model="relationships.customerclass").count() == 5
    assert open_class(lost_b).kind == "lost"
