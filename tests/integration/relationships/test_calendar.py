"""R-CAL-1: HQ's working-day calendar for the years chinesecalendar does not know, its warnings and its marks."""
from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.utils import timezone, translation

from approvals.models import ApprovalCase
from permissions.services import branch_admin_assign
from relationships.models import AuditEntry, CalendarDay, CalendarYear
from relationships.workdays import (
    is_workday,
    late_registration_deadline,
    late_window,
    package_years,
    unknown_years_within,
)
from reservations.exchange.registry import load_feed
from reservations.models import Reservation
from tests.support.factories import HQFactory, RoleFactory, UserFactory, make_id_number
from tests.support.helpers import at, csv_bytes, event_row, nightly, record_events, reserve

pytestmark = pytest.mark.django_db

# Opened Wednesday 2026-12-30: counted Monday–Friday, the 7 working days are Dec 31, Jan 1, 4, 5, 6, 7, 8.
OPENED = dt.date(2026, 12, 30)
CALENDAR_2027 = [["2027-01-01", "holiday"], ["2027-01-02", "holiday"], ["2027-01-03", "holiday"],
                 ["2027-02-06", "holiday"], ["2027-02-07", "workday"]]


def load_calendar(rows, filename="calendar-2027.csv"):
    return load_feed(actor="test", kind="calendar", content=csv_bytes(["date", "kind"], rows), filename=filename)


def _hq_user():
    user = RoleFactory(kind="hq", organisation=HQFactory()).user
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    return user


def test_r_cal_1_the_package_knows_2004_to_2026_and_2027_counts_monday_to_friday_marked_unknown():
    assert 2026 in package_years() and 2027 not in package_years()
    window = late_window(OPENED)
    assert window.day == dt.date(2027, 1, 8) and window.unknown_years == (2027,)
    assert late_window(dt.date(2026, 9, 30)).unknown_years == ()  # inside the package's years


def test_r_cal_1_a_2027_holiday_loaded_by_the_feed_moves_a_late_window():
    result = load_calendar(CALENDAR_2027)
    assert (result.rows_loaded, result.errors) == (5, [])
    assert CalendarYear.objects.filter(year=2027).exists()
    window = late_window(OPENED)
    assert window.day == dt.date(2027, 1, 11) and not window.calendar_unknown  # Jan 1 is off now
    assert not is_workday(dt.date(2027, 2, 6)) and is_workday(dt.date(2027, 2, 7))  # Saturday off, Sunday worked


def test_r_cal_1_in_the_nightly_matching_the_loaded_holiday_turns_a_refusal_into_a_late_case(staff, outlet):
    idn = make_id_number(seq=701)
    record_events([event_row(when=at("2026-12-30 10:00"), id_number=idn, name="张三", outlet=outlet)])
    late = reserve(staff, id_number=idn, when=at("2027-01-11 09:00"))  # after Jan 8, not after Jan 11
    load_calendar(CALENDAR_2027)
    nightly("2027-01-11")
    late.refresh_from_db()
    assert late.status == "pending_approval" and late.calendar_unknown_on is None
    assert ApprovalCase.objects.get(reservations=late).reason == "late"


