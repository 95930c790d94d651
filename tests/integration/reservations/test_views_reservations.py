"""Reservation pages through the test client: register, list, detail, withdraw, correct, run ledger."""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from relationships.models import AuditEntry
from reservations.models import BatchRun, Reservation, ReservationParticipant
from tests.support.factories import RoleFactory, StaffFactory, UserFactory, make_id_number
from tests.support.helpers import reserve

pytestmark = pytest.mark.django_db

REGISTER = reverse("reservations:create")
LIST = reverse("reservations:list")


def _form(*, id_number: str, own_ratio: str = "1", rows: list[tuple[str, str]] = (), type_code: str = "NEW_DEV",
          name: str = "张三", phone: str = "13812345678", extra: int = 3) -> dict:
    data = {"relationship_type": type_code, "customer_name": name, "id_number": id_number, "phone": phone,
            "own_ratio": own_ratio, "co-TOTAL_FORMS": str(max(extra, len(rows))), "co-INITIAL_FORMS": "0",
            "co-MIN_NUM_FORMS": "0", "co-MAX_NUM_FORMS": "1000"}
    for i in range(max(extra, len(rows))):
        staff_no, ratio = rows[i] if i < len(rows) else ("", "")
        data[f"co-{i}-staff_no"] = staff_no
        data[f"co-{i}-ratio"] = ratio
    return data


def _bad_check_digit(id_number: str) -> str:
    wrong = "0" if id_number[-1] != "0" else "1"
    return id_number[:-1] + wrong


def _error_block(html: str, field_id: str) -> str:
    """The error list rendered next to a field (its id is `<field id>_error`, referenced by aria-describedby)."""
    match = re.search(rf'<ul class="errorlist" id="{field_id}_error"[^>]*>(.*?)</ul>', html, re.S)
    return match.group(1) if match else ""


# --- registration -------------------------------------------------------------------------------------------

def test_staff_registers_reservation_through_form_and_is_redirected_to_it(staff_client, staff):
    """R-RES-1: a valid form creates the reservation (staff alone, ratio 1) and redirects to its page."""
    idn = make_id_number()
    response = staff_client.post(REGISTER, _form(id_number=idn))
    reservation = Reservation.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("reservations:detail", args=[reservation.pk])
    assert reservation.staff == staff and reservation.type_id == "NEW_DEV"
    assert reservation.id_masked == idn[:6] + "********" + idn[-4:]
    assert list(reservation.participants.values_list("staff_id", "ratio")) == [(staff.pk, 1)]
    assert AuditEntry.objects.filter(action="reservation.register", target_id=str(reservation.pk)).exists()


def test_co_developers_entered_in_formset_rows_become_participants(staff_client, staff, outlet):
    """R-RES-1, R-RES-4: own ratio plus co-developer rows form the complete participant list."""
    colleague = StaffFactory(outlet=outlet)
    response = staff_client.post(REGISTER, _form(id_number=make_id_number(), own_ratio="0.6",
                                                 rows=[(colleague.staff_no, "0.4")]))
    assert response.status_code == 302
    assert sorted(ReservationParticipant.objects.values_list("staff__staff_no", "ratio")) == sorted(
        [(staff.staff_no, Decimal("0.6")), (colleague.staff_no, Decimal("0.4"))])


def test_bad_id_check_digit_is_reported_next_to_id_field_and_nothing_saved(staff_client):
    """R-RES-3: a wrong check digit gets a clear message on the ID field; nothing is saved."""
    response = staff_client.post(REGISTER, _form(id_number=_bad_check_digit(make_id_number())))
    assert response.status_code == 200
    html = response.content.decode()
    assert "身份证号码校验位错误" in _error_block(html, "id_id_number")
    assert 'aria-describedby="id_id_number_error"' in html
    assert not Reservation.objects.exists()


def test_bad_phone_is_reported_next_to_phone_field(staff_client):
    """R-RES-3: a phone that is neither mobile nor fixed line is refused on its field."""
    response = staff_client.post(REGISTER, _form(id_number=make_id_number(), phone="12345"))
    assert response.status_code == 200
    assert "手机号" in _error_block(response.content.decode(), "id_phone")
    assert not Reservation.objects.exists()


