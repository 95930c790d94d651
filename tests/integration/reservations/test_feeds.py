"""§12 — the feeds, commands and exports are a public contract; these tests drive them as files."""
from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from relationships.models import AccountEvent, Organisation, PiiAccess, Qualification, Staff
from reservations.models import FeedFile, Reservation
from tests.support.factories import make_id_number
from tests.support.helpers import EVENT_HEADER, csv_bytes

pytestmark = pytest.mark.django_db

ORG = csv_bytes(["code", "name", "kind", "parent_code", "region"], [
    ["HQ", "总部", "hq", "", ""],
    ["SH", "上海分公司", "branch", "HQ", "华东"],
    ["BJ", "北京分公司", "branch", "HQ", "华北"],
    ["SH01", "上海浦东营业部", "outlet", "SH", ""],
    ["BJ01", "北京朝阳营业部", "outlet", "BJ", ""],
    ["XX01", "无主营业部", "outlet", "NOPE", ""],
    ["BAD", "坏行", "planet", "HQ", ""],
])
STAFF = csv_bytes(["staff_no", "name", "outlet_code", "kind", "parent_staff_no", "qualifications", "attach_open",
                   "extra_column"], [
    ["S1", "李雷", "SH01", "account_manager", "", "securities;futures", "true", "ignored"],
    ["S2", "韩梅梅", "SH01", "advisor", "", "securities;consulting", "true", ""],
    ["B1", "王经纪", "BJ01", "broker", "", "broker", "true", ""],
    ["B2", "赵经纪", "BJ01", "broker", "B1", "broker", "true", ""],
    ["S9", "无名", "NOPE", "advisor", "", "securities", "true", ""],
    ["S8", "错资质", "SH01", "advisor", "", "astrology", "true", ""],
])


