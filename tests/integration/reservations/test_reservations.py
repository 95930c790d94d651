"""§5 — registering reservations: the same rules for the form, the feed and the services."""
from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from relationships.identity import normalise_id_number, normalise_phone
from relationships.models import AuditEntry, Qualification
from relationships.pii import decrypt, pii_hash
from reservations.models import Reservation, ReservationParticipant
from reservations.services import reservation_withdraw, validity_end
from tests.support.factories import OutletFactory, StaffFactory, make_id_number
from tests.support.helpers import at, event_row, nightly, record_events, reserve

pytestmark = pytest.mark.django_db


# --- R-RES-3: ID numbers and phones ---------------------------------------------------------------------

def test_valid_id_number_passes_and_lowercase_x_is_upper_cased():
    assert normalise_id_number("11010519491231002x") == "11010519491231002X"


def test_id_number_with_wrong_check_digit_is_refused():
    with pytest.raises(ValidationError, match="check digit|校验"):
        normalise_id_number("110105194912310021")


def test_id_number_with_impossible_birth_date_is_refused():
    first17 = "11010519490230002"  # 30 February
    from relationships.identity import id_check_digit
    with pytest.raises(ValidationError):
        normalise_id_number(first17 + id_check_digit(first17))


def test_fifteen_digit_legacy_number_is_converted_to_eighteen():
    assert normalise_id_number("110105491231002") == "11010519491231002X"


@pytest.mark.parametrize("raw", ["1101051949123100", "11010519491231002Y", "", "abcdefghijklmnopqr"])
def test_malformed_id_numbers_are_refused(raw):
    with pytest.raises(ValidationError):
        normalise_id_number(raw)


@pytest.mark.parametrize("raw,expected", [("13812345678", "13812345678"), ("+86 138 1234 5678", "13812345678"),
                                          ("021-62345678", "021-62345678"), ("010 87654321", "01087654321")])
def test_mainland_mobile_and_fixed_line_phones_pass(raw, expected):
    assert normalise_phone(raw) == expected


@pytest.mark.parametrize("raw", ["12812345678", "1381234567", "62345678", "phone"])
def test_other_phone_numbers_are_refused(raw):
    with pytest.raises(ValidationError):
        normalise_phone(raw)


def test_bad_fields_are_reported_by_field_and_nothing_is_saved():
    staff = StaffFactory()
    with pytest.raises(ValidationError) as err:
        reserve(staff, id_number="110105194912310021", name="", phone="123", when=at("2026-03-02 09:00"))
    assert set(err.value.message_dict) == {"id_number", "customer_name", "phone"}
    assert not Reservation.objects.exists()


# --- R-RES-4: ratios --------------------------------------------------------------------------------------

def test_ratios_summing_to_exactly_one_are_accepted():
    staff = StaffFactory()
    a, b = StaffFactory(outlet=staff.outlet), StaffFactory(outlet=staff.outlet)
    r = reserve(staff, id_number=make_id_number(), when=at("2026-03-02 09:00"),
                participants=[(staff, "0.5"), (a, "0.3"), (b, "0.2")])
    assert sum(p.ratio for p in r.participants.all()) == 1


def test_ratios_summing_to_1_0001_are_refused():
    staff = StaffFactory()
    a = StaffFactory(outlet=staff.outlet)
    with pytest.raises(ValidationError) as err:
        reserve(staff, id_number=make_id_number(), when=at("2026-03-02 09:00"),
                participants=[(staff, "0.6"), (a, "0.4001")])
    assert "participants" in err.value.message_dict
    assert not Reservation.objects.exists() and not ReservationParticipant.objects.exists()


@pytest.mark.parametrize("ratio", ["0", "-0.1", "0.12345", "abc", "1.5"])
def test_ratio_must_be_positive_with_at_most_four_places(ratio):
    staff = StaffFactory()
    with pytest.raises(ValidationError):
        reserve(staff, id_number=make_id_number(), when=at("2026-03-02 09:00"), participants=[(staff, ratio)])


