"""R-PII-1: versioned PII keys derived with HKDF, and `rotate_pii_key` re-encrypting and re-hashing in chunks
while the site keeps registering and matching — also after a kill half-way."""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from relationships import pii_rotation
from relationships.filters import IdNumberFilter
from relationships.models import AuditEntry, Customer
from relationships.pii import LEGACY, decrypt, encrypt, parse_keys, pii_hash, pii_hashes, version_of
from relationships.services import customer_get_or_create
from reservations.models import Reservation
from tests.support.factories import make_id_number
from tests.support.helpers import at, event_row, nightly, record_events, reserve
from tests.support.workers import test_database_url

pytestmark = pytest.mark.django_db

DEV_KEY = "dev-only-pii-key-0123456789abcdef"
NEW_KEY = "rotation-test-secret-version-2-0123456789"
ROOT = str(Path(__file__).resolve().parents[3])


@pytest.fixture
def new_key(settings):
    """Version 2 added beside version 1 (the dev PII_KEY): what an operator does before rotating."""
    def add():
        settings.PII_KEYS = f"2:{NEW_KEY}"
    return add


def _legacy_token(secret: str, value: str) -> tuple[str, str]:
    """A ciphertext and hash as the platform wrote them before key versions."""
    root = hashlib.sha256(secret.encode()).digest()
    enc = hmac.new(root, b"crm-pii-encryption", hashlib.sha256).digest()
    mac = hmac.new(root, b"crm-pii-hash", hashlib.sha256).digest()
    nonce = os.urandom(12)
    token = base64.b64encode(nonce + AESGCM(enc).encrypt(nonce, value.encode(), b"crm-pii")).decode()
    return token, hmac.new(mac, value.encode(), hashlib.sha256).hexdigest()


def _versions_by_id_number() -> dict[str, set[int]]:
    """Every ID number → the hash versions its rows carry (customers and reservations alike)."""
    seen: dict[str, set[int]] = defaultdict(set)
    for model in (Customer, Reservation):
        for enc, h in model.objects.values_list("id_encrypted", "id_hash"):
            seen[decrypt(enc)].add(version_of(h))
    return seen


def _world(staff, n: int, seq0: int) -> tuple[list[str], list[str], list[Reservation]]:
    """n ID numbers with a customer (and a phone), n with only a reservation registered before the rotation."""
    with_customer = [make_id_number(seq=seq0 + i) for i in range(n)]
    reserved_only = [make_id_number(seq=seq0 + 500 + i) for i in range(n)]
    for i, idn in enumerate(with_customer):
        customer_get_or_create(id_number=idn, name="张三", phone=f"1381234{i:04d}")
    reservations = [reserve(staff, id_number=idn, when=at("2026-03-02 09:00"), phone=f"1390000{i:04d}")
                    for i, idn in enumerate(reserved_only)]
    return with_customer, reserved_only, reservations


def test_r_pii_1_values_carry_their_key_version_and_keys_are_derived_with_hkdf(new_key):
    token, digest = encrypt("110105198506150012"), pii_hash("110105198506150012")
    assert token.startswith("v1:") and digest.startswith("v1:") and len(digest) == 67
    expected_mac = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"crm-platform/pii-keys",
                        info=b"crm-pii/v1/hmac-sha256").derive(DEV_KEY.encode())
    assert digest == "v1:" + hmac.new(expected_mac, b"110105198506150012", hashlib.sha256).hexdigest()
    new_key()
    assert encrypt("13812345678").startswith("v2:") and pii_hash("110105198506150012").startswith("v2:")
    assert decrypt(token) == "110105198506150012"  # the old version still reads
    assert pii_hashes("110105198506150012")[:2] == [pii_hash("110105198506150012"), digest]


def test_r_pii_1_values_written_before_key_versions_stay_readable_and_are_looked_up():
    token, digest = _legacy_token(DEV_KEY, "110105198506150012")
    assert version_of(token) == version_of(digest) == LEGACY
    assert decrypt(token) == "110105198506150012"
    assert digest in pii_hashes("110105198506150012")


def test_r_pii_1_a_malformed_or_contradictory_key_configuration_is_refused():
    for keys, key in (("2", None), ("x:abc", None), ("2:a,2:b", None), ("1:a", "b"), ("", None)):
        with pytest.raises(ImproperlyConfigured):
            parse_keys(keys, key)
    ring = parse_keys("3:c, 2:b", "a")
    assert ring.current == 3 and ring.versions == [3, 2, 1]


