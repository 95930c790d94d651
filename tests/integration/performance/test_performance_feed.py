"""§12 metrics feed and performance export: COPY into staging, set-based validation, upsert; the CSV contract."""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from performance.models import DailyMetric, MetricDate
from performance.services import compute_period
from performance.tasks import compute_period_task
from relationships.models import PiiAccess, RelationshipType
from relationships.services import Share, customer_get_or_create, relationship_create
from reservations.exchange.registry import load_feed
from reservations.models import FeedFile
from tests.support.factories import OutletFactory, StaffFactory, make_id_number
from tests.support.helpers import csv_bytes

pytestmark = pytest.mark.django_db

HEADER = ["date", "id_number", "assets", "net_commission", "turnover", "trade_count", "transfer_in"]


def test_metrics_feed_loads_good_lines_and_reports_bad_ones_by_line_number(tmp_path, capsys):
    known = make_id_number()
    other = make_id_number()
    customer = customer_get_or_create(id_number=known, name="甲")
    customer_get_or_create(id_number=other, name="乙")
    legacy15 = known[:6] + known[8:17]                              # the 15-digit form of the same number
    content = csv_bytes(HEADER + ["extra"], [
        ["2026-03-02", known, "1000.50", "12.34", "5000", "3", "0", "x"],   # line 2
        ["2026-03-02", make_id_number(), "1", "0", "0", "0", "0", ""],      # 3: no such customer
        ["2026-03-02", "12345", "1", "0", "0", "0", "0", ""],               # 4: invalid ID number
        ["2026-02-30", known, "1", "0", "0", "0", "0", ""],                 # 5: no such day
        ["03/02/2026", known, "1", "0", "0", "0", "0", ""],                 # 6: not YYYY-MM-DD
        ["2026-03-03", known, "12a", "0", "0", "0", "0", ""],               # 7: assets not a number
        ["2026-03-03", known, "1", "1.234", "0", "0", "0", ""],             # 8: three decimals
        ["2026-03-03", known, "1", "0", "0", "2.5", "0", ""],               # 9: trade count not whole
        ["2026-03-03", known, "", "0", "0", "0", "0", ""],                  # 10: assets missing
        ["2026-03-03", other, "20.00", "", "", "", "", ""],                 # 11: empty optional columns → 0
        ["2026-03-02", legacy15, "999", "0", "0", "0", "0", ""],            # 12: same customer and day as line 2
        ["2026-03-04", known.lower(), "7.5", "+1", "0", "0", "1000", ""],   # 13: fine
    ])
    path = tmp_path / "metrics.csv"
    path.write_bytes(content)
    with pytest.raises(SystemExit) as refused:  # §12: exit status 1, some lines refused, the good ones kept
        call_command("load_feed", "metrics", str(path))
    assert refused.value.code == 1
    err = capsys.readouterr()
    lines = {int(line.split(":")[1]) for line in err.err.splitlines()}
    assert lines == {3, 4, 5, 6, 7, 8, 9, 10, 12}
    assert re.search(r"metrics\.csv:12: .*(?<!\d)2(?!\d)", err.err)           # names the line it repeats

    first = DailyMetric.objects.get(customer=customer, date=dt.date(2026, 3, 2))
    assert (first.assets, first.net_commission, first.turnover, first.trade_count) == (
        Decimal("1000.50"), Decimal("12.34"), Decimal("5000.00"), 3)
    assert DailyMetric.objects.get(customer__name="乙").net_commission == 0
    assert DailyMetric.objects.get(customer=customer, date=dt.date(2026, 3, 4)).transfer_in == Decimal("1000")
    assert set(MetricDate.objects.values_list("date", flat=True)) == {dt.date(2026, 3, d) for d in (2, 3, 4)}
    feed = FeedFile.objects.get(kind="metrics")
    assert feed.rows_loaded == 3 and feed.rows_failed == 9

    # The same file again is a no-op; a corrected file replaces the figures of the same customer and day.
    call_command("load_feed", "metrics", str(path))
    assert FeedFile.objects.filter(kind="metrics").count() == 1
    result = load_feed(actor="test", kind="metrics", filename="fix.csv",
                       content=csv_bytes(HEADER, [["2026-03-02", known, "1100.00", "0", "0", "0", "0"]]))
    assert result.rows_loaded == 1 and not result.errors
    assert DailyMetric.objects.get(customer=customer, date=dt.date(2026, 3, 2)).assets == Decimal("1100.00")
    assert DailyMetric.objects.count() == 3


def test_metrics_feed_needs_its_columns():
    with pytest.raises(ValueError):
        load_feed(actor="test", kind="metrics", content=csv_bytes(["date", "id_number"], [["2026-03-02", "x"]]))


def _month_of_data():
    outlet = OutletFactory()
    a, b = StaffFactory(outlet=outlet, staff_no="P001"), StaffFactory(outlet=outlet, staff_no="P002")
    idn = make_id_number()
    cust = customer_get_or_create(id_number=idn, name="甲")
    relationship_create(actor="test", customer=cust, rel_type=RelationshipType.objects.get(pk="NEW_DEV"),
                        shares=[Share(a, Decimal("0.5")), Share(b, Decimal("0.3"))],
                        effective_from=dt.date(2026, 3, 2), source="test")
    load_feed(actor="test", kind="metrics", content=csv_bytes(HEADER, [
        ["2026-03-02", idn, "100.01", "0.03", "10", "1", "0"],
        ["2026-03-03", idn, "200.00", "0.02", "0", "0", "0"],
    ]))
    compute_period(period=dt.date(2026, 3, 1))


def test_export_performance_command_writes_the_section12_columns(tmp_path):
    """§12: period,staff_no,relationship_type,assets,avg_daily_assets,net_commission,turnover,new_customers."""
    _month_of_data()
    path = tmp_path / "performance.csv"
    call_command("export", "performance", str(path), "--period", "2026-03")
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert rows == [
        ["period", "staff_no", "relationship_type", "assets", "avg_daily_assets", "net_commission", "turnover",
         "new_customers"],
        # P001: assets 0.5 × 200 = 100.00; average over the calendar days 1–3 March (R-PERF-2; the 1st, a Sunday
        # before the relationship, holds nothing): (50.005 + 100) / 3 = 50.0016… → 50.00; 0.5 × 0.05 = 0.025 → 0.03
        # new_customers is credited by ratio too, so it is fractional: two decimals, half-up, as on the page (R-PERF-4)
        ["2026-03", "P001", "NEW_DEV", "100.00", "50.00", "0.03", "5.00", "0.50"],
        # P002: 0.3 × 200 = 60.00; (30.003 + 60) / 3 = 30.001 → 30.00; 0.3 × 0.05 = 0.015 → 0.02
        ["2026-03", "P002", "NEW_DEV", "60.00", "30.00", "0.02", "3.00", "0.30"],
    ]
    assert PiiAccess.objects.filter(purpose="export performance", detail="2026-03", rows=2).exists()
    call_command("export", "performance", str(path), "--period", "2026-04")
    assert path.read_text(encoding="utf-8").count("\n") == 1           # header only
    with pytest.raises(CommandError):
        call_command("export", "performance", str(path), "--period", "2026-13")


def test_compute_performance_command(capsys):
    _month_of_data()
    call_command("compute_performance", "--period", "2026-03")
    assert "6 rows over 2 reported days" in capsys.readouterr().out   # 2 staff × (2 days + the month)
    assert compute_period_task("2026-03") == {"rows": 6, "days": 2}   # the Celery task, run in-process