def test_ratios_adding_up_to_more_than_one_are_refused_and_nothing_saved(staff_client, outlet):
    """R-RES-4: 0.6 + 0.4001 exceeds 1 → an error above the co-developer rows; nothing saved."""
    colleague = StaffFactory(outlet=outlet)
    response = staff_client.post(REGISTER, _form(id_number=make_id_number(), own_ratio="0.6",
                                                 rows=[(colleague.staff_no, "0.4001")]))
    assert response.status_code == 200
    html = response.content.decode()
    nonform = re.search(r'<ul class="errorlist nonform"[^>]*>(.*?)</ul>', html, re.S)
    assert nonform and "1.0001" in nonform.group(1) and "超过1" in nonform.group(1)
    assert not Reservation.objects.exists()
    assert not ReservationParticipant.objects.exists()


def test_own_ratio_error_without_co_developers_is_shown_on_own_ratio_field(staff_client):
    """R-RES-4: a ratio with more than 4 decimal places is refused on the own-ratio field."""
    response = staff_client.post(REGISTER, _form(id_number=make_id_number(), own_ratio="0.12345"))
    assert response.status_code == 200
    assert "4位小数" in _error_block(response.content.decode(), "id_own_ratio")
    assert not Reservation.objects.exists()


def test_unknown_co_developer_staff_number_is_reported_on_its_row(staff_client):
    """R-RES-1: a co-developer must be an existing staff member."""
    response = staff_client.post(REGISTER, _form(id_number=make_id_number(), own_ratio="0.5",
                                                 rows=[("NOPE-1", "0.5")]))
    assert response.status_code == 200
    assert "NOPE-1" in _error_block(response.content.decode(), "id_co-0-staff_no")
    assert not Reservation.objects.exists()


def test_register_form_offers_only_reservable_types_and_three_blank_co_developer_rows(staff_client):
    """R-TYPE-1: the select lists the reservable types; without JS three blank rows are there."""
    html = staff_client.get(REGISTER).content.decode()
    assert 'value="NEW_DEV"' in html and 'value="IB_SERVICE"' in html
    assert '<option value="BROKER_DEV"' not in html  # reservable, but a broker's: not offered to front staff
    assert 'value="CORE_SERVICE"' not in html and 'value="MAINTENANCE"' not in html
    assert 'name="co-TOTAL_FORMS" value="3"' in html
    for i in range(3):
        assert f'for="id_co-{i}-staff_no"' in html and f'for="id_co-{i}-ratio"' in html
    assert 'id="co-developer-template"' in html and "co-__prefix__-staff_no" in html


def test_users_without_a_staff_record_cannot_register(client):
    """R-ORG-2: only marketing staff register reservations."""
    role = RoleFactory()
    client.force_login(role.user)
    assert client.get(REGISTER).status_code == 403


# --- list and detail ----------------------------------------------------------------------------------------

def _reserve_many(staff, n: int):
    when = timezone.now() - dt.timedelta(hours=1)
    for _ in range(n):
        reserve(staff, id_number=make_id_number(), when=when)


def test_list_query_count_does_not_grow_with_rows(staff_client, staff, django_assert_max_num_queries):
    """R-PERM-4 selector with select_related: 30 rows cost the same queries as 1."""
    _reserve_many(staff, 1)
    with CaptureQueriesContext(connection) as one:
        assert staff_client.get(LIST).status_code == 200
    _reserve_many(staff, 29)
    with django_assert_max_num_queries(len(one.captured_queries)):
        response = staff_client.get(LIST)
    assert response.status_code == 200
    assert len(re.findall(r'href="/reservations/\d+/"', response.content.decode())) == 30


def test_list_shows_only_own_reservations_for_staff(staff_client, staff, outlet):
    """R-PERM-4: staff see their own reservations, not a colleague's."""
    colleague = StaffFactory(outlet=outlet)
    mine = reserve(staff, id_number=make_id_number(), name="王五", when=timezone.now())
    theirs = reserve(colleague, id_number=make_id_number(), name="赵六", when=timezone.now())
    html = staff_client.get(LIST).content.decode()
    assert reverse("reservations:detail", args=[mine.pk]) in html
    assert reverse("reservations:detail", args=[theirs.pk]) not in html


def test_staff_of_another_branch_gets_404_for_reservation_detail(client, staff):
    """R-PERM-4: a row outside one's scope answers 404, never the row."""
    reservation = reserve(staff, id_number=make_id_number(), when=timezone.now())
    other = StaffFactory()  # another outlet in another branch
    assert other.outlet.branch_id != staff.outlet.branch_id
    client.force_login(other.user)
    assert client.get(reverse("reservations:detail", args=[reservation.pk])).status_code == 404
    response = client.post(reverse("reservations:withdraw", args=[reservation.pk]))
    assert response.status_code == 404
    assert client.post(reverse("reservations:withdraw", args=[reservation.pk]), {"confirm": "yes"}).status_code == 404
    reservation.refresh_from_db()
    assert reservation.status == "active"


