"""§6 — the nightly matching, on the real PostgreSQL."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from approvals.models import ApprovalCase
from relationships.models import AccountEvent, AuditEntry, Relationship, RelationshipShare
from reservations import matching
from reservations.models import BatchRun, Reservation
from tests.support.factories import BranchFactory, OutletFactory, StaffFactory, make_id_number
from tests.support.helpers import at, event_row, nightly, record_events, reserve

pytestmark = pytest.mark.django_db


def _status(reservation) -> str:
    reservation.refresh_from_db()
    return reservation.status


def test_on_time_reservation_matches_opening_and_creates_relationship_from_opening_date(staff, outlet):
    """R-MATCH-1: one on-time reservation, names agree → relationship with its ratios, from the opening date."""
    idn = make_id_number()
    colleague = StaffFactory(outlet=outlet)
    r = reserve(staff, id_number=idn, when=at("2026-03-02 09:00"),
                participants=[(staff, "0.6"), (colleague, "0.4")])
    record_events([event_row(when=at("2026-03-05 10:30"), id_number=idn, name="张三", outlet=outlet)])
    nightly("2026-03-05")
    assert _status(r) == "matched"
    rel = Relationship.objects.get(customer__events__isnull=False, type_id="NEW_DEV")
    assert rel.effective_from == dt.date(2026, 3, 5)
    assert sorted(rel.shares.values_list("staff__staff_no", "ratio")) == sorted(
        [(staff.staff_no, Decimal("0.6000")), (colleague.staff_no, Decimal("0.4000"))])
    assert AuditEntry.objects.filter(action="relationship.create", target_id=str(rel.pk)).exists()


def test_reservation_registered_on_last_day_of_month_matches_on_last_day_of_next_month(staff, outlet):
    """R-RES-2: 2026-01-31 → valid to the end of 2026-02-28."""
    idn = make_id_number()
    r = reserve(staff, id_number=idn, when=at("2026-01-31 10:00"))
    assert r.valid_until == dt.date(2026, 2, 28)
    record_events([event_row(when=at("2026-02-28 15:59"), id_number=idn, name="张三", outlet=outlet)])
    nightly("2026-02-28")
    assert _status(r) == "matched"


def test_opening_after_validity_does_not_match_and_reservation_expires(staff, outlet):
    """R-RES-2, R-MATCH-8."""
    idn = make_id_number()
    r = reserve(staff, id_number=idn, when=at("2026-01-31 10:00"))
    record_events([event_row(when=at("2026-03-01 09:31"), id_number=idn, name="张三", outlet=outlet)])
    nightly("2026-03-01")
    assert _status(r) == "expired"
    assert not Relationship.objects.exists()


def test_name_mismatch_flags_reservation_and_creates_nothing(staff, outlet):
    """R-MATCH-2: full-width and spaces are folded; a different name is flagged."""
    idn = make_id_number()
    ok = reserve(staff, id_number=idn, name=" 张 三 ", when=at("2026-03-02 09:00"))
    record_events([event_row(when=at("2026-03-03 10:00"), id_number=idn, name="张三", outlet=outlet)])
    idn2 = make_id_number()
    bad = reserve(staff, id_number=idn2, name="李四", when=at("2026-03-02 09:00"))
    record_events([event_row(when=at("2026-03-03 10:00"), id_number=idn2, name="李思", outlet=outlet)])
    nightly("2026-03-03")
    assert _status(ok) == "matched"
    assert _status(bad) == "flagged"
    assert "户名不一致" in Reservation.objects.get(pk=bad.pk).note_shown  # read in zh-hans
    trail = AuditEntry.objects.get(action="reservation.match_outcome", target_id=str(bad.pk))
    assert trail.before == {"status": "active"} and trail.after["status"] == "flagged"
    assert trail.actor_label == "nightly-batch"
    assert Relationship.objects.count() == 1


def test_r_match_2_a_misnamed_new_development_opening_is_recorded_as_flagged_not_as_without_reservation(
        staff, outlet):
    """R-MATCH-2: a securities opening is tried as BROKER_DEV (nobody reserved it) and as NEW_DEV (a reservation
    under another name): the opening's outcome is the flag, not "no reservation" from the empty type."""
    idn = make_id_number()
    bad = reserve(staff, id_number=idn, name="李四", when=at("2026-03-02 09:00"))
    record_events([event_row(when=at("2026-03-03 10:00"), id_number=idn, name="李思", outlet=outlet, event_id="MIS")])
    nightly("2026-03-03")
    assert _status(bad) == "flagged"
    assert AccountEvent.objects.get(event_id="MIS").match_outcome == "flagged"