def test_unallocated_part_stays_with_no_one():
    """R-RES-4: 0.6 alone is fine; 0.4 is simply not allocated."""
    staff = StaffFactory()
    r = reserve(staff, id_number=make_id_number(), when=at("2026-03-02 09:00"), participants=[(staff, "0.6")])
    assert [str(p.ratio) for p in r.participants.all()] == ["0.6000"]


def test_broker_development_allows_exactly_one_holder_with_ratio_one():
    broker = StaffFactory(kind="broker")
    other = StaffFactory(kind="broker", outlet=broker.outlet)
    with pytest.raises(ValidationError, match="BROKER|开发关系|exactly one|一名"):
        reserve(broker, id_number=make_id_number(), type_code="BROKER_DEV", when=at("2026-03-02 09:00"),
                participants=[(broker, "0.5"), (other, "0.5")])
    r = reserve(broker, id_number=make_id_number(), type_code="BROKER_DEV", when=at("2026-03-02 09:00"))
    assert r.participants.get().ratio == 1


# --- R-ATT-1: attach permission and qualification ---------------------------------------------------------

def test_staff_without_open_attach_permission_cannot_reserve():
    staff = StaffFactory(attach_open=False)
    with pytest.raises(ValidationError) as err:
        reserve(staff, id_number=make_id_number(), when=at("2026-03-02 09:00"))
    assert "participants" in err.value.message_dict


def test_lapsed_qualification_counts_as_absent():
    """R-ORG-4."""
    staff = StaffFactory(qualifications=[])
    Qualification.objects.create(staff=staff, kind="securities", valid_from=dt.date(2020, 1, 1),
                                 valid_to=dt.date(2026, 2, 28))
    with pytest.raises(ValidationError):
        reserve(staff, id_number=make_id_number(), when=at("2026-03-02 09:00"))


def test_ib_service_needs_futures_qualification():
    staff = StaffFactory(qualifications=["securities"])
    with pytest.raises(ValidationError):
        reserve(staff, id_number=make_id_number(), type_code="IB_SERVICE", when=at("2026-03-02 09:00"))


def test_front_staff_cannot_reserve_broker_development():
    staff = StaffFactory(kind="account_manager")
    with pytest.raises(ValidationError):
        reserve(staff, id_number=make_id_number(), type_code="BROKER_DEV", when=at("2026-03-02 09:00"))


# --- R-RES-2, R-RES-5, R-RES-6, R-PII-1 -------------------------------------------------------------------

@pytest.mark.parametrize("registered,valid_until", [
    ("2026-01-31 10:00", dt.date(2026, 2, 28)), ("2026-01-15 23:30", dt.date(2026, 2, 15)),
    ("2026-12-31 08:00", dt.date(2027, 1, 31)), ("2028-01-30 08:00", dt.date(2028, 2, 29)),
])
def test_validity_is_one_calendar_month(registered, valid_until):
    assert validity_end(at(registered)) == valid_until


def test_reservation_for_customer_already_holding_the_type_names_the_outlet_not_the_holder():
    outlet = OutletFactory(name="上海浦东营业部")
    holder = StaffFactory(outlet=outlet, name="王经理")
    idn = make_id_number()
    reserve(holder, id_number=idn, when=at("2026-03-02 09:00"))
    record_events([event_row(when=at("2026-03-03 10:00"), id_number=idn, name="张三", outlet=outlet)])
    nightly("2026-03-03")
    other = StaffFactory()
    with pytest.raises(ValidationError) as err:
        reserve(other, id_number=idn, when=at("2026-03-05 09:00"))
    text = " ".join(err.value.message_dict["id_number"])
    assert "上海浦东营业部" in text and "王经理" not in text