def test_branch_role_sees_own_branch_reservation_but_not_another_branchs(client, staff):
    """R-PERM-4: branch roles see their branch only."""
    reservation = reserve(staff, id_number=make_id_number(), when=timezone.now())
    own_branch = RoleFactory(organisation=staff.outlet.branch)
    client.force_login(own_branch.user)
    assert client.get(reverse("reservations:detail", args=[reservation.pk])).status_code == 200
    other_branch = RoleFactory()
    client.force_login(other_branch.user)
    assert client.get(reverse("reservations:detail", args=[reservation.pk])).status_code == 404


def test_detail_shows_participants_status_validity_and_masked_id(staff_client, staff, outlet):
    """R-RES-1, R-RES-2, R-PII-1: participants with ratios, validity; the ID only masked."""
    colleague = StaffFactory(outlet=outlet)
    idn = make_id_number()
    reservation = reserve(staff, id_number=idn, when=timezone.now(),
                          participants=[(staff, "0.7"), (colleague, "0.3")])
    html = staff_client.get(reverse("reservations:detail", args=[reservation.pk])).content.decode()
    assert colleague.staff_no in html and "0.3000" in html and "0.7000" in html
    assert reservation.id_masked in html and idn not in html
    assert "138****5678" in html
    assert reservation.valid_until.strftime("%Y-%m-%d") in html


# --- withdraw and correct -----------------------------------------------------------------------------------

def test_withdraw_works_and_a_second_withdraw_shows_a_message(staff_client, staff):
    """R-RES-6: staff withdraw their own reservation; a second attempt is refused with a message."""
    reservation = reserve(staff, id_number=make_id_number(), when=timezone.now())
    url = reverse("reservations:withdraw", args=[reservation.pk])
    response = staff_client.post(url, {"confirm": "yes"}, follow=True)
    reservation.refresh_from_db()
    assert reservation.status == "withdrawn"
    assert "预约已撤回" in response.content.decode()
    assert AuditEntry.objects.filter(action="reservation.withdraw", target_id=str(reservation.pk)).count() == 1

    response = staff_client.post(url, follow=True)
    html = response.content.decode()
    assert response.status_code == 200
    assert "不能再撤回" in html
    assert AuditEntry.objects.filter(action="reservation.withdraw", target_id=str(reservation.pk)).count() == 1


def test_withdraw_asks_for_confirmation_and_an_optional_reason_shown_in_the_history(staff_client, staff):
    """R-RES-6: the detail page's button only asks (no JavaScript needed); the confirmation withdraws, with the
    reason given, and the reservation's history shows it."""
    reservation = reserve(staff, id_number=make_id_number(), when=timezone.now())
    url = reverse("reservations:withdraw", args=[reservation.pk])
    asked = staff_client.post(url, HTTP_ACCEPT_LANGUAGE="en")
    html = asked.content.decode()
    assert asked.status_code == 200 and "This cannot be undone" in html and 'name="reason"' in html
    assert 'name="confirm" value="yes"' in html and reverse("reservations:detail", args=[reservation.pk]) in html
    reservation.refresh_from_db()
    assert reservation.status == "active" and not AuditEntry.objects.filter(action="reservation.withdraw").exists()

    staff_client.post(url, {"confirm": "yes", "reason": "  客户改在他行开户  "})
    reservation.refresh_from_db()
    assert reservation.status == "withdrawn"
    entry = AuditEntry.objects.get(action="reservation.withdraw", target_id=str(reservation.pk))
    assert entry.after == {"status": "withdrawn", "reason": "客户改在他行开户"}
    detail = staff_client.get(reverse("reservations:detail", args=[reservation.pk])).content.decode()
    assert "客户改在他行开户" in detail and "已撤回" in detail and "历史记录" in detail


def test_a_withdrawal_reason_too_long_is_asked_again_and_nothing_changes(staff_client, staff):
    reservation = reserve(staff, id_number=make_id_number(), when=timezone.now())
    response = staff_client.post(reverse("reservations:withdraw", args=[reservation.pk]),
                                 {"confirm": "yes", "reason": "长" * 501})
    assert response.status_code == 200 and 'name="reason"' in response.content.decode()
    reservation.refresh_from_db()
    assert reservation.status == "active"