def test_full_width_name_folds_to_half_width(staff, outlet):
    """R-MATCH-2: ＡＢＣ equals ABC after folding."""
    idn = make_id_number()
    r = reserve(staff, id_number=idn, name="ＪＯＨＮ　ＳＭＩＴＨ", when=at("2026-03-02 09:00"))
    record_events([event_row(when=at("2026-03-03 10:00"), id_number=idn, name="John Smith", outlet=outlet)])
    nightly("2026-03-03")
    assert _status(r) == "matched"


def test_corrected_flagged_name_matches_on_the_next_night(staff, outlet):
    """R-MATCH-2: the staff corrects; the opening is matched again."""
    from reservations.services import reservation_correct_name

    idn = make_id_number()
    r = reserve(staff, id_number=idn, name="李四", when=at("2026-03-02 09:00"))
    record_events([event_row(when=at("2026-03-03 10:00"), id_number=idn, name="李思", outlet=outlet)])
    nightly("2026-03-03")
    reservation_correct_name(actor=staff.user, reservation_id=r.pk, staff=staff, customer_name="李思")
    nightly("2026-03-04")
    assert _status(r) == "matched"


def test_duplicate_reservations_of_two_staff_go_to_one_case_and_create_nothing(staff, outlet):
    """R-MATCH-3."""
    idn = make_id_number()
    other = StaffFactory(outlet=outlet)
    r1 = reserve(staff, id_number=idn, when=at("2026-03-02 09:00"))
    r2 = reserve(other, id_number=idn, when=at("2026-03-02 11:00"))
    record_events([event_row(when=at("2026-03-04 10:00"), id_number=idn, name="张三", outlet=outlet)])
    nightly("2026-03-04")
    assert not Relationship.objects.exists()
    case = ApprovalCase.objects.get()
    assert case.reason == "duplicate" and case.status == "pending"
    assert case.chain.code == "three_level"
    assert {_status(r1), _status(r2)} == {"pending_approval"}
    assert set(case.reservations.values_list("pk", flat=True)) == {r1.pk, r2.pk}


def test_late_reservation_in_batch_counted_across_holiday_and_adjusted_saturday(staff, outlet):
    """R-MATCH-4: opened 2026-09-30; National Day off, Sat 2026-10-10 worked → deadline 2026-10-15."""
    idn_ok, idn_late = make_id_number(), make_id_number()
    record_events([event_row(when=at("2026-09-30 10:00"), id_number=idn_ok, name="张三", outlet=outlet),
                 event_row(when=at("2026-09-30 10:00"), id_number=idn_late, name="张三", outlet=outlet)])
    ok = reserve(staff, id_number=idn_ok, when=at("2026-10-15 23:59"))
    late = reserve(staff, id_number=idn_late, when=at("2026-10-16 00:01"))
    nightly("2026-10-16")
    assert _status(ok) == "pending_approval"
    assert ApprovalCase.objects.get(reservations=ok).reason == "late"
    assert _status(late) == "refused"


def test_late_reservation_after_seventh_working_day_is_refused_at_registration(staff, outlet):
    """R-MATCH-4: once the opening is known, registration itself refuses after the window."""
    idn = make_id_number()
    record_events([event_row(when=at("2026-09-30 10:00"), id_number=idn, name="张三", outlet=outlet)])
    nightly("2026-09-30")
    with pytest.raises(ValidationError) as err:
        reserve(staff, id_number=idn, when=at("2026-10-16 09:00"))
    assert "2026-10-15" in str(err.value)
    assert not Reservation.objects.exists()


def test_late_reservation_within_window_opens_its_case_at_registration(staff, outlet):
    """R-MATCH-4: registered after a known opening, inside 7 working days → late case at once."""
    idn = make_id_number()
    record_events([event_row(when=at("2026-09-30 10:00"), id_number=idn, name="张三", outlet=outlet)])
    nightly("2026-09-30")
    r = reserve(staff, id_number=idn, when=at("2026-10-10 09:00"))
    assert r.status == "pending_approval"
    case = ApprovalCase.objects.get(pk=r.approval_case_id)
    assert case.reason == "late" and "晚于账户开立日期" in case.explanation


def test_cross_region_participant_sends_new_dev_to_cross_region_case(staff, outlet):
    """R-MATCH-5: a participant of another branch → both branches and HQ must confirm."""
    far = StaffFactory(outlet=OutletFactory(parent=BranchFactory()))
    idn = make_id_number()
    r = reserve(staff, id_number=idn, when=at("2026-03-02 09:00"), participants=[(staff, "0.5"), (far, "0.5")])
    record_events([event_row(when=at("2026-03-03 10:00"), id_number=idn, name="张三", outlet=outlet)])
    nightly("2026-03-03")
    case = ApprovalCase.objects.get()
    assert case.reason == "cross_region" and case.chain.code == "cross_region"
    assert _status(r) == "pending_approval"
    assert not Relationship.objects.exists()


