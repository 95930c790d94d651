"""Issue 19 / R-PERM-3: the permission register reads in the reader's language — the page, the exports the site
offers and the admin's pages — whatever the language of whoever wrote the entry.

An entry keeps `what` as text (the frozen record, in the writer's language) and as a message (msgid and
parameters, choice labels nested), rendered when read; an entry written before messages were stored is
recognised in the catalogue, else shown as written. The site's exports are for people (translated headers, the
event's label, the detail in words, no internal ids); the machine format (codes and JSON) is `manage.py
export_register`'s.
"""
from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from openpyxl import load_workbook

from permissions import services
from permissions.exports import MACHINE_COLUMNS, detail_words
from permissions.models import PermissionRegisterEntry, RegisterEvent, Role, RoleKind
from relationships.models import QualificationKind
from tests.support.factories import BranchFactory, HQFactory, OutletFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

PAGE = reverse("permissions:register")
FULL_CSV = reverse("permissions:register_csv")
FULL_XLSX = reverse("permissions:register_xlsx")
ADMIN_LIST = reverse("admin:permissions_permissionregisterentry_changelist")

ENGLISH_HEADERS = ["No.", "Time", "Event", "Branch company", "Application", "Concerns", "What", "Reason",
                   "Applicant", "Applicant's sign-off", "Approved by", "Applied by", "Recorded by", "Detail"]
CHINESE_HEADERS = ["序号", "时间", "事件", "分公司", "申请编号", "涉及人员", "事项", "原因", "申请人",
                   "申请人签字确认", "审批人", "执行人", "登记人", "详情"]


@pytest.fixture
def org():
    """A branch and its permission admin (assigned by HQ), a staff member of it; entries written in Chinese."""
    hq = HQFactory()
    branch = BranchFactory(parent=hq, name="测试分公司", code="TB")
    hq_user = UserFactory(username="hq-office", is_staff=True)
    Role.objects.create(user=hq_user, kind=RoleKind.HQ, organisation=hq)
    admin = UserFactory(username="padmin-tb")
    staff = StaffFactory(outlet=OutletFactory(parent=branch))
    with translation.override("zh-hans"):
        services.branch_admin_assign(actor=hq_user, user=admin, branch=branch, reason="reason-assign")
        services.attach_close(actor=admin, staff=staff, reason="reason-close")
        services.qualification_record(actor=admin, staff=staff, kind=QualificationKind.SECURITIES, number="S-1",
                                      valid_from=dt.date(2024, 1, 1), reason="reason-qualification")
    return dict(branch=branch, hq_user=hq_user, admin=admin, staff=staff)


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _entry(reason: str) -> PermissionRegisterEntry:
    return PermissionRegisterEntry.objects.get(reason=reason)


def _csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.getvalue().decode("utf-8-sig"))))


# --- the entry's what, in the reader's language --------------------------------------------------------------

def test_register_entry_written_in_chinese_reads_in_english_for_an_english_reader(org):
    assert _entry("reason-assign").what == "指定为分公司权限管理员 @ 测试分公司 (TB)"  # the frozen record
    with translation.override("en"):
        assert _entry("reason-assign").what_text == "assign branch permission admin @ 测试分公司 (TB)"
        assert _entry("reason-close").what_text == "attach permission closed"
        assert _entry("reason-qualification").what_text == "securities practice S-1, valid 2024-01-01 – —"


def test_register_entry_written_in_english_reads_in_chinese_for_a_chinese_reader(org):
    with translation.override("en"):
        services.attach_open(actor=org["admin"], staff=org["staff"], reason="reason-open")
    assert _entry("reason-open").what == "attach permission opened"
    with translation.override("zh-hans"):
        assert _entry("reason-open").what_text == "开通挂接权限"
        assert _entry("reason-assign").what_text == "指定为分公司权限管理员 @ 测试分公司 (TB)"


def test_register_entry_written_before_messages_is_recognised_else_shown_as_written(org):
    """An old row has the text only: the catalogue recognises it in the reader's language; a text it does not
    know (typed, or worded differently) stays as it was written."""
    common = dict(event=RegisterEvent.ATTACH_CLOSED, branch=org["branch"], actor_label="someone",
                  subject_label="someone else")
    old = PermissionRegisterEntry.objects.create(what="证券从业 S-2，有效期2020-01-01至—", **common)
    literal = PermissionRegisterEntry.objects.create(what="某种旧的说法", **common)
    assert old.what_message is None
    with translation.override("en"):
        assert old.what_text == "securities practice S-2, valid 2020-01-01 – —"
        assert literal.what_text == "某种旧的说法"