def test_withdraw_is_post_only(staff_client, staff):
    """R-RES-6: state changes only by POST with CSRF."""
    reservation = reserve(staff, id_number=make_id_number(), when=timezone.now())
    assert staff_client.get(reverse("reservations:withdraw", args=[reservation.pk])).status_code == 405
    reservation.refresh_from_db()
    assert reservation.status == "active"


def test_withdraw_requires_csrf_token(client, staff):
    """R-RES-6: the withdraw form is protected against cross-site requests."""
    from django.test import Client

    reservation = reserve(staff, id_number=make_id_number(), when=timezone.now())
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(staff.user)
    assert strict.post(reverse("reservations:withdraw", args=[reservation.pk])).status_code == 403


def test_colleague_in_same_outlet_cannot_withdraw_someone_elses_reservation(client, staff, outlet):
    """R-RES-6: only the registering staff may withdraw."""
    reservation = reserve(staff, id_number=make_id_number(), when=timezone.now())
    head = StaffFactory(outlet=outlet)
    RoleFactory(user=head.user, kind="outlet_head", organisation=outlet)
    client.force_login(head.user)
    detail = client.get(reverse("reservations:detail", args=[reservation.pk])).content.decode()
    assert reverse("reservations:withdraw", args=[reservation.pk]) not in detail
    client.post(reverse("reservations:withdraw", args=[reservation.pk]))
    client.post(reverse("reservations:withdraw", args=[reservation.pk]), {"confirm": "yes"})
    reservation.refresh_from_db()
    assert reservation.status == "active"


def test_flagged_reservation_name_can_be_corrected_from_detail_page(staff_client, staff):
    """R-MATCH-2: a flagged reservation shows the correct-name form; saving re-activates it."""
    reservation = reserve(staff, id_number=make_id_number(), name="李四", when=timezone.now())
    Reservation.objects.filter(pk=reservation.pk).update(status="flagged", status_note="name differs")
    detail_url = reverse("reservations:detail", args=[reservation.pk])
    html = staff_client.get(detail_url).content.decode()
    assert reverse("reservations:correct_name", args=[reservation.pk]) in html
    response = staff_client.post(reverse("reservations:correct_name", args=[reservation.pk]),
                                 {"customer_name": "李思"})
    assert response.status_code == 302 and response["Location"] == detail_url
    reservation.refresh_from_db()
    assert (reservation.status, reservation.customer_name) == ("active", "李思")


# --- run ledger ---------------------------------------------------------------------------------------------

