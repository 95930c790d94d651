"""R-MATCH-4 calendar: mainland working days with holidays and adjusted weekends."""
import datetime as dt

import pytest

from relationships.models import CalendarDay
from relationships.workdays import is_workday, late_registration_deadline

pytestmark = pytest.mark.django_db


def test_national_day_is_off_and_adjusted_saturday_is_worked():
    assert not is_workday(dt.date(2026, 10, 1))
    assert is_workday(dt.date(2026, 10, 10))  # Saturday 调休


def test_deadline_counts_seven_working_days_across_spring_festival():
    # 2026-02-12: Fri 13, Sat 14 (adjusted), then the holiday until 23 Feb, then 24–28 (28 is adjusted).
    assert late_registration_deadline(dt.date(2026, 2, 12)) == dt.date(2026, 2, 28)


def test_years_beyond_the_package_fall_back_to_weekdays_and_accept_overrides():
    assert is_workday(dt.date(2027, 3, 3)) and not is_workday(dt.date(2027, 3, 6))
    CalendarDay.objects.create(date=dt.date(2027, 3, 3), is_workday=False, note="holiday")
    assert not is_workday(dt.date(2027, 3, 3))
