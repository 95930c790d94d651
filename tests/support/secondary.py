"""Builders for the §7/§8/§11 tests: classified customers, metrics, pre-assignments (through the public paths)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from relationships.models import Customer, CustomerClass
from relationships.pii import pii_hash
from reservations.exchange.registry import load_feed
from reservations.secondary.services import preassignment_create, secondary_reserve
from tests.support.factories import RoleFactory, make_id_number
from tests.support.helpers import at, csv_bytes, event_row, load_events

METRIC_HEADER = ["date", "id_number", "assets", "net_commission", "turnover", "trade_count", "transfer_in"]


def customer_of(id_number: str) -> Customer:
    return Customer.objects.get(id_hash=pii_hash(id_number))


def open_account(outlet, *, id_number: str | None = None, name: str = "张三", when: str = "2024-01-02 10:00",
                 account_no: str | None = None, account_type: str = "securities") -> str:
    idn = id_number or make_id_number()
    load_events([event_row(when=at(when), id_number=idn, name=name, outlet=outlet, account_type=account_type,
                           account_no=account_no)])
    return idn


def event(outlet, id_number: str, kind: str, when: str, *, name: str = "张三", account_no: str | None = None,
          account_type: str = "securities"):
    return load_events([event_row(when=at(when), id_number=id_number, name=name, outlet=outlet, kind=kind,
                                  account_no=account_no, account_type=account_type)])


def lost_customer(outlet, *, lost_at: str = "2026-01-15 10:00", name: str = "张三") -> str:
    """A customer with an account since 2024 who cancels his Shanghai A-share designation (R-SEC-1)."""
    idn = open_account(outlet, name=name)
    event(outlet, idn, "cancel_designation", lost_at, name=name)
    return idn


def metrics(rows: list[tuple]) -> None:
    """rows: (date, id_number, assets, trade_count, transfer_in) → the `metrics` feed."""
    body = [[d, idn, str(assets), "0", "0", str(trades), str(tin)] for d, idn, assets, trades, tin in rows]
    result = load_feed(actor="test", kind="metrics", content=csv_bytes(METRIC_HEADER, body), filename="metrics.csv")
    assert not result.errors, result.errors


def month_ends(first: dt.date, count: int) -> list[dt.date]:
    days, year, month = [], first.year, first.month
    for _ in range(count):
        nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
        days.append(nxt - dt.timedelta(days=1))
        year, month = nxt.year, nxt.month
    return days


def silent_history(id_numbers: list[str], *, first_month: dt.date = dt.date(2025, 1, 1), months: int = 12,
                   assets: Decimal = Decimal("500.00"), overrides: dict | None = None) -> list[dt.date]:
    """Month-end snapshots below 1,000 yuan and no trade for `months` months (R-SEC-3); `overrides` maps
    (id_number, date) → (assets, trade_count)."""
    ends = month_ends(first_month, months)
    rows = []
    for idn in id_numbers:
        for day in ends:
            a, t = (overrides or {}).get((idn, day), (assets, 0))
            rows.append((day.isoformat(), idn, a, t, "0"))
    metrics(rows)
    return ends


def open_class(id_number: str) -> CustomerClass | None:
    return CustomerClass.objects.filter(customer=customer_of(id_number), ended_on__isnull=True).first()


def branch_user(branch, kind: str = "branch"):
    return RoleFactory(kind=kind, organisation=branch).user


def assign(actor, id_number: str, staff, when: str = "2026-01-20 09:00", **kw):
    result = preassignment_create(actor=actor, customer_ids=[customer_of(id_number).pk], staff=staff,
                                  assigned_at=at(when), **kw)
    return result


def assign_and_reserve(actor, id_number: str, staff, *, assigned: str = "2026-01-20 09:00",
                       reserved: str = "2026-01-20 10:00"):
    result = assign(actor, id_number, staff, when=assigned)
    assert result.assigned, result.refused
    return secondary_reserve(actor=staff.user, assignment_id=result.assigned[0], staff=staff, phone="13812345678",
                             registered_at=at(reserved))