def write(tmp_path, name: str, content: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(content)
    return str(path)


def load(tmp_path, kind, name, content, capsys=None) -> int:
    """§12: load_feed's exit status — 0 every line loaded or skipped, 1 a line refused, 2 the file unreadable."""
    try:
        call_command("load_feed", kind, write(tmp_path, name, content))
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


@pytest.fixture
def org_and_staff(tmp_path):
    assert load(tmp_path, "org", "org.csv", ORG) == 1  # XX01 and BAD are refused, the rest loaded
    assert load(tmp_path, "staff", "staff.csv", STAFF) == 1


def test_org_feed_builds_the_tree_and_reports_bad_lines_by_number(tmp_path, capsys):
    load(tmp_path, "org", "org.csv", ORG)
    err = capsys.readouterr().err
    assert "org.csv:7:" in err and "org.csv:8:" in err  # header is line 1
    outlet = Organisation.objects.get(code="SH01")
    assert outlet.branch.code == "SH" and outlet.region.code == "华东"
    assert Organisation.objects.count() == 5
    assert FeedFile.objects.get(kind="org").rows_failed == 2


def test_staff_feed_loads_kinds_qualifications_broker_tree_and_ignores_unknown_columns(org_and_staff, capsys):
    assert Staff.objects.get(staff_no="B2").parent.staff_no == "B1"
    assert set(Qualification.objects.filter(staff__staff_no="S1").values_list("kind", flat=True)) == {
        "securities", "futures"}
    assert not Staff.objects.filter(staff_no__in=["S9", "S8"]).exists()


def test_same_file_twice_is_a_no_op(tmp_path, capsys):
    load(tmp_path, "org", "org.csv", ORG)
    load(tmp_path, "org", "org-again.csv", ORG)
    assert "already loaded" in capsys.readouterr().out or FeedFile.objects.filter(kind="org").count() == 1
    assert FeedFile.objects.filter(kind="org").count() == 1


def test_account_events_skip_repeated_event_ids_and_keep_good_lines(org_and_staff, tmp_path, capsys):
    idn = make_id_number()
    rows = [
        ["E1", "2026-03-02T09:31:00+08:00", "open", idn, "张三", "A1", "securities", "SH01"],
        ["E1", "2026-03-02T09:31:00+08:00", "open", idn, "张三", "A1", "securities", "SH01"],
        ["E2", "2026-03-02T09:31:00", "open", idn, "张三", "A2", "credit", "SH01"],
        ["E3", "2026-03-02T09:40:00+08:00", "open", "110105194912310021", "张三", "A3", "credit", "SH01"],
        ["E4", "2026-03-02T09:50:00+08:00", "teleport", idn, "张三", "A4", "credit", "SH01"],
    ]
    load(tmp_path, "account_events", "ev1.csv", csv_bytes(EVENT_HEADER, rows))
    err = capsys.readouterr().err
    assert "ev1.csv:4:" in err and "ev1.csv:5:" in err and "ev1.csv:6:" in err
    load(tmp_path, "account_events", "ev2.csv", csv_bytes(EVENT_HEADER, rows[:1] + [
        ["E5", "2026-03-03T10:00:00+08:00", "open", idn, "张三", "A5", "credit", "SH01"]]))
    assert list(AccountEvent.objects.order_by("event_id").values_list("event_id", flat=True)) == ["E1", "E5"]
    e5 = AccountEvent.objects.get(event_id="E5")
    assert e5.existing_customer and e5.business_date.isoformat() == "2026-03-03"
    assert FeedFile.objects.get(filename="ev2.csv").rows_skipped == 1


def test_reservations_feed_applies_the_form_rules_line_by_line(org_and_staff, tmp_path, capsys):
    header = ["staff_no", "relationship_type", "customer_name", "id_number", "phone", "registered_at",
              "participants"]
    good, other = make_id_number(), make_id_number()
    load(tmp_path, "reservations", "res.csv", csv_bytes(header, [
        ["S1", "NEW_DEV", "张三", good, "13812345678", "2026-03-02T09:00:00+08:00", "S1:0.6;S2:0.4"],
        ["S1", "NEW_DEV", "李四", other, "13812345678", "2026-03-02T09:00:00+08:00", "S1:0.6;S2:0.4001"],
        ["S1", "NEW_DEV", "王五", "110105194912310021", "13812345678", "2026-03-02T09:00:00+08:00", ""],
        ["NOBODY", "NEW_DEV", "王五", other, "13812345678", "2026-03-02T09:00:00+08:00", ""],
        ["B1", "BROKER_DEV", "赵六", other, "13812345678", "2026-03-02T09:00:00+08:00", ""],
    ]))
    err = capsys.readouterr().err
    assert "res.csv:3:" in err and "res.csv:4:" in err and "res.csv:5:" in err
    assert Reservation.objects.count() == 2
    r = Reservation.objects.get(staff__staff_no="S1")
    assert sorted(r.participants.values_list("staff__staff_no", "ratio")) == [("S1", Decimal("0.6")),
                                                                           ("S2", Decimal("0.4"))]


def test_missing_column_refuses_the_whole_file(tmp_path):
    from django.core.management.base import CommandError
    with pytest.raises(CommandError, match="kind, parent_code, region"):
        load(tmp_path, "org", "bad.csv", csv_bytes(["code", "name"], [["HQ", "总部"]]))


def test_nightly_command_and_exports_produce_the_contract_formats(org_and_staff, tmp_path, capsys):
    header = ["staff_no", "relationship_type", "customer_name", "id_number", "phone", "registered_at",
              "participants"]
    matched, dup = make_id_number(), make_id_number()
    load(tmp_path, "reservations", "res.csv", csv_bytes(header, [
        ["S1", "NEW_DEV", "张三", matched, "13812345678", "2026-03-02T09:00:00+08:00", "S1:0.5;S2:0.3"],
        ["S1", "NEW_DEV", "李四", dup, "13812345678", "2026-03-02T09:00:00+08:00", ""],
        ["S2", "NEW_DEV", "李四", dup, "13812345678", "2026-03-02T10:00:00+08:00", ""],
    ]))
    load(tmp_path, "account_events", "ev.csv", csv_bytes(EVENT_HEADER, [
        ["E1", "2026-03-03T09:31:00+08:00", "open", matched, "张三", "A1", "securities", "SH01"],
        ["E2", "2026-03-03T09:32:00+08:00", "open", dup, "李四", "A2", "securities", "SH01"],
    ]))
    call_command("run_nightly", "--date", "2026-03-03")
    out = capsys.readouterr().out
    assert "match succeeded" in out and "matched=1" in out and "sent_to_approval=1" in out

    def export(kind):
        path = tmp_path / f"{kind}.csv"
        call_command("export", kind, str(path))
        return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))

    rels = export("relationships")
    assert rels[0] == ["id_number", "relationship_type", "staff_no", "ratio", "effective_from", "effective_to",
                       "status"]
    assert sorted(rels[1:]) == [[matched, "NEW_DEV", "S1", "0.5000", "2026-03-03", "", "active"],
                                [matched, "NEW_DEV", "S2", "0.3000", "2026-03-03", "", "active"]]
    res = export("reservations")
    assert res[0] == ["id_number", "staff_no", "relationship_type", "registered_at", "status"]
    assert sorted(r[4] for r in res[1:]) == ["matched", "pending_approval", "pending_approval"]
    assert res[1][3] == "2026-03-02T09:00:00+08:00"
    cases = export("approval_cases")
    assert cases[0] == ["case_id", "reason", "relationship_type", "id_number", "status", "current_step", "steps",
                        "claimants"]
    branch = Organisation.objects.get(code="SH01").branch.code
    assert cases[1][1:] == ["duplicate", "NEW_DEV", dup, "pending", "1",
                            f"account_opening_review@{branch};outlet_review@{branch};final_approval@{branch}",
                            "S1;S2"]
    assert PiiAccess.objects.filter(purpose__startswith="export").count() == 3


@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # the command commits in its own process
def test_load_feed_exits_0_when_every_line_loaded_1_when_a_line_was_refused_and_2_when_unreadable(tmp_path):
    """§12: the exit status tells another system what happened, without reading the output."""
    s = connection.settings_dict
    env = {**os.environ, "DJANGO_DEBUG": "1",
           "DATABASE_URL": f"postgres://{s['USER'] or 'postgres'}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/"
                           f"{s['NAME']}"}
    good = write(tmp_path, "good.csv", csv_bytes(["code", "name", "kind", "parent_code", "region"],
                                                 [["HQX", "总部", "hq", "", ""]]))
    bad_line = write(tmp_path, "bad-line.csv", csv_bytes(["code", "name", "kind", "parent_code", "region"],
                                                         [["HQY", "总部", "planet", "", ""]]))
    unreadable = write(tmp_path, "unreadable.csv", b"code,name\nHQ,x\n")

    def status(path):
        return subprocess.run([sys.executable, "manage.py", "load_feed", "org", path], cwd=settings.BASE_DIR,
                              env=env, capture_output=True, text=True, timeout=120).returncode

    assert (status(good), status(bad_line), status(unreadable)) == (0, 1, 2)
