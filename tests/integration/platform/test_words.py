"""Issue 19: every word where people read is theirs — no rule ID, code or raw key on the pages, and one
presentation of each figure on the page, in the CSV and in Excel."""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from openpyxl import load_workbook

from performance.services import compute_period
from relationships.models import Relationship
from reservations.models import BatchRun, FeedFile
from reservations.views import ledger_counts
from tests.integration.performance.test_performance_views import MARCH, give, load
from tests.support.factories import HQFactory, OutletFactory, RoleFactory, StaffFactory

pytestmark = pytest.mark.django_db
RULE_ID = re.compile(r"\bR-[A-Z]+-\d")


@pytest.fixture
def hq(client):
    client.force_login(RoleFactory(kind="hq", organisation=HQFactory()).user)
    return client


def test_r_match_7_the_run_ledger_names_classification_counts_in_words_never_by_their_keys(hq):
    BatchRun.objects.create(business_date=dt.date(2026, 11, 30), stage="classify", status="succeeded",
                            started_at=timezone.now(), finished_at=timezone.now(),
                            counts={"lost": 116, "new_lost": 13, "ended_dormant": 2, "silent_judged": 1,
                                    "some_future_count": 4})
    for lang, words in (("zh-hans", ["新增流失客户", "已判定沉寂客户（月末）", "分类"]),
                        ("en", ["newly lost customers", "silent customers judged (month end)", "classification"])):
        html = hq.get("/reservations/runs/", HTTP_ACCEPT_LANGUAGE=lang).content.decode()
        for word in words:
            assert word in html, (lang, word)
        for key in ("new_lost", "ended_dormant", "silent_judged", "some_future_count", ">classify<"):
            assert key not in html, (lang, key)


def test_a_yes_no_count_is_words_when_set_and_absent_when_not():
    with translation.override("en"):
        assert ledger_counts({"silent_judged": 0, "lost": 3}) == [("lost customers", 3)]
        assert ("silent customers judged (month end)", "") in ledger_counts({"silent_judged": 1})


