"""Small builders that drive the product through its public paths (feeds, services, the nightly run)."""
from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import re
from zoneinfo import ZoneInfo

from relationships.feeds.account_events import NewAccountEvent, account_events_record
from relationships.models import AccountEvent, Organisation
from reservations.exchange.registry import load_feed
from reservations.pipeline import run_nightly
from reservations.services import ReservationInput, reservation_register

SH = ZoneInfo("Asia/Shanghai")
ID18 = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dX](?![0-9A-Za-z])")  # a full ID number: never on a page or export
_event_ids = itertools.count(1)
_accounts = itertools.count(1)


def at(text: str) -> dt.datetime:
    """'2026-03-02 09:31' in Shanghai time."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=SH)


def csv_bytes(header: list[str], rows: list[list]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue().encode()


EVENT_HEADER = ["event_id", "event_time", "kind", "id_number", "customer_name", "account_no", "account_type",
                "outlet_code"]


def event_row(*, when: dt.datetime, id_number: str, name: str, outlet, kind: str = "open",
              account_type: str = "securities", event_id: str | None = None, account_no: str | None = None):
    return [event_id or f"EV{next(_event_ids):08d}", when.isoformat(), kind, id_number, name,
            account_no or f"A{next(_accounts):010d}", account_type, outlet.code]


def load_events(rows: list[list]):
    """The rows through the account_events feed, as a file: for tests of the feed itself (§12 lines, re-sends)."""
    return load_feed(actor="test", kind="account_events", content=csv_bytes(EVENT_HEADER, rows),
                     filename="account_events.csv")


def record_events(rows: list[list]) -> list[AccountEvent]:
    """The same rows recorded by the service the feed calls (`account_events_record`), without a file: for rule
    tests, where the events are the input and the feed is not what is tested."""
    outlets = {o.code: o.pk for o in Organisation.objects.filter(code__in={r[7] for r in rows})}
    return account_events_record(events=[NewAccountEvent(
        line=0, event_id=r[0], event_time=dt.datetime.fromisoformat(r[1]), kind=r[2], id_number=r[3],
        customer_name=r[4], account_no=r[5], account_type=r[6], outlet_id=outlets[r[7]], outlet_code=r[7])
        for r in rows])


def reserve(staff, *, id_number: str, name: str = "张三", type_code: str = "NEW_DEV", when: dt.datetime,
            participants=None, phone: str = "13812345678"):
    return reservation_register(actor=staff.user, data=ReservationInput(
        staff=staff, type_code=type_code, customer_name=name, id_number=id_number, phone=phone,
        participants=participants, registered_at=when))


def nightly(day: str):
    return run_nightly(business_date=dt.date.fromisoformat(day))


def queries_for(client, url: str, params: dict | None = None) -> int:
    """How many queries one GET costs, a streamed export read to its end included (it queries while read).
    Counted at once: the next request resets the connection's query log."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params or {})
        response.getvalue()
    assert response.status_code == 200, (url, response.status_code)
    return len(captured.captured_queries)


def totp_code(secret_b32: str, *, at_time: float | None = None, step: int = 30, digits: int = 6) -> str:
    """RFC 6238 written out here (HMAC-SHA1, dynamic truncation), so the tests check django-otp against the
    standard, not against itself."""
    import base64
    import hashlib
    import hmac
    import struct
    import time

    key = base64.b32decode(secret_b32.replace(" ", "").upper() + "=" * (-len(secret_b32.replace(" ", "")) % 8))
    counter = int((time.time() if at_time is None else at_time) // step)
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10 ** digits).zfill(digits)