def test_r_cal_1_without_the_year_the_late_window_counts_monday_to_friday_and_the_night_report_lists_it(
        client, staff, outlet):
    idn, idn2 = make_id_number(seq=702), make_id_number(seq=703)
    record_events([event_row(when=at("2026-12-30 10:00"), id_number=idn, name="张三", outlet=outlet),
                 event_row(when=at("2026-12-30 10:00"), id_number=idn2, name="张三", outlet=outlet)])
    refused = reserve(staff, id_number=idn, when=at("2027-01-11 09:00"))
    in_time = reserve(staff, id_number=idn2, when=at("2027-01-07 09:00"))
    runs = nightly("2027-01-11")
    refused.refresh_from_db()
    in_time.refresh_from_db()
    assert refused.status == "refused" and refused.calendar_unknown_on == dt.date(2027, 1, 11)
    assert in_time.status == "pending_approval" and in_time.calendar_unknown_on == dt.date(2027, 1, 11)
    case = ApprovalCase.objects.get(reservations=in_time)
    assert "工作日日历尚未导入" in case.explanation and "2027" in case.explanation
    assert next(r for r in runs if r.stage == "match").counts["calendar_unknown"] == 2

    client.force_login(_hq_user())
    page = client.get("/reservations/runs/2027-01-11/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Decided with an unknown calendar year" in page
    assert f"/reservations/{refused.pk}/" in page and f"/reservations/{in_time.pk}/" in page
    assert "decided with an unknown calendar year" in page  # the match stage's count
    zh = client.get("/reservations/runs/2027-01-11/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "日历" in zh and "Decided with an unknown calendar year" not in zh
    lines = client.get("/reservations/runs/2027-01-11/outcomes.csv", HTTP_ACCEPT_LANGUAGE="en")
    text = lines.getvalue().decode("utf-8-sig")
    assert "calendar year not loaded (counted Monday to Friday)" in text.splitlines()[0]
    assert sum(1 for line in text.splitlines()[1:] if ",yes," in line) == 2


def test_r_cal_1_a_late_case_opened_at_registration_is_marked_and_a_refusal_says_the_count_is_provisional(
        staff, outlet):
    idn, idn2 = make_id_number(seq=704), make_id_number(seq=705)
    record_events([event_row(when=at("2026-12-30 10:00"), id_number=idn, name="张三", outlet=outlet),
                 event_row(when=at("2026-12-30 10:00"), id_number=idn2, name="张三", outlet=outlet)])
    nightly("2026-12-30")
    r = reserve(staff, id_number=idn, when=at("2027-01-05 09:00"))
    assert r.status == "pending_approval" and r.calendar_unknown_on == dt.date(2027, 1, 5)
    assert "工作日日历尚未导入" in ApprovalCase.objects.get(pk=r.approval_case_id).explanation
    with pytest.raises(ValidationError) as err:
        reserve(staff, id_number=idn2, when=at("2027-01-11 09:00"))
    assert "2027-01-08" in str(err.value) and "工作日日历尚未导入" in str(err.value)
    assert not Reservation.objects.filter(pk__gt=r.pk).exists()


def test_r_cal_1_one_entered_holiday_does_not_make_a_year_known_but_wins_for_its_day():
    CalendarDay.objects.create(date=dt.date(2027, 1, 1), is_workday=False)
    assert not is_workday(dt.date(2027, 1, 1))
    assert late_window(OPENED).unknown_years == (2027,)
    assert late_registration_deadline(OPENED) == dt.date(2027, 1, 11)


def test_r_cal_1_hq_entries_win_over_the_package_for_any_date():
    assert is_workday(dt.date(2026, 3, 3))
    CalendarDay.objects.create(date=dt.date(2026, 3, 3), is_workday=False, note="typhoon")
    assert not is_workday(dt.date(2026, 3, 3))


def test_r_cal_1_warning_starts_60_days_before_the_first_unknown_year():
    assert unknown_years_within(60, today=dt.date(2026, 11, 1)) == []
    assert unknown_years_within(60, today=dt.date(2026, 11, 2)) == [2027]
    assert unknown_years_within(60, today=dt.date(2027, 3, 1)) == [2027]  # inside the year, still unknown
    CalendarYear.objects.create(year=2027)
    assert unknown_years_within(60, today=dt.date(2026, 12, 1)) == []
    assert unknown_years_within(400, today=dt.date(2026, 12, 1)) == [2028]


def test_r_cal_1_feed_refuses_bad_lines_with_their_number_and_keeps_the_good_ones():
    with translation.override("en"):
        result = load_calendar([["2027-01-01", "holiday"], ["2027-02-30", "holiday"], ["2027-01-01", "workday"],
                                ["2027-01-01", "holiday"], ["2028-01-01", "day off"], ["2028-01-02", "holiday"],
                                ["27-1-3", "holiday"]])
    lines = dict(result.errors)
    assert set(lines) == {3, 4, 6, 8}
    assert "2027-02-30" in lines[3] and "line 2" in lines[4] and "day off" in lines[6] and "27-1-3" in lines[8]
    assert (result.rows_loaded, result.rows_skipped) == (2, 1)  # the repeated identical line is skipped
    assert set(CalendarDay.objects.values_list("date", flat=True)) == {dt.date(2027, 1, 1), dt.date(2028, 1, 2)}
    # A year with a refused line stays unknown until a file loads every line of it.
    assert not CalendarYear.objects.filter(year__in=[2027, 2028]).exists()
    assert "stays unknown" in lines[3]
    again = load_calendar([["2027-01-01", "holiday"], ["2027-02-28", "holiday"]], filename="fixed.csv")
    assert (again.rows_loaded, again.rows_skipped, again.errors) == (1, 1, [])
    assert list(CalendarYear.objects.values_list("year", flat=True)) == [2027]
    assert AuditEntry.objects.filter(action="calendar_day.load").count() == 3
    assert AuditEntry.objects.filter(action="calendar_year.load", after__year=2027).count() == 1


def test_r_cal_1_load_feed_calendar_exits_0_1_2_as_section_12_says(tmp_path, capsys):
    good = tmp_path / "calendar.csv"
    good.write_bytes(csv_bytes(["date", "kind"], CALENDAR_2027))
    call_command("load_feed", "calendar", str(good))  # exit 0
    capsys.readouterr()
    with translation.override("en"):
        call_command("load_feed", "calendar", str(good))  # the same file twice: a no-op, exit 0
    assert "already loaded" in capsys.readouterr().out
    assert CalendarDay.objects.count() == 5

    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes(["date", "kind"], [["2028-01-01", "holiday"], ["2028-13-01", "holiday"]]))
    with pytest.raises(SystemExit) as exit_:
        call_command("load_feed", "calendar", str(bad))
    assert exit_.value.code == 1
    assert f"{bad}:3:" in capsys.readouterr().err
    assert CalendarDay.objects.filter(date=dt.date(2028, 1, 1)).exists()  # the good line is kept

    for unreadable in (tmp_path / "missing.csv", tmp_path / "utf16.csv", tmp_path / "columns.csv"):
        if unreadable.name == "utf16.csv":
            unreadable.write_bytes("date,kind\n2029-01-01,假日\n".encode("utf-16"))
        elif unreadable.name == "columns.csv":
            unreadable.write_bytes(b"day,type\n2029-01-01,holiday\n")
        with pytest.raises(CommandError) as exc:
            call_command("load_feed", "calendar", str(unreadable))
        assert exc.value.returncode == 2


def test_r_cal_1_hq_home_page_warns_in_chinese_first_and_others_see_nothing(client, monkeypatch, staff):
    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: dt.date(2026, 12, 1))
    client.force_login(_hq_user())
    zh = client.get("/").content.decode()
    assert "2027" in zh and "2027-01-01" in zh and "周一至周五" in zh
    en = client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "The working-day calendar of 2027 is not loaded yet" in en
    client.force_login(staff.user)
    assert "2027-01-01" not in client.get("/").content.decode()
    CalendarYear.objects.create(year=2027)
    client.force_login(_hq_user())
    assert "2027-01-01" not in client.get("/").content.decode()


