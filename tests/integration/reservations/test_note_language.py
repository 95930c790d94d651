"""Issue 19: a reservation's note written by the system (the night's matching, an approval case's end) is stored as
a message — its msgid and parameters — and read in the reader's language on the list, the detail page, the
export, the night report and the history, whatever the language of the night that wrote it. A note typed by a
person is data and is shown as typed; a note stored as text before notes were messages is recognised once by the
migration (or, in the append-only trail, when it is read)."""
from __future__ import annotations

import csv
import importlib
import io

import pytest
from django.apps import apps
from django.utils import translation

from relationships.models import AuditEntry
from reservations.models import Reservation, ReservationStatus
from reservations.selectors import reservation_history
from tests.support.factories import OutletFactory, RoleFactory, StaffFactory, make_id_number
from tests.support.helpers import at, event_row, load_events, nightly, reserve

pytestmark = pytest.mark.django_db

DAY = "2026-03-03"
ENGLISH = f"The customer name differs from the name on the account opened on {DAY}."
CHINESE = f"客户姓名与{DAY}开立账户的户名不一致。"


@pytest.fixture
def flagged():
    """A reservation the night (run in zh-hans) flagged for a different name, and a branch user who reads it."""
    outlet = OutletFactory()
    staff = StaffFactory(outlet=outlet)
    idn = make_id_number(seq=601)
    reservation = reserve(staff, id_number=idn, name="李四", when=at(f"{DAY} 09:00"))
    load_events([event_row(when=at(f"{DAY} 10:00"), id_number=idn, name="李思", outlet=outlet)])
    with translation.override("zh-hans"):
        nightly(DAY)
    reservation.refresh_from_db()
    assert reservation.status == ReservationStatus.FLAGGED
    return reservation, RoleFactory(kind="branch", organisation=outlet.branch).user


def _csv(response) -> str:
    return "\n".join(",".join(row) for row in csv.reader(io.StringIO(response.getvalue().decode("utf-8-sig"))))


def test_the_night_stores_its_note_as_a_message_not_as_text_in_its_own_language(flagged):
    reservation, _user = flagged
    assert reservation.status_note == ""
    assert reservation.status_message == {
        "msg": "The customer name differs from the name on the account opened on %(date)s.", "params": {"date": DAY}}
    trail = AuditEntry.objects.get(action="reservation.match_outcome", target_id=str(reservation.pk))
    assert trail.after["note"] == reservation.status_message  # the trail keeps the message too


@pytest.mark.parametrize(("language", "shown", "other"), [("en", ENGLISH, CHINESE), ("zh-hans", CHINESE, ENGLISH)])
def test_a_note_written_by_the_night_reads_in_the_readers_language(client, flagged, language, shown, other):
    reservation, user = flagged
    client.force_login(user)
    pages = [client.get(url, HTTP_ACCEPT_LANGUAGE=language).content.decode()
             for url in ("/reservations/", f"/reservations/{reservation.pk}/", f"/reservations/runs/{DAY}/")]
    pages.append(_csv(client.get("/reservations/?_export=csv", HTTP_ACCEPT_LANGUAGE=language)))
    pages.append(_csv(client.get(f"/reservations/runs/{DAY}/outcomes.csv", HTTP_ACCEPT_LANGUAGE=language)))
    for page in pages:
        assert shown in page and other not in page
    with translation.override(language):
        assert shown in [h["reason"] for h in reservation_history(reservation)], reservation_history(reservation)


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_a_typed_note_is_shown_as_typed_in_both_languages(flagged, language):
    reservation, _user = flagged
    Reservation.objects.filter(pk=reservation.pk).update(status_note="客户决定暂不开户", status_message=None)
    reservation.refresh_from_db()
    with translation.override(language):
        assert reservation.note_shown == "客户决定暂不开户"


def test_the_migration_turns_an_old_chinese_note_into_its_message_and_leaves_typed_notes(flagged):
    reservation, _user = flagged
    typed = reserve(reservation.staff, id_number=make_id_number(seq=602), name="王五", when=at(f"{DAY} 09:00"))
    Reservation.objects.filter(pk=reservation.pk).update(status_note=CHINESE, status_message=None)
    Reservation.objects.filter(pk=typed.pk).update(status="withdrawn", status_note="客户决定暂不开户")
    migration = importlib.import_module("reservations.migrations.0008_reservation_status_message")
    migration.notes_as_messages(apps, None)
    reservation.refresh_from_db()
    typed.refresh_from_db()
    assert (reservation.status_note, reservation.status_message["params"]) == ("", {"date": DAY})
    with translation.override("en"):
        assert reservation.note_shown == ENGLISH
    assert (typed.status_note, typed.status_message) == ("客户决定暂不开户", None)


def test_an_old_trail_entry_with_a_chinese_note_reads_in_english(flagged):
    reservation, _user = flagged
    # The trail is append-only: an entry written before notes were messages is added beside the night's.
    AuditEntry.objects.create(actor_label="nightly-batch", action="reservation.match_outcome",
                              target_model="reservations.reservation", target_id=str(reservation.pk),
                              before={"status": "active"}, after={"status": "flagged", "note": CHINESE})
    with translation.override("en"):
        assert [h["reason"] for h in reservation_history(reservation)][-1] == ENGLISH