def test_same_staff_cannot_hold_two_open_reservations_for_one_customer_and_type():
    staff = StaffFactory()
    idn = make_id_number()
    reserve(staff, id_number=idn, when=at("2026-03-02 09:00"))
    with pytest.raises(ValidationError):
        reserve(staff, id_number=idn, when=at("2026-03-02 09:05"))
    assert Reservation.objects.count() == 1


def test_staff_withdraws_own_reservation_and_the_withdrawal_is_logged():
    staff = StaffFactory()
    r = reserve(staff, id_number=make_id_number(), when=at("2026-03-02 09:00"))
    reservation_withdraw(actor=staff.user, reservation_id=r.pk, staff=staff)
    r.refresh_from_db()
    assert r.status == "withdrawn"
    entry = AuditEntry.objects.get(action="reservation.withdraw", target_id=str(r.pk))
    assert entry.before == {"status": "active"} and entry.actor == staff.user


def test_another_staff_cannot_withdraw_a_reservation():
    staff = StaffFactory()
    r = reserve(staff, id_number=make_id_number(), when=at("2026-03-02 09:00"))
    with pytest.raises(ValidationError):
        reservation_withdraw(actor=None, reservation_id=r.pk, staff=StaffFactory())


def test_matched_reservation_can_no_longer_be_withdrawn():
    staff = StaffFactory()
    idn = make_id_number()
    r = reserve(staff, id_number=idn, when=at("2026-03-02 09:00"))
    record_events([event_row(when=at("2026-03-03 10:00"), id_number=idn, name="张三", outlet=staff.outlet)])
    nightly("2026-03-03")
    with pytest.raises(ValidationError):
        reservation_withdraw(actor=staff.user, reservation_id=r.pk, staff=staff)


def test_id_number_and_phone_are_stored_encrypted_beside_a_keyed_hash():
    """R-PII-1: no plain ID number or phone in the row."""
    staff = StaffFactory()
    idn = make_id_number()
    r = reserve(staff, id_number=idn, phone="13812345678", when=at("2026-03-02 09:00"))
    with connection.cursor() as cur:
        cur.execute("SELECT row_to_json(r)::text FROM reservations_reservation r WHERE id = %s", [r.pk])
        raw = cur.fetchone()[0]
    assert idn not in raw and "13812345678" not in raw
    assert r.id_hash == pii_hash(idn) and decrypt(r.id_encrypted) == idn
    assert r.id_masked == idn[:6] + "********" + idn[-4:] and r.phone_masked == "138****5678"


def test_audit_trail_refuses_update_and_delete_in_the_database():
    """Append-only audit, enforced by a trigger."""
    from django.db import DatabaseError, transaction

    staff = StaffFactory()
    reserve(staff, id_number=make_id_number(), when=at("2026-03-02 09:00"))
    entry = AuditEntry.objects.first()
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEntry.objects.filter(pk=entry.pk).update(action="tampered")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEntry.objects.filter(pk=entry.pk).delete()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_double_submit_from_two_connections_creates_one_reservation():
    """Concurrency is the database's job: the partial unique index lets exactly one insert win."""
    staff = StaffFactory()
    idn = make_id_number()
    results, barrier = [], threading.Barrier(8)

    def submit():
        try:
            barrier.wait()
            reserve(staff, id_number=idn, when=at("2026-03-02 09:00"))
            results.append("ok")
        except ValidationError:
            results.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("ok") == 1 and results.count("refused") == 7
    assert Reservation.objects.count() == 1


def test_secondary_development_reservation_needs_a_pre_assignment():
    """R-SEC-4: without the branch's pre-assignment, SECONDARY_DEV is refused (special new is the way, R-SEC-5)."""
    staff = StaffFactory()
    with pytest.raises(ValidationError) as err:
        reserve(staff, id_number=make_id_number(), type_code="SECONDARY_DEV", when=at("2026-03-02 09:00"))
    assert "relationship_type" in err.value.message_dict
    assert not Reservation.objects.exists()