def test_broker_development_always_goes_to_approval(outlet):
    """R-APR-5 / §4: BROKER_DEV never matches automatically."""
    broker = StaffFactory(outlet=outlet, kind="broker")
    idn = make_id_number()
    r = reserve(broker, id_number=idn, type_code="BROKER_DEV", when=at("2026-03-02 09:00"))
    record_events([event_row(when=at("2026-03-03 10:00"), id_number=idn, name="张三", outlet=outlet)])
    nightly("2026-03-03")
    assert ApprovalCase.objects.get().reason == "broker"
    assert _status(r) == "pending_approval"


@pytest.mark.parametrize("type_code,kind,account_type,existing", [
    ("CREDIT_DEV", "open", "credit", True),
    ("IB_SERVICE", "open", "futures", False),
    ("REPURCHASE_DEV", "repurchase_start", "repurchase", True),
])
def test_each_automatic_type_matches_its_own_event_kind(staff, outlet, type_code, kind, account_type, existing):
    """R-MATCH-1 per type: credit and repurchase need an existing customer; IB a futures opening."""
    idn = make_id_number()
    if existing:
        record_events([event_row(when=at("2025-01-02 10:00"), id_number=idn, name="张三", outlet=outlet)])
        nightly("2025-01-02")
    r = reserve(staff, id_number=idn, type_code=type_code, when=at("2026-03-02 09:00"))
    record_events([event_row(when=at("2026-03-03 10:00"), id_number=idn, name="张三", outlet=outlet, kind=kind,
                           account_type=account_type)])
    nightly("2026-03-03")
    assert _status(r) == "matched"
    assert Relationship.objects.filter(type_id=type_code).count() == 1


def test_credit_account_of_a_new_customer_is_not_credit_development(staff, outlet):
    """R-MATCH-1: CREDIT_DEV is for an existing customer only."""
    idn = make_id_number()
    r = reserve(staff, id_number=idn, type_code="CREDIT_DEV", when=at("2026-03-02 09:00"))
    record_events([event_row(when=at("2026-03-03 10:00"), id_number=idn, name="张三", outlet=outlet,
                           account_type="credit")])
    nightly("2026-03-03")
    assert _status(r) == "active"


def test_running_the_same_night_twice_changes_nothing(staff, outlet):
    """R-MATCH-6."""
    idn = make_id_number()
    reserve(staff, id_number=idn, when=at("2026-03-02 09:00"))
    record_events([event_row(when=at("2026-03-03 10:00"), id_number=idn, name="张三", outlet=outlet)])
    nightly("2026-03-03")
    snapshot = (Relationship.objects.count(), RelationshipShare.objects.count(), ApprovalCase.objects.count())
    nightly("2026-03-03")
    assert (Relationship.objects.count(), RelationshipShare.objects.count(),
            ApprovalCase.objects.count()) == snapshot
    assert BatchRun.objects.get(business_date=dt.date(2026, 3, 3), stage="match").counts["matched"] == 1


def _scenario(outlet, people, n: int, *, month: int, seq0: int) -> list[str]:
    """n customers opening on the 3rd of `month`: a third matched, a third duplicate, a third flagged."""
    from relationships.pii import pii_hash

    hashes, events = [], []
    for i in range(n):
        idn = make_id_number(seq=seq0 + i)
        hashes.append(pii_hash(idn))
        reserve(people[0], id_number=idn, when=at(f"2026-{month:02d}-02 09:00"),
                participants=[(people[0], "0.7"), (people[2], "0.3")])
        if i % 3 == 1:
            reserve(people[1], id_number=idn, when=at(f"2026-{month:02d}-02 10:00"))
        events.append(event_row(when=at(f"2026-{month:02d}-03 10:00"), id_number=idn,
                                name="王五" if i % 3 == 2 else "张三", outlet=outlet))
    record_events(events)
    return hashes


def _outcome(hashes: list[str]):
    """Everything the night decided for these customers, with customers replaced by their position."""
    pos = {h: i for i, h in enumerate(hashes)}
    return (
        sorted((pos[h], t) for h, t in Relationship.objects.filter(customer__id_hash__in=hashes)
               .values_list("customer__id_hash", "type_id")),
        sorted((pos[h], s, str(r)) for h, s, r in RelationshipShare.objects.filter(
            relationship__customer__id_hash__in=hashes).values_list(
            "relationship__customer__id_hash", "staff_id", "ratio")),
        sorted((pos[h], reason) for h, reason in ApprovalCase.objects.filter(customer__id_hash__in=hashes)
               .values_list("customer__id_hash", "reason")),
        sorted((pos[h], s, st) for h, s, st in Reservation.objects.filter(id_hash__in=hashes)
               .values_list("id_hash", "staff_id", "status")),
    )


