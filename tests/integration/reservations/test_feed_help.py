"""Issue 19: the upload page says, for every feed kind, its columns and what each means, offers a sample file,
and says what happens to bad lines — all from the loaders' own column lists."""
from __future__ import annotations

import csv
import io
import re

import pytest
from django.urls import reverse

from reservations.exchange.columns import MEANINGS, SAMPLES
from reservations.exchange.registry import LOADERS, load_feed
from tests.support.factories import HQFactory, RoleFactory, StaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def hq(client):
    client.force_login(RoleFactory(kind="hq", organisation=HQFactory()).user)
    return client


def test_every_column_of_every_feed_has_a_meaning_and_every_sample_line_its_width():
    for kind, feed in LOADERS.items():
        columns = [*feed.columns, *feed.optional]
        assert set(MEANINGS[kind]) == set(columns), kind
        assert SAMPLES[kind] and all(len(line) == len(columns) for line in SAMPLES[kind]), kind


def test_the_upload_page_lists_each_feed_its_columns_and_what_happens_to_bad_lines(hq):
    html = hq.get("/reservations/feeds/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "What happens to bad lines" in html and "the good lines are loaded all the same" in html
    for kind, feed in LOADERS.items():
        assert reverse("reservations:feed_sample", args=[kind]) in html
        for column in feed.columns:
            assert f"<code>{column}</code>" in html
    assert "End-of-day assets in yuan" in html
    chinese = hq.get("/reservations/feeds/").content.decode()
    assert "错误行如何处理" in chinese and "日终资产" in chinese
    # The help is one section of the page's content: not in its <title>, not in the breadcrumbs.
    assert html.count('id="formats"') == 1
    title = html[html.index("<title>"):html.index("</title>")]
    assert "<section" not in title and "File formats" not in title


def _sample(client, kind: str) -> list[list[str]]:
    response = client.get(reverse("reservations:feed_sample", args=[kind]))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_sample_files_have_the_loaders_header_and_load_without_a_refused_line(hq):
    for kind, feed in LOADERS.items():
        rows = _sample(hq, kind)
        assert rows[0] == [*feed.columns, *feed.optional], kind
    # The samples that need no earlier state load cleanly, in the order the feeds depend on each other.
    for kind in ("org", "staff", "reservations", "account_events", "metrics"):
        content = hq.get(reverse("reservations:feed_sample", args=[kind])).content
        result = load_feed(actor="test", kind=kind, content=content, filename=f"{kind}-sample.csv")
        assert result.errors == [] and result.rows_loaded == len(SAMPLES[kind]), (kind, result.errors)


def test_sample_files_are_for_hq_and_an_unknown_kind_answers_404(client, hq):
    assert hq.get("/reservations/feeds/samples/planets.csv").status_code == 404
    client.force_login(StaffFactory().user)
    assert client.get(reverse("reservations:feed_sample", args=["org"])).status_code == 403


def _formats_section(html: str) -> str:
    return html[html.index('<section class="card" id="formats"'):html.index("</section>", html.index('id="formats"'))]


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_help_marks_literal_file_values_as_code_and_words_the_rest_in_the_readers_language(hq, language):
    """Issue 19: codes a column takes, other columns' names and a date's format are the file's, in <code>; the
    sentence around them is in the reader's language (in Chinese: no English word outside <code>)."""
    html = hq.get("/reservations/feeds/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
    section = _formats_section(html)
    for code in ("open", "cancel_designation", "repurchase_start", "account_manager", "outlet_code", "YYYY-MM-DD",
                 "staff_no:ratio", "MAINTENANCE", "true", "workday", "UTF-8", "2026-03-02T09:31:00+08:00"):
        assert f"<code>{code}</code>" in section, code
    words = re.sub(r"<code>.*?</code>|<[^>]+>", " ", section)
    assert not re.search(r"(?<![\w-])[a-z]+_[a-z_]+", words), "a column name or code outside <code>"
    label = html[html.index('<label for="id_file">'):].split("</label>")[0]
    assert "<code>UTF-8</code>" in label
    if language == "zh-hans":
        assert "<code>open</code>（开户）" in section and "时区偏移" in section
        english = set(re.findall(r"[A-Za-z]{3,}", words)) - {"CSV", "Excel", "xlsx"}
        assert not english, english
    else:
        assert "<code>open</code>, <code>close</code>" in section and "offset from UTC" in section