def test_r_pii_1_rotation_leaves_every_customer_decryptable_and_matchable(staff, outlet, new_key, capsys):
    with_customer, reserved_only, reservations = _world(staff, 6, seq0=100)
    legacy_id = make_id_number(seq=190)
    token, digest = _legacy_token(DEV_KEY, legacy_id)
    Customer.objects.create(id_hash=digest, id_encrypted=token, id_masked="110105********0000", name="李四")
    phones = dict(Customer.objects.values_list("id_hash", "phone_encrypted"))
    new_key()

    call_command("rotate_pii_key", "--chunk-size", "4")
    out = capsys.readouterr().out
    assert "%]" in out and "rows/s" in out and "every row is on key version 2" in out
    assert all(v == {2} for v in _versions_by_id_number().values())
    for model in (Customer, Reservation):
        for enc, phone in model.objects.values_list("id_encrypted", "phone_encrypted"):
            assert enc.startswith("v2:") and (not phone or phone.startswith("v2:"))
    for idn in with_customer + [legacy_id]:
        customer = Customer.objects.get(id_hash=pii_hash(idn))
        assert decrypt(customer.id_encrypted) == idn
    assert sorted(decrypt(p) for p in Customer.objects.exclude(phone_encrypted="")
                  .values_list("phone_encrypted", flat=True)) == sorted(decrypt(p) for p in phones.values() if p)
    assert Customer.objects.filter(id_hash=pii_hash(legacy_id)).count() == 1
    assert AuditEntry.objects.filter(action="pii.rotate").exists()
    call_command("rotate_pii_key", "--check")  # nothing left: exit 0

    # Matchable: the reservations registered before the rotation match openings loaded after it.
    record_events([event_row(when=at("2026-03-03 10:00"), id_number=idn, name="张三", outlet=outlet)
                 for idn in reserved_only + with_customer[:2]])
    nightly("2026-03-03")
    assert {r.status for r in Reservation.objects.filter(pk__in=[r.pk for r in reservations])} == {"matched"}
    assert Customer.objects.count() == 6 + 1 + 6  # the openings of known customers created none
    # And found by their ID number, by the search field that hashes it.
    qs = IdNumberFilter(field_name="id_hash").filter(Customer.objects.all(), with_customer[0])
    assert [decrypt(c.id_encrypted) for c in qs] == [with_customer[0]]


def test_r_pii_1_a_rotation_killed_half_way_keeps_every_id_number_on_one_version_and_resumes(
        staff, outlet, new_key, monkeypatch):
    with_customer, reserved_only, reservations = _world(staff, 8, seq0=200)
    new_key()

    def killed(chunks):
        if chunks == 2:  # 6 of the 8 customers (and their reservations) moved
            raise RuntimeError("killed")
    monkeypatch.setattr(pii_rotation, "_after_chunk_committed", killed)
    with pytest.raises(RuntimeError):
        pii_rotation.rotate_pii(chunk_size=3)
    versions = _versions_by_id_number()
    assert all(len(v) == 1 for v in versions.values())  # no ID number is split between two versions
    assert {2} in versions.values() and {1} in versions.values()  # half-way indeed

    # Meanwhile the site writes: a reservation for a customer not rotated yet adopts his version, one for a
    # rotated customer the new one; a new customer for a reserved-only ID number adopts the reservation's.
    old = next(idn for idn in with_customer if versions[idn] == {1})
    new = next(idn for idn in with_customer if versions[idn] == {2})
    late_ones = [reserve(staff, id_number=idn, when=at("2026-03-02 10:00"), type_code="NEW_DEV")
                 for idn in (old, new)]
    assert [version_of(r.id_hash) for r in late_ones] == [1, 2]
    record_events([event_row(when=at("2026-03-03 10:00"), id_number=idn, name="张三", outlet=outlet)
                 for idn in reserved_only + [old, new]])
    assert all(len(v) == 1 for v in _versions_by_id_number().values())
    nightly("2026-03-03")
    decided = Reservation.objects.filter(pk__in=[r.pk for r in reservations + late_ones])
    assert {r.status for r in decided} == {"matched"}  # mid-rotation, every join still finds its partner

    monkeypatch.setattr(pii_rotation, "_after_chunk_committed", lambda chunks: None)
    report = pii_rotation.rotate_pii(chunk_size=3)  # resumes: only what is left
    # Left: 2 customers not reached, 8 customers created at version 1 for reserved-only ID numbers, their 8
    # reservations and the new reservation of the customer not reached.
    assert report.complete and report.behind_at_start == {"relationships.customer": 2 + 8,
                                                          "reservations.reservation": 8 + 1}
    assert all(v == {2} for v in _versions_by_id_number().values())
    for idn in with_customer:
        assert decrypt(Customer.objects.get(id_hash=pii_hash(idn)).id_encrypted) == idn


