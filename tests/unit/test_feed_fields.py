"""§12 field checks that need no database: real times with offsets, real days, the horizon, refused characters."""
from __future__ import annotations

import datetime as dt

import pytest

from common.feedlines import LineError, check_horizon, parse_day, parse_time, refused_character


def test_s12_an_iso_time_with_its_offset_is_accepted():
    assert parse_time("2026-03-02T09:30:00+08:00", "opened_at") == dt.datetime(
        2026, 3, 2, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))


@pytest.mark.parametrize("value", ["2026-02-30T09:00:00+08:00", "2026-03-02T25:00:00+08:00",
                                   "2026-03-02T09:00:00+25:00"])
def test_s12_an_impossible_time_is_a_line_error_naming_the_column(value):
    with pytest.raises(LineError, match="opened_at"):
        parse_time(value, "opened_at")


@pytest.mark.parametrize("value", ["2026-03-02T09:00:00", "yesterday", ""])
def test_s12_a_time_without_offset_or_not_iso_is_refused(value):
    with pytest.raises(LineError):
        parse_time(value, "opened_at")


def test_s12_an_offset_beyond_fourteen_hours_is_refused():
    with pytest.raises(LineError):
        parse_time("2026-03-02T09:00:00+14:30", "opened_at")


def test_s12_a_real_day_is_accepted_and_an_impossible_or_loose_one_refused():
    assert parse_day("2026-03-02", "effective_from") == dt.date(2026, 3, 2)
    for value in ("2026-02-30", "2026-3-2", "20260302"):
        with pytest.raises(LineError, match="effective_from"):
            parse_day(value, "effective_from")


def test_s12_a_day_beyond_the_horizon_is_refused():
    with pytest.raises(LineError):
        parse_day("9999-12-31", "effective_from")
    with pytest.raises(LineError):
        check_horizon(dt.date(1989, 12, 31), "effective_from")


@pytest.mark.parametrize("text", ["E10\x0001", "E10\u202e01", "E10\x0701"])
def test_s12_nul_control_and_bidi_characters_are_refused(text):
    assert refused_character(text) is not None


def test_s12_ordinary_chinese_and_latin_text_has_no_refused_character():
    assert refused_character("张三丰 Zhang-San 10086") is None