def test_a_run_killed_between_units_resumes_to_the_same_result_as_a_clean_run(outlet, monkeypatch, settings):
    """R-MATCH-6: raise after two committed units; the re-run ends identical to one clean run."""
    settings.MATCH_CHUNK_SIZE = 4
    people = [StaffFactory(outlet=outlet) for _ in range(3)]
    crashed = _scenario(outlet, people, 15, month=3, seq0=0)

    def crash(units_done):
        if units_done == 2:
            raise RuntimeError("killed")
    monkeypatch.setattr(matching, "_after_unit_committed", crash)
    with pytest.raises(RuntimeError):
        nightly("2026-03-03")
    run = BatchRun.objects.get(stage="match")
    assert run.status == "failed" and "killed" in run.error
    assert AccountEvent.objects.filter(match_state="done").count() == 8  # two units of four committed
    monkeypatch.setattr(matching, "_after_unit_committed", lambda n: None)
    nightly("2026-03-03")
    run.refresh_from_db()
    assert run.status == "succeeded" and run.attempts == 2

    clean = _scenario(outlet, people, 15, month=4, seq0=500)
    nightly("2026-04-03")
    assert _outcome(crashed) == _outcome(clean)
    rels, shares, cases, reservations = _outcome(crashed)
    assert len(rels) == 5 and len(shares) == 10 and len(cases) == 5
    assert sum(1 for r in reservations if r[2] == "flagged") == 5


def test_attach_permission_closed_before_the_opening_flags_instead_of_attaching(staff, outlet):
    """R-ATT-1 at match time: nothing attaches to a staff whose attach permission is closed."""
    idn = make_id_number()
    r = reserve(staff, id_number=idn, when=at("2026-03-02 09:00"))
    staff.attach_open = False
    staff.save()
    record_events([event_row(when=at("2026-03-03 10:00"), id_number=idn, name="张三", outlet=outlet)])
    nightly("2026-03-03")
    assert _status(r) == "flagged"
    assert not Relationship.objects.exists()


def test_event_arriving_late_for_an_earlier_date_is_matched_on_the_next_run(staff, outlet):
    """R-MATCH-6: the 3 March opening reaches us only after the 3 March run."""
    idn = make_id_number()
    r = reserve(staff, id_number=idn, when=at("2026-03-02 09:00"))
    nightly("2026-03-03")
    record_events([event_row(when=at("2026-03-03 10:00"), id_number=idn, name="张三", outlet=outlet)])
    nightly("2026-03-04")
    assert _status(r) == "matched"
    assert Relationship.objects.get().effective_from == dt.date(2026, 3, 3)


def test_late_arriving_opening_inside_validity_still_matches_an_already_expired_reservation(staff, outlet):
    """R-RES-2 + R-MATCH-6: validity is judged at the opening, not at the day the event arrived."""
    idn = make_id_number()
    r = reserve(staff, id_number=idn, when=at("2026-01-31 10:00"))
    nightly("2026-03-01")
    assert _status(r) == "expired"
    record_events([event_row(when=at("2026-02-27 10:00"), id_number=idn, name="张三", outlet=outlet)])
    nightly("2026-03-02")
    assert _status(r) == "matched"


def test_ledger_records_counts_per_stage(staff, outlet):
    """R-MATCH-7: events read, matched, sent to approval, flagged, expired."""
    idn, idn2 = make_id_number(), make_id_number()
    reserve(staff, id_number=idn, when=at("2026-03-02 09:00"))
    reserve(staff, id_number=idn2, name="李四", when=at("2026-03-02 09:00"))
    reserve(staff, id_number=make_id_number(), when=at("2026-01-02 09:00"))
    record_events([event_row(when=at("2026-03-03 10:00"), id_number=idn, name="张三", outlet=outlet),
                 event_row(when=at("2026-03-03 10:00"), id_number=idn2, name="王五", outlet=outlet),
                 event_row(when=at("2026-03-03 11:00"), id_number=make_id_number(), name="赵六", outlet=outlet)])
    nightly("2026-03-03")
    match = BatchRun.objects.get(stage="match")
    assert match.status == "succeeded" and match.started_at <= match.finished_at
    assert (match.counts["events_read"], match.counts["matched"], match.counts["flagged"]) == (3, 1, 1)
    assert BatchRun.objects.get(stage="expire").counts == {"expired": 1}