def test_feed_pages_name_the_feed_not_its_code(hq):
    FeedFile.objects.create(kind="account_events", sha256="1" * 64, filename="events.csv", loaded_by="hq")
    html = hq.get("/reservations/feeds/").content.decode()
    assert "<td>账户事件</td>" in html and "<td>account_events</td>" not in html
    assert '<option value="account_events">账户事件</option>' in html  # the picker too
    english = hq.get("/reservations/feeds/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "<td>account events</td>" in english


def test_a_relationship_source_reads_as_words():
    assert Relationship(source="reservation").source_label == "预约与开户自动匹配"
    assert Relationship(source="something_new").source_label == "其他"


@pytest.mark.parametrize("message", [
    "The applicant must sign off the application.",
    "A participant's attach permission is closed.",
    "Registered after the late-registration deadline %(deadline)s.",
])
def test_messages_outside_the_case_page_carry_no_rule_id(message):
    with translation.override("zh-hans"):
        translated = translation.gettext(message)
    assert translated != message and not RULE_ID.search(translated)


def test_r_perf_1_a_credited_count_is_shown_alike_on_the_page_in_the_csv_and_in_excel(hq):
    """Counts are credited by ratio (fractional): rounded once, half-up, to 2 decimals, everywhere."""
    outlet = OutletFactory()
    a, b, c = (StaffFactory(outlet=outlet, staff_no=no) for no in ("W001", "W002", "W003"))
    line = give([(a, "0.3333"), (b, "0.3333"), (c, "0.3333")], "1000.00")
    line[5] = "5"      # 5 trades × 0.3333 = 1.6665 → 1.67 (half-up; banker's rounding would say 1.66)
    load([line])
    compute_period(period=MARCH)
    html = hq.get(reverse("performance:report"), {"period": "2026-03", "level": "staff"}).content.decode()
    assert '<td class="num">1.67</td>' in html and '<td class="num">1</td>' not in html
    rows = list(csv.reader(io.StringIO(hq.get(reverse("performance:export", args=["csv"]), {
        "period": "2026-03", "level": "staff"}).content.decode("utf-8-sig"))))
    trade_col = 9  # period, rank, staff number, name, outlet, assets, average, commission, turnover, trades
    assert {r[trade_col] for r in rows[1:]} == {"1.67"}
    book = load_workbook(io.BytesIO(hq.get(reverse("performance:export", args=["xlsx"]), {
        "period": "2026-03", "level": "staff"}).content))
    cell = book.active.cell(row=2, column=trade_col + 1)
    assert Decimal(str(cell.value)) == Decimal("1.67") and cell.number_format == "#,##0.00"


def test_r_match_7_starting_a_finished_night_again_says_it_has_finished_not_started(
        hq, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = hq.post("/reservations/runs/start/", {"business_date": "2026-03-03"}, follow=True)
    assert "已启动" in first.content.decode()
    runs = BatchRun.objects.count()
    with django_capture_on_commit_callbacks(execute=True) as queued:
        again = hq.post("/reservations/runs/start/", {"business_date": "2026-03-03"}, follow=True)
    html = again.content.decode()
    assert "已全部完成" in html and "已启动" not in html
    assert queued == [] and BatchRun.objects.count() == runs


def test_the_admin_site_has_the_platforms_name_in_the_pages_language(client):
    from django.contrib.auth import get_user_model

    admin = get_user_model().objects.create_superuser(username="root", password="pw-12345678", email="")
    client.force_login(admin)
    html = client.get("/admin/").content.decode()
    assert "客户关系管理平台 · 系统管理" in html and "Django" not in html.split("<body")[1].split("</header>")[0]
    assert "Django 管理" not in html
    english = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Client relationship platform · administration" in english


def test_guardians_anonymous_user_is_nobody_anyone_picks_or_lists():
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from permissions.authority import users_of_branches
    from permissions.scoping import visible_users

    User = get_user_model()
    anonymous, _ = User.objects.get_or_create(username=getattr(settings, "ANONYMOUS_USER_NAME", "AnonymousUser"))
    hq = RoleFactory(kind="hq", organisation=HQFactory()).user
    assert anonymous not in visible_users(hq) and hq in visible_users(hq)
    assert anonymous not in users_of_branches(None)


def test_every_model_of_the_platform_names_itself_in_the_admin():
    from django.apps import apps
    from django.db import models

    nameless = [m._meta.label for m in apps.get_models() if m._meta.app_label in (
        "relationships", "permissions", "approvals", "performance", "reservations")
        and m.__str__ is models.Model.__str__]
    assert nameless == []


def test_the_type_picker_offers_front_staff_only_the_types_their_kind_may_hold(client):
    """R-ATT-1: the broker type is for brokers; front staff are not offered what the service would refuse."""
    front = StaffFactory(kind="account_manager")
    client.force_login(front.user)
    html = client.get("/reservations/new/").content.decode()
    assert '<option value="NEW_DEV"' in html and '<option value="BROKER_DEV"' not in html
    broker = StaffFactory(kind="broker")
    client.force_login(broker.user)
    assert '<option value="BROKER_DEV"' in client.get("/reservations/new/").content.decode()


def test_r_perm_3_a_sign_off_reads_in_the_pages_language_at_local_time():
    from permissions.models import signoff_words

    stored = ("I, e1, apply for this change of permissions, confirm that it is needed for my duties and acknowledge "
              "that it is recorded in the permission register. [2026-12-01 02:30:05+0000 sha256:0123456789abcdef]")
    with translation.override("zh-hans"):
        assert signoff_words(stored, "e1") == "e1已于2026-12-01 10:30签字确认（指纹0123456789ab）"
    with translation.override("en"):
        assert signoff_words(stored, "e1") == "Signed off by e1 on 2026-12-01 10:30 (fingerprint 0123456789ab)"
    assert signoff_words("signed", "e1") == "signed"  # no stamp: shown as stored


def test_r_res_4_the_live_total_gives_no_figures_while_a_ratio_is_not_a_number(client):
    client.force_login(StaffFactory().user)
    html = client.post(reverse("reservations:ratio_summary"), {"own_ratio": "0.6", "co-0-ratio": "abc"},
                       HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "The total cannot be computed while a split ratio is invalid." in html and "errorlist" in html
    assert "0.6000" not in html and "unallocated" not in html


def test_the_admins_change_links_read_as_djangos_own_word_not_the_platforms_kind_of_change(client):
    """The platform's column "Change" (变更类型, the kind of change asked) has its own context, so the admin's
    "Change" links keep Django's 修改."""
    from django.contrib.auth import get_user_model

    client.force_login(get_user_model().objects.create_superuser(username="root", password="pw-12345678", email=""))
    html = client.get("/admin/").content.decode()
    assert "修改" in html and "变更类型" not in html
    with translation.override("zh-hans"):
        assert translation.pgettext("the kind of change asked", "Change") == "变更类型"