def test_run_ledger_lists_stages_with_counts_for_branch_roles(client):
    """R-MATCH-7: each run with business date, stage, status and counts."""
    BatchRun.objects.create(business_date=dt.date(2026, 3, 5), stage="match", status="succeeded",
                            counts={"events_read": 12, "matched": 7, "flagged": 1},
                            started_at=timezone.now(), finished_at=timezone.now())
    BatchRun.objects.create(business_date=dt.date(2026, 3, 5), stage="expire", status="failed",
                            counts={}, started_at=timezone.now(), error="boom")
    client.force_login(RoleFactory().user)
    response = client.get(reverse("reservations:runs"), HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert response.status_code == 200
    assert "2026-03-05" in html and "events read <strong>12</strong>" in html
    assert "matched <strong>7</strong>" in html and "boom" in html


def test_run_ledger_is_empty_and_not_in_navigation_for_plain_staff(staff_client):
    """R-PERM-4: the ledger is for branch and HQ roles."""
    BatchRun.objects.create(business_date=dt.date(2026, 3, 5), stage="match", status="succeeded",
                            counts={"events_read": 12}, started_at=timezone.now())
    assert reverse("reservations:runs") not in staff_client.get(LIST).content.decode()
    html = staff_client.get(reverse("reservations:runs")).content.decode()
    assert "2026-03-05" not in html


# --- language and sign-in -----------------------------------------------------------------------------------

def test_pages_render_in_chinese_by_default(staff_client):
    """UI primary language is Simplified Chinese."""
    html = staff_client.get(LIST).content.decode()
    assert '<html lang="zh-hans">' in html
    assert "我的预约" in html and "登记预约" in html
    assert "分成比例" in staff_client.get(REGISTER).content.decode()


def test_pages_render_in_english_when_browser_asks_for_it(staff_client):
    """English is the second language."""
    html = staff_client.get(LIST, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="en">' in html
    assert "My reservations" in html and "我的预约" not in html
    html = staff_client.get(REGISTER, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Your split ratio" in html and "New development" in html


def test_language_switch_form_sets_english(staff_client):
    """The language switch posts to set_language and sticks for the session."""
    response = staff_client.post(reverse("set_language"), {"language": "en", "next": LIST})
    assert response.status_code == 302
    assert "My reservations" in staff_client.get(LIST).content.decode()


@pytest.mark.parametrize("name", ["reservations:list", "reservations:create", "reservations:runs", "home"])
def test_anonymous_users_are_redirected_to_login(client, name):
    """R-SEC-AUTH-1: every page needs a signed-in user."""
    url = reverse(name)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


def test_anonymous_detail_redirects_to_login(client, staff):
    reservation = reserve(staff, id_number=make_id_number(), when=timezone.now())
    response = client.get(reverse("reservations:detail", args=[reservation.pk]))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_staff_signs_in_with_staff_number_and_sees_home(client, staff):
    """Sign-in page works with the staff number and lands on home, in Chinese."""
    login = client.get(reverse("login")).content.decode()
    assert "登录" in login
    response = client.post(reverse("login"), {"username": staff.staff_no, "password": "pw-12345678"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("home")
    assert "概览" in response.content.decode()


def test_home_lists_reservations_expiring_within_seven_days_and_flagged_ones(staff_client, staff):
    """R-RES-2, R-MATCH-2: what staff must act on soon."""
    soon = reserve(staff, id_number=make_id_number(), name="即将到期",
                   when=timezone.now() - dt.timedelta(days=27))
    later = reserve(staff, id_number=make_id_number(), name="时间还长", when=timezone.now())
    flagged = reserve(staff, id_number=make_id_number(), name="待更正", when=timezone.now())
    Reservation.objects.filter(pk=flagged.pk).update(status="flagged", status_note="姓名不一致")
    html = staff_client.get(reverse("home")).content.decode()
    assert soon.valid_until <= timezone.localdate() + dt.timedelta(days=7)
    assert "即将到期" in html and "待更正" in html and "姓名不一致" in html
    assert later.valid_until > timezone.localdate() + dt.timedelta(days=7)
    assert "时间还长" not in html


def test_logout_is_a_post_from_the_navigation(staff_client):
    html = staff_client.get(LIST).content.decode()
    assert f'action="{reverse("logout")}"' in html
    response = staff_client.post(reverse("logout"))
    assert response.status_code == 302
    assert staff_client.get(LIST).status_code == 302


def test_user_factory_users_without_staff_or_role_see_nothing(client, staff):
    """R-PERM-4: a signed-in user without staff record or role sees no rows."""
    reserve(staff, id_number=make_id_number(), name="王五", when=timezone.now())
    client.force_login(UserFactory())
    html = client.get(LIST).content.decode()
    assert "王五" not in html


def test_late_reservation_through_form_is_sent_for_approval_and_detail_shows_the_case(staff_client, staff, outlet):
    """R-MATCH-4: registered after the opening (within 7 working days) → pending approval, case shown."""
    from tests.support.helpers import event_row, nightly, record_events

    idn = make_id_number()
    opened = timezone.localtime() - dt.timedelta(days=1)
    record_events([event_row(when=opened, id_number=idn, name="张三", outlet=outlet)])
    nightly(opened.date().isoformat())
    response = staff_client.post(REGISTER, _form(id_number=idn), follow=True)
    reservation = Reservation.objects.get()
    assert reservation.status == "pending_approval" and reservation.approval_case_id
    html = response.content.decode()
    assert "补预约已提交审批" in html
    assert f"#{reservation.approval_case_id}" in html


def test_run_ledger_shows_a_running_stage_with_its_progress_and_refreshes(client):
    """R-MATCH-7: progress per stage while the night runs."""
    import datetime as dt

    from django.utils import timezone

    from reservations.models import BatchRun
    from tests.support.factories import BranchFactory, RoleFactory

    BatchRun.objects.create(business_date=dt.date(2026, 3, 3), stage="match", status="running",
                            started_at=timezone.now(), counts={"units": 7, "matched": 120})
    client.force_login(RoleFactory(kind="branch", organisation=BranchFactory()).user)
    page = client.get("/reservations/runs/").content.decode()
    assert 'http-equiv="refresh"' in page and "120" in page
