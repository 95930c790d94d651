"""Issue 19 ("English mode is half Chinese"): a feed's refused-line reasons are stored as a message — its msgid and
parameters — and shown in the reader's language on the upload result, the feed page and the errors CSV, whatever
the language of whoever uploaded the file; a row stored before that (a "reason" text only) still shows.

The §12 errors CSV keeps its columns `line,reason` (other systems read them); its reason is in the reader's
language."""
from __future__ import annotations

import csv
import io

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation
from django.utils.translation import gettext as _

from common.wording import Message, from_json, from_validation_error, render, stored_line
from reservations.exchange.registry import COLUMNS
from reservations.models import FeedFile, FeedUpload
from tests.support.approvals import make_branch
from tests.support.factories import HQFactory, RoleFactory, make_id_number
from tests.support.helpers import csv_bytes

pytestmark = pytest.mark.django_db

ORG = (",".join(COLUMNS["org"]) + "\n"
       "HQ,总部,hq,,\n"
       "XX,坏行,planet,HQ,\n"           # line 3: a feed's own refusal, with a parameter
       'YY,"坏"行,branch,HQ,华东\n'      # line 4: malformed quoting, a message inside a message
       "ZZ,孤行,outlet,NOWHERE,\n").encode()  # line 5: an unknown parent

ENGLISH = {3: "kind “planet” must be hq, branch or outlet.",
           4: "Malformed quoting in column name: text follows the closing quote.",
           5: "parent_code “NOWHERE” is not a known organisation."}
CHINESE = {3: "kind“planet”必须为hq、branch或outlet。",
           4: "name列的引号格式有误：结束引号后还有文字。",
           5: "parent_code“NOWHERE”不是已知的机构。"}


@pytest.fixture
def hq_client(client):
    client.force_login(RoleFactory(kind="hq", organisation=HQFactory()).user)
    return client


def _upload(client, content: bytes, capture, *, language: str, kind: str = "org", name: str = "org.csv"):
    """Upload as a reader of `language`; the load runs after commit, in that request's language."""
    with capture(execute=True):
        client.post("/reservations/feeds/", {"kind": kind, "file": SimpleUploadedFile(name, content)},
                    HTTP_ACCEPT_LANGUAGE=language)
    return FeedUpload.objects.get()


def _pages(client, upload: FeedUpload, *, language: str) -> tuple[str, str, list[list[str]]]:
    """(upload result page, feed page, errors CSV rows) as a reader of `language` sees them."""
    feed = upload.feed
    result = client.get(f"/reservations/feeds/uploads/{upload.pk}/", HTTP_ACCEPT_LANGUAGE=language)
    detail = client.get(f"/reservations/feeds/{feed.pk}/", HTTP_ACCEPT_LANGUAGE=language)
    errors = client.get(f"/reservations/feeds/{feed.pk}/errors.csv", HTTP_ACCEPT_LANGUAGE=language)
    rows = list(csv.reader(io.StringIO(errors.content.decode("utf-8-sig"))))
    return result.content.decode(), detail.content.decode(), rows


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("'", "&#x27;")


def test_issue19_a_file_uploaded_by_a_chinese_reader_shows_its_refusals_in_english_to_an_english_reader(
        hq_client, django_capture_on_commit_callbacks):
    upload = _upload(hq_client, ORG, django_capture_on_commit_callbacks, language="zh-hans")
    assert upload.status == "done" and [e["line"] for e in upload.feed.errors] == [3, 4, 5]
    stored = {e["line"]: e for e in upload.feed.errors}
    assert stored[3] == {"line": 3, "msg": "kind “%(kind)s” must be hq, branch or outlet.",
                         "params": {"kind": "planet"}}
    assert stored[4] == {"line": 4, "msg": "Malformed quoting in column %(col)s: %(reason)s.", "params": {
        "col": "name", "reason": {"msg": "text follows the closing quote", "params": {}}}}
    result, detail, rows = _pages(hq_client, upload, language="en")
    for page in (result, detail):
        for text in ENGLISH.values():
            assert _html(text) in page, text
        assert "必须为" not in page and "不是已知的机构" not in page
    assert rows == [["line", "reason"], *([str(n), text] for n, text in ENGLISH.items())]


def test_issue19_a_file_uploaded_by_an_english_reader_shows_its_refusals_in_chinese_to_a_chinese_reader(
        hq_client, django_capture_on_commit_callbacks):
    upload = _upload(hq_client, ORG, django_capture_on_commit_callbacks, language="en")
    result, detail, rows = _pages(hq_client, upload, language="zh-hans")
    for page in (result, detail):
        for text in CHINESE.values():
            assert text in page, text
        assert "must be hq" not in page and "is not a known organisation" not in page
    assert rows == [["line", "reason"], *([str(n), text] for n, text in CHINESE.items())]  # §12: same columns