def test_r_cal_1_hq_enters_days_and_years_in_the_admin_with_an_audit_row(client):
    hq = _hq_user()
    client.force_login(hq)
    response = client.post("/admin/relationships/calendarday/add/",
                           {"date": "2027-01-01", "is_workday": "", "note": "元旦"})
    assert response.status_code == 302, response.content.decode()[:2000]
    day = CalendarDay.objects.get(date=dt.date(2027, 1, 1))
    assert not day.is_workday
    assert AuditEntry.objects.filter(action="calendar_day.save", target_id=str(day.pk), actor=hq).exists()
    response = client.post("/admin/relationships/calendaryear/add/", {"year": "2027", "note": "国务院办公厅通知"})
    assert response.status_code == 302
    assert unknown_years_within(60, today=dt.date(2026, 12, 1)) == []
    assert AuditEntry.objects.filter(action="calendar_year.save", actor=hq).exists()
    listing = client.get("/admin/relationships/calendaryear/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "2004–2026" in listing
    response = client.post(f"/admin/relationships/calendarday/{day.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302 and not CalendarDay.objects.exists()
    assert AuditEntry.objects.filter(action="calendar_day.delete", target_id=str(day.pk)).exists()


def test_r_cal_1_a_branch_permission_admin_cannot_see_or_edit_the_calendar(client):
    hq = _hq_user()
    admin_user = UserFactory(is_staff=True)
    branch_admin_assign(actor=hq, user=admin_user, branch=RoleFactory(kind="branch").organisation, reason="test")
    client.force_login(admin_user)
    assert client.get("/admin/").status_code == 200
    assert "calendarday" not in client.get("/admin/").content.decode()
    assert client.get("/admin/relationships/calendarday/").status_code == 403
    assert client.post("/admin/relationships/calendarday/add/",
                       {"date": "2027-01-01", "is_workday": "", "note": ""}).status_code == 403
    assert not CalendarDay.objects.exists()


def test_r_cal_1_callbacks_whose_due_date_ran_into_an_unknown_year_are_counted_on_the_night_report(staff, outlet):
    idn = make_id_number(seq=707)
    reserve(staff, id_number=idn, when=at("2026-12-27 09:00"))
    record_events([event_row(when=at("2026-12-28 10:00"), id_number=idn, name="张三", outlet=outlet)])
    runs = {r.stage: r for r in nightly("2026-12-28")}
    assert runs["callbacks"].counts == {"callbacks": 1, "callbacks_calendar_unknown": 1}
    load_calendar(CALENDAR_2027)
    reserve(staff, id_number=make_id_number(seq=708), when=at("2026-12-28 09:00"))
    record_events([event_row(when=at("2026-12-29 10:00"), id_number=make_id_number(seq=708), name="张三",
                           outlet=outlet)])
    assert {r.stage: r for r in nightly("2026-12-29")}["callbacks"].counts == {"callbacks": 1}
