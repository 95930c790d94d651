"""R-MATCH-6: a unit of openings decides exactly as one-by-one processing would, whatever its size.

One customer's second opening (a second futures account the same day, the same opening re-sent under a
second event id, two securities accounts in the same second) used to make the whole unit fail on
`relationship_one_active_per_type`, that night and every night after (issue "the night never jams").
"""
from __future__ import annotations

import random

import pytest
from django.db import connection, transaction

from approvals.models import ApprovalCase
from relationships.models import AccountEvent, AuditEntry, Relationship
from relationships.pii import pii_hash
from reservations.models import BatchRun, Reservation
from tests.support.factories import BranchFactory, HQFactory, OutletFactory, RoleFactory, StaffFactory, make_id_number
from tests.support.helpers import at, event_row, load_events, nightly, reserve

pytestmark = pytest.mark.django_db

UNIT_SIZES = [1, 7, 5000]


def _event(event_id: str) -> AccountEvent:
    return AccountEvent.objects.get(event_id=event_id)


def _night_succeeded(day: str) -> bool:
    return BatchRun.objects.get(business_date=day, stage="match").status == "succeeded"


@pytest.mark.parametrize("unit_size", UNIT_SIZES)
def test_r_match_6_two_futures_openings_of_one_customer_on_one_day_give_one_ib_relationship(
        staff, outlet, settings, unit_size):
    settings.MATCH_CHUNK_SIZE = unit_size
    idn, other = make_id_number(), make_id_number()
    ib = reserve(staff, id_number=idn, type_code="IB_SERVICE", when=at("2026-03-02 09:00"))
    unrelated = reserve(StaffFactory(outlet=outlet), id_number=other, when=at("2026-03-02 09:00"))
    load_events([
        event_row(when=at("2026-03-03 10:00"), id_number=idn, name="张三", outlet=outlet, account_type="futures",
                  event_id="F-1"),
        event_row(when=at("2026-03-03 11:00"), id_number=other, name="张三", outlet=outlet, event_id="S-1"),
        event_row(when=at("2026-03-03 14:00"), id_number=idn, name="张三", outlet=outlet, account_type="futures",
                  event_id="F-2"),
    ])
    nightly("2026-03-03")
    assert _night_succeeded("2026-03-03")
    ib.refresh_from_db()
    unrelated.refresh_from_db()
    assert (ib.status, ib.matched_event.event_id) == ("matched", "F-1")
    assert unrelated.status == "matched"  # the unrelated reservation of the unit is not held hostage
    assert Relationship.objects.filter(type_id="IB_SERVICE").count() == 1
    assert (_event("F-1").match_outcome, _event("F-2").match_outcome) == ("matched", "already_held")


@pytest.mark.parametrize("unit_size", UNIT_SIZES)
def test_r_match_6_the_same_opening_resent_under_a_second_event_id_is_already_held(staff, outlet, settings,
                                                                                  unit_size):
    settings.MATCH_CHUNK_SIZE = unit_size
    idn = make_id_number()
    r = reserve(staff, id_number=idn, when=at("2026-03-02 09:00"))
    first = event_row(when=at("2026-03-03 10:00"), id_number=idn, name="张三", outlet=outlet, event_id="E-1")
    load_events([first, ["E-1-RESENT", *first[1:]]])
    nightly("2026-03-03")
    assert _night_succeeded("2026-03-03")
    r.refresh_from_db()
    assert (r.status, r.matched_event.event_id) == ("matched", "E-1")
    assert Relationship.objects.filter(type_id="NEW_DEV").count() == 1
    assert _event("E-1-RESENT").match_outcome == "already_held"


@pytest.mark.parametrize("unit_size", UNIT_SIZES)
def test_r_match_6_two_securities_accounts_opened_in_the_same_second_give_one_new_development(
        staff, outlet, settings, unit_size):
    settings.MATCH_CHUNK_SIZE = unit_size
    idn = make_id_number()
    r = reserve(staff, id_number=idn, when=at("2026-03-02 09:00"))
    load_events([event_row(when=at("2026-03-03 10:00"), id_number=idn, name="张三", outlet=outlet, event_id="A"),
                 event_row(when=at("2026-03-03 10:00"), id_number=idn, name="张三", outlet=outlet, event_id="B")])
    nightly("2026-03-03")
    assert _night_succeeded("2026-03-03")
    r.refresh_from_db()
    assert r.status == "matched"
    assert Relationship.objects.filter(type_id="NEW_DEV").count() == 1
    assert sorted([_event("A").match_outcome, _event("B").match_outcome]) == ["already_held", "matched"]


# --- property: any mix, any unit size, one result -------------------------------------------------------

class _Rollback(Exception):
    pass


def _generate(rng: random.Random, people: list, outlet, n_customers: int) -> tuple[list[str], list[list]]:
    """Customers with 0–3 claims (on time, late, misnamed) and 1–3 openings (re-sent, same second, next day)."""
    ids, events = [], []
    for i in range(n_customers):
        idn = make_id_number(seq=i)
        ids.append(idn)
        type_code, account_type = rng.choice([("NEW_DEV", "securities"), ("IB_SERVICE", "futures")])
        opened = at(f"2026-03-{rng.choice([3, 4]):02d} {rng.choice([10, 11])}:00")
        for who in rng.sample(people, rng.choice([0, 1, 1, 2, 3])):
            when = rng.choice([at("2026-03-02 09:00"), at("2026-03-02 15:00"), at("2026-03-06 09:00")])
            name = "李四" if rng.random() < 0.15 else "张三"
            reserve(who, id_number=idn, type_code=type_code, name=name, when=when)
        base = event_row(when=opened, id_number=idn, name="张三", outlet=outlet, account_type=account_type,
                         event_id=f"P{i:03d}-0")
        events.append(base)
        for k in range(1, rng.choice([1, 2, 2, 3]) + 1):
            shape = rng.choice(["resent", "same_second", "next_day"])
            if shape == "resent":
                events.append([f"P{i:03d}-{k}", *base[1:]])
            else:
                when = opened if shape == "same_second" else opened.replace(day=opened.day + 1)
                events.append(event_row(when=when, id_number=idn, name="张三", outlet=outlet,
                                        account_type=account_type, event_id=f"P{i:03d}-{k}"))
    rng.shuffle(events)  # the feed's order is not the opening order
    return ids, events


