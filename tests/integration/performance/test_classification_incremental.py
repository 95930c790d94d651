"""R-SEC-3 / R-SEC-6, issue 18: silence judged once per new month-end from the monthly summary the metrics load
keeps, checked against the full judgement from the daily metrics, night by night."""
from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest
from django.db import connection, transaction

from performance.classification import customers_classify
from performance.models import CustomerMonth, SilentJudgement
from relationships.models import CustomerClass
from tests.support.factories import OutletFactory, make_id_number
from tests.support.secondary import customer_of, event, metrics, open_account

pytestmark = pytest.mark.django_db

D = dt.date
FIRST_MONTH, MONTHS = D(2025, 1, 1), 14


def _months() -> list[D]:
    out, day = [], FIRST_MONTH
    for _i in range(MONTHS):
        out.append(day)
        day = D(day.year + day.month // 12, day.month % 12 + 1, 1)
    return out


def _reported_days(month: D) -> list[D]:
    """Three reported days a month; the last is the month's last day, except in May (its 28th)."""
    nxt = D(month.year + month.month // 12, month.month % 12 + 1, 1)
    last = nxt - dt.timedelta(days=1) if month.month != 5 else month.replace(day=28)
    return [month.replace(day=10), month.replace(day=20), last]


def _summary_from_daily_metrics() -> set[tuple]:
    with connection.cursor() as cur:
        cur.execute("""
            SELECT DISTINCT ON (customer_id, date_trunc('month', date))
                   customer_id, date_trunc('month', date)::date, date, assets,
                   count(*) FILTER (WHERE trade_count > 0) OVER (PARTITION BY customer_id, date_trunc('month', date))
            FROM performance_dailymetric ORDER BY customer_id, date_trunc('month', date), date DESC""")
        return {tuple(row) for row in cur.fetchall()}


def _summary() -> set[tuple]:
    return set(CustomerMonth.objects.values_list("customer_id", "month", "last_date", "assets", "trade_days"))


def test_r_sec_3_the_monthly_summary_the_load_keeps_equals_one_recomputed_from_the_daily_metrics():
    """Corrections included: a trade corrected away, month-end assets corrected, an earlier day loaded late."""
    outlet = OutletFactory()
    a, b = open_account(outlet), open_account(outlet)
    metrics([("2025-03-31", a, "500.00", 0, "0"), ("2025-03-10", a, "400.00", 2, "0"),
             ("2025-03-31", b, "800.00", 1, "0")])
    metrics([("2025-03-10", a, "400.00", 0, "0"), ("2025-03-31", b, "1200.00", 3, "0")])   # corrections
    metrics([("2025-03-05", b, "50.00", 4, "0"), ("2025-04-30", a, "10.00", 1, "0")])      # earlier day, new month
    assert _summary() == _summary_from_daily_metrics()
    cm = CustomerMonth.objects.get(customer=customer_of(a), month=D(2025, 3, 1))
    assert (cm.last_date, cm.assets, cm.trade_days) == (D(2025, 3, 31), Decimal("500.00"), 0)
    cm = CustomerMonth.objects.get(customer=customer_of(b), month=D(2025, 3, 1))
    assert (cm.last_date, cm.assets, cm.trade_days) == (D(2025, 3, 31), Decimal("1200.00"), 2)


class _Rollback(Exception):
    pass


def _histories(n_customers: int, rng: random.Random):
    """Per reported day, the day's metrics file; some days get a correction file later (on the day given)."""
    outlet = OutletFactory()
    ids = [open_account(outlet, id_number=make_id_number(seq=900 + i)) for i in range(n_customers)]
    files: dict[D, list[tuple]] = {}
    corrections: dict[D, list[tuple]] = {}
    for month in _months():
        for day in _reported_days(month):
            rows = []
            for i, idn in enumerate(ids):
                if i % 5 == 4 and month.month == 8 and day == _reported_days(month)[-1]:
                    continue  # no month-end snapshot in August
                quiet = i % 3 != 0 or rng.random() < 0.9
                assets = Decimal(rng.choice(["300.00", "999.99"])) if quiet else Decimal("1000.00")
                trades = 0 if quiet or rng.random() < 0.5 else 1
                rows.append((day.isoformat(), idn, str(assets), trades, "0"))
                if rng.random() < 0.04:  # a correction a few days later, either way
                    fixed = "1500.00" if assets < 1000 else "200.00"
                    corrections.setdefault(day + dt.timedelta(days=rng.choice([1, 12])), []).append(
                        (day.isoformat(), idn, fixed, 1 - trades if rng.random() < 0.5 else trades, "0"))
            files[day] = rows
    return outlet, ids, files, corrections


def _run(ids: list[str], files, corrections, *, recompute: bool, outlet) -> list:
    """Night by night from Jan 2025 to Feb 2026 (every night that has a file or an event, and the first two of
    each month): the day's files, then the classification twice (a re-run)."""
    seen = []
    customer = {customer_of(idn).pk: k for k, idn in enumerate(ids)}
    events = {D(2025, 11, 3), D(2026, 1, 12)}
    firsts = {m + dt.timedelta(days=k) for m in _months() for k in (0, 1)}
    nights = sorted(set(files) | set(corrections) | events | firsts)
    for day in nights:
        if day in files:
            metrics(files[day])
        if day in corrections:
            metrics(corrections[day])
        if day == D(2025, 11, 3):
            event(outlet, ids[1], "cancel_designation", "2025-11-03 10:00")   # lost comes first
        if day == D(2026, 1, 12):
            event(outlet, ids[1], "designate", "2026-01-12 10:00")           # back: silent again
        for _twice in range(2):
            counts = customers_classify(business_date=day, recompute_silent=recompute)
            seen.append((day, counts.get("silent", 0), counts.get("lost", 0)))
    classes = sorted((customer[c], kind, since, detected, ended) for c, kind, since, detected, ended in
                     CustomerClass.objects.values_list("customer_id", "kind", "since", "detected_on", "ended_on"))
    return [seen, classes]


def test_r_sec_3_day_by_day_nights_and_re_runs_classify_as_the_full_judgement_from_daily_metrics():
    rng = random.Random(18)
    outlet, ids, files, corrections = _histories(15, rng)
    try:
        with transaction.atomic():
            full = _run(ids, files, corrections, recompute=True, outlet=outlet)
            raise _Rollback
    except _Rollback:
        pass
    incremental = _run(ids, files, corrections, recompute=False, outlet=outlet)
    assert incremental == full
    assert any(kind == "silent" for _c, kind, *_rest in incremental[1])
    assert any(kind == "silent" and ended for _c, kind, _s, _d, ended in incremental[1])  # a correction ends one
    assert _summary() == _summary_from_daily_metrics()


def test_r_sec_3_silence_is_judged_once_per_new_month_end_and_again_after_a_correction_inside_the_window():
    outlet = OutletFactory()
    idn = open_account(outlet)
    for month in _months()[:13]:
        metrics([(_reported_days(month)[-1].isoformat(), idn, "500.00", 0, "0")])
    judged = [customers_classify(business_date=D(2026, 1, day))["silent_rejudged"] for day in (1, 2, 3)]
    assert judged == [1, 0, 0]
    assert SilentJudgement.objects.get().customers == 1
    metrics([("2025-06-30", idn, "2000.00", 0, "0")])      # a correction inside the window drops the judgement
    assert not SilentJudgement.objects.exists()
    counts = customers_classify(business_date=D(2026, 1, 4))
    assert (counts["silent_rejudged"], counts.get("silent", 0), counts["ended_silent"]) == (1, 0, 1)
