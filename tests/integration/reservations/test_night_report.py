"""The night report: what one business date's matching did, with reasons, downloadable (R-MATCH-7, issue 7)."""
from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from reservations.models import ReservationStatus
from tests.support.factories import OutletFactory, RoleFactory, StaffFactory, make_id_number
from tests.support.helpers import ID18, at, event_row, load_events, nightly, reserve

pytestmark = pytest.mark.django_db

DAY = "2026-03-03"


@pytest.fixture
def night():
    outlet = OutletFactory()
    staff = StaffFactory(outlet=outlet)
    matched_id, mismatched_id, lone_id = (make_id_number(seq=s) for s in (501, 502, 503))
    matched = reserve(staff, id_number=matched_id, name="张三", when=at(f"{DAY} 09:00"))
    flagged = reserve(staff, id_number=mismatched_id, name="李四", when=at(f"{DAY} 09:00"))
    load_events([event_row(when=at(f"{DAY} 10:00"), id_number=matched_id, name="张三", outlet=outlet),
                 event_row(when=at(f"{DAY} 10:00"), id_number=mismatched_id, name="李思", outlet=outlet),
                 event_row(when=at(f"{DAY} 10:00"), id_number=lone_id, name="王五", outlet=outlet)])
    nightly(DAY)
    matched.refresh_from_db()
    flagged.refresh_from_db()
    assert (matched.status, flagged.status) == (ReservationStatus.MATCHED, ReservationStatus.FLAGGED)
    branch_user = RoleFactory(kind="branch", organisation=outlet.branch).user
    return {"outlet": outlet, "matched": matched, "flagged": flagged, "branch_user": branch_user,
            "ids": (matched_id, mismatched_id, lone_id)}


def _csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.getvalue().decode("utf-8-sig"))))


def test_r_match_7_night_report_shows_outcomes_and_the_flagged_reservation_with_its_reason(client, night):
    client.force_login(night["branch_user"])
    page = client.get(f"/reservations/runs/{DAY}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "matched, relationship created" in page and "no reservation" in page
    assert f'/reservations/{night["flagged"].pk}/' in page
    assert "differs from the name on the account" in page and "户名不一致" not in page  # the reader's language
    assert "[R-" not in page  # the reason in words, without the rule's code
    assert f'/reservations/{night["matched"].pk}/' not in page  # only the refused and flagged are listed
    assert f"/reservations/runs/{DAY}/outcomes.csv" in page
    assert f'href="/reservations/runs/{DAY}/"' in client.get("/reservations/runs/").content.decode()


def test_r_match_7_night_file_has_a_line_per_opening_and_reservation_with_masked_ids(client, night):
    client.force_login(night["branch_user"])
    rows = _csv(client.get(f"/reservations/runs/{DAY}/outcomes.csv", HTTP_ACCEPT_LANGUAGE="en"))
    header, lines = rows[0], rows[1:]
    assert len(lines) == 3 and header[-1] == "reason"
    by_reservation = {line[6]: line for line in lines}
    with translation.override("en"):  # the note in the reader's language (issue 19)
        assert by_reservation[str(night["flagged"].pk)][-1] == night["flagged"].note_shown
    assert "name on the account opened on" in by_reservation[str(night["flagged"].pk)][-1]
    assert by_reservation[""][5] == "no reservation"  # the opening nobody reserved
    text = "\n".join(",".join(line) for line in rows)
    assert not ID18.search(text) and not any(idn in text for idn in night["ids"])


def test_r_perm_4_another_branch_sees_none_of_the_night_and_staff_get_404(client, night):
    other = RoleFactory(kind="branch", organisation=OutletFactory().branch).user
    client.force_login(other)
    page = client.get(f"/reservations/runs/{DAY}/").content.decode()
    assert f'/reservations/{night["flagged"].pk}/' not in page
    assert len(_csv(client.get(f"/reservations/runs/{DAY}/outcomes.csv"))) == 1  # the header only
    client.force_login(night["matched"].staff.user)
    assert client.get(f"/reservations/runs/{DAY}/").status_code == 404
    assert client.get(f"/reservations/runs/{DAY}/outcomes.csv").status_code == 404
    client.force_login(night["branch_user"])
    assert client.get("/reservations/runs/2026-03-04/").status_code == 404  # no run that date
    assert client.get("/reservations/runs/not-a-date/").status_code == 404


def test_night_report_and_file_query_counts_do_not_grow_with_openings(client, night):
    """3 openings on one night, 20 on the next: the same number of queries for the page and for the file."""
    client.force_login(night["branch_user"])
    later = "2026-03-04"
    staff = StaffFactory(outlet=night["outlet"])
    rows = []
    for i in range(20):
        idn = make_id_number(seq=600 + i)
        reserve(staff, id_number=idn, name=f"客户{i}", when=at(f"{later} 09:00"))
        rows.append(event_row(when=at(f"{later} 11:00"), id_number=idn, name=f"客户{i}x", outlet=night["outlet"]))
    load_events(rows)
    nightly(later)
    assert len(_csv(client.get(f"/reservations/runs/{later}/outcomes.csv"))) == 1 + 20
    for suffix in ("", "outcomes.csv"):
        counts = []
        for day in (DAY, later):
            with CaptureQueriesContext(connection) as captured:
                response = client.get(f"/reservations/runs/{day}/{suffix}")
                response.getvalue()
            counts.append(len(captured.captured_queries))
        assert counts[1] <= counts[0], (suffix, counts)