def _fingerprint(ids: list[str]) -> tuple:
    """What the night decided, in natural keys (row ids differ between the rolled-back runs)."""
    pos = {pii_hash(idn): i for i, idn in enumerate(ids)}
    rels = sorted(
        (pos[r.customer.id_hash], r.type_id, r.effective_from.isoformat(), r.origin_event.event_id,
         tuple(sorted((s.staff.staff_no, str(s.ratio)) for s in r.shares.all())))
        for r in Relationship.objects.select_related("customer", "origin_event").prefetch_related("shares__staff"))
    cases = sorted(
        (pos[c.customer.id_hash], c.type_id, c.reason, c.opening_event.event_id,
         tuple(sorted(r.staff.staff_no for r in c.reservations.all())))
        for c in ApprovalCase.objects.select_related("customer", "opening_event")
        .prefetch_related("reservations__staff"))
    reservations = sorted(
        (pos[r.id_hash], r.staff.staff_no, r.type_id, r.status, r.matched_event.event_id if r.matched_event else "")
        for r in Reservation.objects.select_related("staff", "matched_event"))
    outcomes = sorted(AccountEvent.objects.values_list("event_id", "match_state", "match_outcome"))
    return rels, cases, reservations, outcomes


@pytest.mark.parametrize("seed", [11, 23])
def test_r_match_6_a_generated_mix_gives_the_same_relationships_and_cases_for_unit_sizes_1_7_and_5000(
        outlet, settings, seed):
    far = OutletFactory(parent=BranchFactory())
    people = [StaffFactory(outlet=outlet) for _ in range(3)] + [StaffFactory(outlet=far)]
    results = {}
    for size in UNIT_SIZES:
        settings.MATCH_CHUNK_SIZE = size
        try:
            with transaction.atomic():
                ids, events = _generate(random.Random(seed), people, outlet, n_customers=40)
                load_events(events)
                nightly("2026-03-10")
                assert _night_succeeded("2026-03-10")
                results[size] = _fingerprint(ids)
                raise _Rollback
        except _Rollback:
            pass
    assert results[1] == results[7] == results[5000]
    rels, cases, reservations, outcomes = results[1]
    kinds = {o for _e, _s, o in outcomes}
    assert {"matched", "already_held"} <= kinds and any(k.startswith("case_") for k in kinds)  # a real mix
    assert len({(c, t) for c, t, *_ in rels}) == len(rels)  # one relationship per customer and type
    matched_events = [e for *_x, status, e in reservations if status == "matched"]
    assert len(matched_events) == len(rels)


# --- an unforeseen failure sets one event aside, the night goes on ---------------------------------------

FAIL_FOR_CUSTOMER = """
CREATE FUNCTION test_refuse_relationship() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.customer_id = %s THEN RAISE EXCEPTION 'refused by the test for customer %%', NEW.customer_id; END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER test_refuse_relationship BEFORE INSERT ON relationships_relationship
    FOR EACH ROW EXECUTE FUNCTION test_refuse_relationship();
"""


def test_r_match_6_a_unit_failing_on_an_unforeseen_row_is_retried_event_by_event_and_sets_that_event_aside(
        staff, outlet, settings, client):
    settings.MATCH_CHUNK_SIZE = 5000
    good1, bad, good2 = make_id_number(), make_id_number(), make_id_number()
    r1, rb, r2 = (reserve(staff, id_number=i, when=at("2026-03-02 09:00")) for i in (good1, bad, good2))
    load_events([event_row(when=at("2026-03-03 10:00"), id_number=i, name="张三", outlet=outlet, event_id=e)
                 for i, e in ((good1, "G1"), (bad, "BAD"), (good2, "G2"))])
    with connection.cursor() as cur:
        cur.execute(FAIL_FOR_CUSTOMER % _event("BAD").customer_id)
    nightly("2026-03-03")
    assert _night_succeeded("2026-03-03")
    for r in (r1, rb, r2):
        r.refresh_from_db()
    assert (r1.status, rb.status, r2.status) == ("matched", "active", "matched")
    event = _event("BAD")
    assert (event.match_state, event.match_outcome) == ("failed", "set_aside")
    assert "refused by the test" in event.match_error
    assert AuditEntry.objects.filter(action="account_event.set_aside", target_id=str(event.pk)).exists()
    assert BatchRun.objects.get(business_date="2026-03-03", stage="match").counts["set_aside"] == 1

    client.force_login(RoleFactory(kind="hq", organisation=HQFactory()).user)
    page = client.get("/reservations/runs/2026-03-03/").content.decode()
    assert "暂搁的开户" in page and "BAD" in page and "refused by the test" not in page

    with connection.cursor() as cur:
        cur.execute("DROP TRIGGER test_refuse_relationship ON relationships_relationship")
    nightly("2026-03-04")  # the next run retries what was set aside
    rb.refresh_from_db()
    event.refresh_from_db()
    assert (rb.status, event.match_state, event.match_outcome) == ("matched", "done", "matched")