def test_register_page_reads_in_the_readers_language(org):
    client = _client(org["admin"])
    english = client.get(PAGE, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "assign branch permission admin @ 测试分公司 (TB)" in english and "securities practice S-1" in english
    assert "证券从业" not in english and "指定为" not in english
    chinese = client.get(PAGE, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "证券从业 S-1" in chinese and "指定为分公司权限管理员" in chinese


# --- the site's exports: for people ----------------------------------------------------------------------------

@pytest.mark.parametrize("language,headers,event,detail", [
    ("en", ENGLISH_HEADERS, "attach permission closed", "attach permission: open → closed"),
    ("zh-hans", CHINESE_HEADERS, "注销挂接权限", "挂接权限：开通 → 注销"),
])
def test_register_export_headers_and_rows_read_in_the_readers_language(org, language, headers, event, detail):
    client = _client(org["admin"])
    for rows in (_csv(client.get(FULL_CSV, {"event": "attach_closed"}, HTTP_ACCEPT_LANGUAGE=language)),
                 list(load_workbook(io.BytesIO(client.get(FULL_XLSX, {"event": "attach_closed"},
                                                         HTTP_ACCEPT_LANGUAGE=language).getvalue()))
                      .active.iter_rows(values_only=True))):
        entry = _entry("reason-close")
        assert list(rows[0]) == headers
        assert len(rows) == 2
        row = ["" if v is None else str(v) for v in rows[1]]
        assert row[0] == str(entry.pk) and row[2] == event and row[3] == "测试分公司"
        assert row[1] == f"{timezone.localtime(entry.at):%Y-%m-%d %H:%M:%S}"  # local time, no offset
        assert row[12] == org["admin"].username and row[13] == detail


@pytest.mark.parametrize("language,sheet", [("en", "permission register"), ("zh-hans", "权限登记簿")])
def test_register_workbook_sheet_is_named_in_the_readers_language(org, language, sheet):
    body = _client(org["admin"]).get(FULL_XLSX, HTTP_ACCEPT_LANGUAGE=language).getvalue()
    assert load_workbook(io.BytesIO(body)).sheetnames == [sheet]


def test_register_detail_in_words_leaves_internal_ids_out_and_names_choices_by_their_labels(org):
    detail = _entry("reason-assign").detail
    assert {"role_id", "organisation_id"} <= set(detail["after"])  # what the machine format keeps
    with translation.override("en"):
        assert detail_words(detail) == "role: — → branch permission admin; organisation: — → 测试分公司 (TB)"
        assert detail_words(_entry("reason-qualification").detail) == (
            "qualification: — → securities practice; certificate number: — → S-1; valid from: — → 2024-01-01; "
            "valid to: —")
    with translation.override("zh-hans"):
        assert detail_words(detail) == "角色：— → 分公司权限管理员; 机构：— → 测试分公司 (TB)"


# --- the machine format: manage.py export_register -------------------------------------------------------------

def test_register_machine_format_is_the_commands_codes_and_json(org, tmp_path):
    other = BranchFactory(parent=org["branch"].parent, code="OB")
    services.branch_admin_assign(actor=org["hq_user"], user=UserFactory(), branch=other, reason="reason-other")
    path = tmp_path / "register.csv"
    call_command("export_register", str(path), "--branch", "TB", stdout=io.StringIO())
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert list(rows[0]) == MACHINE_COLUMNS
    assert [r["event"] for r in rows] == ["branch_admin_assigned", "attach_closed", "qualification_recorded"]
    assert {r["branch"] for r in rows} == {"TB"}  # the other branch's entry is not in it
    assigned = rows[0]
    assert int(assigned["entry_id"]) == _entry("reason-assign").pk
    assert '"role_id"' in assigned["detail"] and '"kind": "branch_permission_admin"' in assigned["detail"]
    call_command("export_register", str(path), stdout=io.StringIO())  # no branch: the whole register, as HQ
    assert len(list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))) == 4
    with pytest.raises(CommandError):
        call_command("export_register", str(path), "--branch", "NOPE")


# --- the admin's pages -------------------------------------------------------------------------------------------

def test_register_admin_list_and_change_page_read_in_english_for_an_english_reader(org):
    client = _client(org["admin"])
    listing = client.get(ADMIN_LIST, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "securities practice S-1, valid 2024-01-01 – —" in listing and "证券从业" not in listing
    entry = _entry("reason-assign")
    page = client.get(reverse("admin:permissions_permissionregisterentry_change", args=[entry.pk]),
                      HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "assign branch permission admin @ 测试分公司 (TB)" in page
    assert "role: — → branch permission admin" in page
    assert "role_id" not in page and "organisation_id" not in page and "指定为" not in page


def test_register_admin_change_page_reads_in_chinese_for_a_chinese_reader(org):
    with translation.override("en"):
        services.attach_open(actor=org["admin"], staff=org["staff"], reason="reason-open")
    entry = _entry("reason-open")
    page = _client(org["admin"]).get(reverse("admin:permissions_permissionregisterentry_change", args=[entry.pk]),
                                     HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "开通挂接权限" in page and "挂接权限：注销 → 开通" in page
    assert "attach permission opened" not in page and "attach_open" not in page


def test_register_admin_of_another_branch_does_not_reach_this_branchs_entry(org):
    """The scoping stays: another branch's admin does not reach the entry."""
    other = BranchFactory(parent=org["branch"].parent)
    stranger = UserFactory()
    services.branch_admin_assign(actor=org["hq_user"], user=stranger, branch=other, reason="reason-stranger")
    url = reverse("admin:permissions_permissionregisterentry_change", args=[_entry("reason-assign").pk])
    response = _client(stranger).get(url)
    assert (response.status_code, response.url) == (302, reverse("admin:index"))  # Django's "no such entry"
