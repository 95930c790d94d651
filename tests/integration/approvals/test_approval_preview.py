"""The final approver's preview (issue 13): what each holder would be credited, by the nightly crediting itself."""
from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from approvals.preview import case_preview
from approvals.services import case_act
from performance.models import Grain, StaffPerformance
from performance.preview import preview_periods
from performance.selectors import money
from performance.services import compute_period, month_start
from tests.integration.approvals.test_views_case_decision import rows, three_level_case
from tests.integration.performance.test_performance import metrics
from tests.support.approvals import make_branch, today
from tests.support.factories import StaffFactory, make_id_number

pytestmark = pytest.mark.django_db


def _months():
    """The month before last (the opening month) and last month (the last full month), relative to today."""
    last_full = month_start(month_start(today()) - dt.timedelta(days=1))
    opening_month = month_start(last_full - dt.timedelta(days=1))
    return opening_month, last_full


def _load_metrics(case_customer_idn, opening, last_full):
    days = [opening - dt.timedelta(days=2), opening, opening + dt.timedelta(days=5),
            last_full + dt.timedelta(days=3), last_full + dt.timedelta(days=20)]
    metrics(*[(d, case_customer_idn, f"{100000 + i * 3333.33:.2f}", f"{12.35 + i:.2f}", f"{5000.05 * (i + 1):.2f}",
               i + 1) for i, d in enumerate(days)])


def test_the_preview_equals_what_the_nightly_job_credits_after_approval(client):
    """R-PERF-1/3: the preview of the edited holders, for the opening month so far and the last full month,
    equals to the cent the month rows the nightly computation writes once the case is approved with them."""
    b = make_branch()
    third = StaffFactory(outlet=b.outlet)
    opening_month, last_full = _months()
    opening = opening_month + dt.timedelta(days=13)
    idn = make_id_number()
    case, holders = three_level_case(b, shares=[{"staff_id": b.staff.pk, "ratio": "0.6000"},
                                                {"staff_id": b.colleague.pk, "ratio": "0.4000"}],
                                     opening_date=opening, id_number=idn)
    _load_metrics(idn, opening, last_full)
    edited = [{"staff_id": b.colleague.pk, "ratio": "0.3333"}, {"staff_id": third.pk, "ratio": "0.6667"}]
    staff = {s.pk: s for s in (b.staff, b.colleague, third)}
    preview = case_preview(case, edited, staff)
    assert [t["start"] for t in preview["tables"]] == [opening_month, last_full]
    shown = {(t["start"], r.staff.pk): r for t in preview["tables"] for r in t["rows"]}
    assert shown[(opening_month, b.staff.pk)].edited is None          # dropped by the edit
    assert shown[(opening_month, third.pk)].current is None           # added by the edit
    assert shown[(opening_month, b.staff.pk)].current.assets > 0

    # The page shows the same figures to the final approver, live, for the rows as typed.
    for user in holders[:2]:
        case_act(actor=user, case_id=case.pk, decision="approve")
    client.force_login(holders[2])
    fragment = client.post(reverse("approvals:holders_summary", args=[case.pk]), rows(
        "holders", [(b.colleague, "0.3333"), (third, "0.6667")])).content.decode()
    figure = shown[(last_full, third.pk)].edited
    assert f"{figure.assets}" in fragment and f"{figure.turnover}" in fragment

    case_act(actor=holders[2], case_id=case.pk, decision="approve", shares=edited)
    for month in (opening_month, last_full):
        compute_period(period=month)
    compared = 0
    for (month, staff_id), row in shown.items():
        if row.edited is None:
            continue
        compared += 1
        assert row.edited.assets > 0 and row.edited.turnover > 0
        night = StaffPerformance.objects.get(grain=Grain.MONTH, period=month, staff_id=staff_id, type_id="NEW_DEV")
        assert (money(night.assets), money(night.net_commission), money(night.turnover)) == (
            row.edited.assets, row.edited.net_commission, row.edited.turnover)
    assert compared == 4   # two holders × two months
    # Metrics before the opening date are credited to no one, in the preview as at night.
    before = StaffPerformance.objects.filter(grain=Grain.DAY, period__lt=opening).count()
    assert before == 0


def test_preview_periods_are_the_opening_month_from_its_date_and_the_last_full_month():
    periods = preview_periods(dt.date(2026, 10, 14), dt.date(2026, 12, 2))
    assert [(p.kind, p.start, p.holds_from) for p in periods] == [
        ("opening", dt.date(2026, 10, 1), dt.date(2026, 10, 14)),
        ("last_full", dt.date(2026, 11, 1), dt.date(2026, 11, 1))]
