"""The demo data set moved to the day it is loaded, and its month of metrics (`manage.py load_demo`).

fixtures/demo/ holds §12 files with fixed dates (September to November 2026, the last nightly run on
Tuesday 2026-11-24). Loaded as they are, a later demo shows every callback overdue and every
reservation expired. So every date in them is moved by whole weeks (weekdays, and so the working-day
rules, stay as the generator meant them) to put that last run within the week before the day of
loading; the nights after it up to yesterday are then run too. The shift chosen at the first load is
read back from the loaded file names, so a later load of the same database adds nothing new but the
nights and metrics since.

The metrics feed is written here, not stored: a month of working days up to yesterday, for every
customer brought in by a reservation, with figures drawn from a seed of the customer and the day
(the same file on the same day, so a re-run is a no-op).
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import random
import re
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path

from common.spreadsheets import csv_writer

ORIGINAL_FINAL_NIGHTLY = dt.date(2026, 11, 24)
ORIGINAL_START = dt.date(2026, 1, 1)  # post designations are valid from here
METRIC_DAYS = 31
_DATE = re.compile(r"(?<![0-9])(\d{4})-(\d{2})-(\d{2})(?![0-9])")
_EVENTS_FILE = re.compile(r"account_events_(\d{4}-\d{2}-\d{2})\.csv$")
METRIC_COLUMNS = ["date", "id_number", "assets", "net_commission", "turnover", "trade_count", "transfer_in"]


def shift_for(today: dt.date) -> dt.timedelta:
    """Whole weeks that put the fixtures' last nightly run within the seven days before `today`."""
    weeks = ((today - dt.timedelta(days=1)) - ORIGINAL_FINAL_NIGHTLY).days // 7
    return dt.timedelta(weeks=weeks)


def shift_from_loaded(original_first_events: dt.date, loaded_names: Iterable[str]) -> dt.timedelta | None:
    """The shift of an earlier load: its first account-events file's date against the fixtures' first."""
    days = sorted(dt.date.fromisoformat(m.group(1)) for name in loaded_names if (m := _EVENTS_FILE.search(name)))
    return (days[0] - original_first_events) if days else None


def event_files(folder: Path) -> list[tuple[dt.date, Path]]:
    return sorted((dt.date.fromisoformat(m.group(1)), p) for p in folder.glob("account_events_*.csv")
                  if (m := _EVENTS_FILE.search(p.name)))


def shift_text(text: str, shift: dt.timedelta) -> str:
    """Every YYYY-MM-DD in the text (dates and the date part of ISO times) moved by `shift`."""
    if not shift:
        return text

    def move(match: re.Match) -> str:
        return (dt.date(int(match.group(1)), int(match.group(2)), int(match.group(3))) + shift).isoformat()

    return _DATE.sub(move, text)


def shifted_file(path: Path, shift: dt.timedelta) -> tuple[bytes, str]:
    """(content, file name) of a fixture file with its dates moved."""
    return (shift_text(path.read_text(encoding="utf-8"), shift).encode("utf-8"), shift_text(path.name, shift))


def _read(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8"))))


def metrics_csv(*, reservations: bytes, events: list[bytes], last_day: dt.date,
                is_workday: Callable[[dt.date], bool]) -> bytes:
    """The metrics feed (§12) for the month up to `last_day`: each working day from a customer's opening on.

    Only customers who came through a reservation and opened an account are in it: their figures are the
    ones credited to staff (R-PERF-1), and a line for an unknown customer would be refused.
    """
    reserved = {row["id_number"] for row in _read(reservations)}
    opened: dict[str, dt.date] = {}
    for content in events:
        for row in _read(content):
            if row["kind"] == "open" and row["id_number"] in reserved:
                day = dt.date.fromisoformat(row["event_time"][:10])
                opened[row["id_number"]] = min(day, opened.get(row["id_number"], day))
    days = [d for d in (last_day - dt.timedelta(days=n) for n in range(METRIC_DAYS - 1, -1, -1)) if is_workday(d)]
    out = io.StringIO()
    writer = csv_writer(out, lineterminator="\n")  # numbers and ID numbers pass unchanged
    writer.writerow(METRIC_COLUMNS)
    for id_number in sorted(opened):
        base = random.Random(zlib.crc32(id_number.encode())).choice([3, 8, 15, 30, 60, 120, 250]) * 10_000
        for day in days:
            if day < opened[id_number]:
                continue
            rng = random.Random(zlib.crc32(f"{id_number}:{day.isoformat()}".encode()))
            trades = rng.choice([0, 0, 0, 1, 1, 2, 3, 5, 8])
            turnover = trades * rng.randint(5_000, 60_000) + rng.randint(0, 99) / 100
            commission = round(turnover * 0.00025 - (rng.randint(0, 300) / 100 if trades else 0), 2)
            transfer = rng.choice([0] * 12 + [rng.randint(1, 20) * 10_000])
            assets = round(base * (1 + (rng.random() - 0.5) / 10) + transfer, 2)
            writer.writerow([day.isoformat(), id_number, f"{assets:.2f}", f"{commission:.2f}", f"{turnover:.2f}",
                             trades, f"{transfer:.2f}"])
    return out.getvalue().encode("utf-8")