def test_issue19_a_services_refusal_is_shown_in_the_readers_language(
        hq_client, django_capture_on_commit_callbacks):
    """A line the service refuses (its words formatted before they were raised) is recognised in the catalogue,
    so the English reader reads the service's English words, field by field."""
    b = make_branch()
    content = csv_bytes(COLUMNS["reservations"], [
        [b.staff.staff_no, "NO_SUCH_TYPE", "王五", make_id_number(), "13800000000", "2026-03-02T09:30:00+08:00", ""]])
    upload = _upload(hq_client, content, django_capture_on_commit_callbacks, language="zh-hans",
                     kind="reservations", name="r.csv")
    _result, detail, rows = _pages(hq_client, upload, language="en")
    english = "relationship_type: “NO_SUCH_TYPE” is not a relationship type that can be reserved."
    assert _html(english) in detail and rows[1] == ["2", english]
    _result, detail, rows = _pages(hq_client, upload, language="zh-hans")
    assert rows[1] == ["2", "relationship_type: “NO_SUCH_TYPE”不是可预约的客户关系类型。"]


def test_issue19_a_row_stored_before_reasons_were_messages_still_shows(hq_client, django_capture_on_commit_callbacks):
    """An old row holds only the reason's text, in its uploader's language: it shows as it is."""
    upload = _upload(hq_client, ORG, django_capture_on_commit_callbacks, language="zh-hans")
    FeedFile.objects.filter(pk=upload.feed_id).update(errors=[{"line": 3, "reason": CHINESE[3]}])
    result, detail, rows = _pages(hq_client, upload, language="en")
    assert CHINESE[3] in result and CHINESE[3] in detail
    assert rows == [["line", "reason"], ["3", CHINESE[3]]]


def test_issue19_load_feed_prints_the_refusals_in_the_language_it_runs_in(tmp_path, capsys):
    from django.core.management import call_command

    path = tmp_path / "org.csv"
    path.write_bytes(ORG)
    with translation.override("en"), pytest.raises(SystemExit):
        call_command("load_feed", "org", str(path))
    err = capsys.readouterr().err
    assert f"{path}:3: {ENGLISH[3]}" in err and f"{path}:5: {ENGLISH[5]}" in err


# --- the messages themselves -------------------------------------------------------------------------------------

def test_issue19_a_message_renders_in_the_language_active_when_it_is_read():
    with translation.override("zh-hans"):
        made = Message("parent_code “%(code)s” is not a known organisation.", {"code": "X1"})
        assert made == "parent_code“X1”不是已知的机构。"
    stored = stored_line(7, made)
    assert stored == {"line": 7, "msg": "parent_code “%(code)s” is not a known organisation.",
                      "params": {"code": "X1"}}
    with translation.override("en"):
        assert render(stored) == "parent_code “X1” is not a known organisation."
    assert render({"line": 7, "reason": "旧的理由"}) == "旧的理由"


def test_issue19_a_validation_error_formatted_in_chinese_is_recognised_with_its_parameters():
    with translation.override("zh-hans"):
        exc = ValidationError({"relationship_type": [_("“%(code)s” is not a relationship type that can be reserved.")
                                                     % {"code": "ZZ"}],
                               "id_number": [_("Give the reason for the change.")]})
        message = from_validation_error(exc)
    with translation.override("en"):
        assert str(from_json(message.as_json())) == ("relationship_type: “ZZ” is not a relationship type that can "
                                                     "be reserved.; id_number: Give the reason for the change.")


def test_issue19_a_validation_error_with_params_keeps_them():
    with translation.override("zh-hans"):
        exc = ValidationError(_("participant “%(p)s” must be staff_no:ratio of a known staff member."),
                              params={"p": "S9:1"})
        message = from_validation_error(exc)
    assert message.as_json() == {"msg": "participant “%(p)s” must be staff_no:ratio of a known staff member.",
                                 "params": {"p": "S9:1"}}


def test_issue19_a_text_the_catalogue_does_not_know_stays_as_it_is():
    exc = ValidationError("duplicate key value violates unique constraint")
    assert stored_line(2, from_validation_error(exc)) == {"line": 2, "reason": "duplicate key value violates "
                                                                               "unique constraint"}


def test_issue19_a_failed_upload_says_why_in_the_readers_language(hq_client, django_capture_on_commit_callbacks):
    """The reason a whole file failed is a message too: the English reader reads English, the row keeps the text
    as worded when it failed (an upload from before has only that)."""
    upload = _upload(hq_client, b"code,name\nHQ,HQ\n", django_capture_on_commit_callbacks, language="zh-hans")
    assert upload.status == "failed" and upload.error_message == {"msg": "%(file)s: missing columns %(cols)s.",
                                                                  "params": {"file": "org.csv",
                                                                             "cols": "kind, parent_code, region"}}
    english = "org.csv: missing columns kind, parent_code, region."
    page = hq_client.get(f"/reservations/feeds/uploads/{upload.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert english in page and upload.error not in page
    assert english in hq_client.get("/reservations/feeds/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    FeedUpload.objects.filter(pk=upload.pk).update(error_message=None)  # as stored before
    page = hq_client.get(f"/reservations/feeds/uploads/{upload.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert upload.error in page