def test_r_pii_1_one_id_number_never_becomes_two_customers_across_versions(staff, outlet, new_key):
    idn = make_id_number(seq=300)
    first = customer_get_or_create(id_number=idn, name="张三")
    new_key()
    assert customer_get_or_create(id_number=idn, name="张三").pk == first.pk  # found under version 1
    record_events([event_row(when=at("2026-03-03 10:00"), id_number=idn, name="张三", outlet=outlet)])
    assert Customer.objects.count() == 1
    call_command("rotate_pii_key")
    assert customer_get_or_create(id_number=idn, name="张三").pk == first.pk
    assert Customer.objects.get().id_hash == pii_hash(idn)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_r_pii_1_rotate_pii_key_killed_with_sigkill_resumes_when_run_again(settings):
    """A real `manage.py rotate_pii_key` process, killed with SIGKILL mid-run, then run again to the end."""

    numbers = [make_id_number(seq=i) for i in range(1, 901)]
    Customer.objects.bulk_create([Customer(id_hash=pii_hash(n), id_encrypted=encrypt(n), id_masked=n[:6],
                                           name="客户", phone_encrypted=encrypt(f"138{i:08d}"))
                                  for i, n in enumerate(numbers)])
    env = dict(os.environ, DATABASE_URL=test_database_url(), DJANGO_DEBUG="1", PII_KEY=DEV_KEY,
               PII_KEYS=f"2:{NEW_KEY}", PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "manage.py", "rotate_pii_key", "--chunk-size", "30", "--pause", "0.15"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        deadline, lines = time.monotonic() + 60, []
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "chunk " in line and int(line.split("chunk ")[1].split()[0]) >= 6:
                break
            assert line or proc.poll() is None, "".join(lines)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=20)
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    settings.PII_KEYS = f"2:{NEW_KEY}"
    versions = [version_of(h) for h in Customer.objects.values_list("id_hash", flat=True)]
    assert 2 in versions and 1 in versions, "the kill should land half-way"
    rerun = subprocess.run([sys.executable, "manage.py", "rotate_pii_key"], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert f"moved {versions.count(1)} rows" in rerun.stdout  # only what the killed run had left
    by_hash = dict(Customer.objects.values_list("id_hash", "id_encrypted"))
    assert len(by_hash) == 900 and all(h.startswith("v2:") for h in by_hash)
    assert sorted(decrypt(e) for e in by_hash.values()) == sorted(numbers)
    assert all(pii_hash(n) in by_hash for n in numbers)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_r_pii_1_rotation_runs_while_the_site_registers_and_loads_openings(settings):
    """The site keeps writing (registrations, an account-events feed) in another connection during the rotation;
    every ID number ends on the new version and every reservation still meets its opening."""
    import threading

    from django.db import connections

    from tests.support.factories import OutletFactory, StaffFactory

    outlet = OutletFactory()
    staff = StaffFactory(outlet=outlet)
    numbers = [make_id_number(seq=i) for i in range(1, 301)]
    Customer.objects.bulk_create([Customer(id_hash=pii_hash(n), id_encrypted=encrypt(n), id_masked=n[:6], name="张三")
                                  for n in numbers[:200]])
    settings.PII_KEYS = f"2:{NEW_KEY}"
    result: dict = {}

    def rotate():
        try:
            result["report"] = pii_rotation.rotate_pii(chunk_size=10, pause=0.02)
        finally:
            connections.close_all()

    worker = threading.Thread(target=rotate)
    worker.start()
    registered = []
    for i, n in enumerate(numbers[::3]):  # old customers, and ID numbers nobody has seen yet
        registered.append(reserve(staff, id_number=n, when=at("2026-03-02 09:00")))
        if i % 10 == 9:
            record_events([event_row(when=at("2026-03-03 10:00"), id_number=m, name="张三", outlet=outlet)
                         for m in numbers[1::3][i - 9:i + 1]])
    worker.join(timeout=120)
    assert not worker.is_alive() and result["report"].complete, result
    assert all(v == {2} for v in _versions_by_id_number().values())
    record_events([event_row(when=at("2026-03-03 10:00"), id_number=r_n, name="张三", outlet=outlet)
                 for r_n in numbers[::3]])
    nightly("2026-03-03")
    assert {r.status for r in Reservation.objects.filter(pk__in=[r.pk for r in registered])} == {"matched"}
    assert Customer.objects.count() == len(set(numbers[:200]) | set(numbers[::3]) | set(numbers[1::3][:100]))
