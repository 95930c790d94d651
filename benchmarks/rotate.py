#!/usr/bin/env python
"""Benchmark of `rotate_pii_key` (R-PII-1): re-encrypting and re-hashing customers and reservations.

    .venv/bin/python benchmarks/rotate.py --customers 200000 [--reservations 100000] [--chunk-size 2000] [--keep]

Creates the database `crm_bench_rotate` (dropped first) on the server of DATABASE_URL, or on the embedded
server when DATABASE_URL is unset; migrates it; writes N customers with a real version-1 ciphertext of an
ID number and of a phone and the version-1 hash (COPY), and M reservations (half of them for ID numbers of
customers, half for ID numbers without one); then adds key version 2 and times `rotate_pii` to the end, and
checks a sample decrypts and every ID number's rows share one version.

The last line printed is:
    rotate customers=N reservations=M rows=R seconds=S rows_per_s=X chunk=C
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import generate_org_tree, log, migrated_bench_database, recreate  # noqa: E402

BENCH_DB = os.environ.get("CRM_BENCH_DB", "crm_bench_rotate")


def id_number(i: int) -> str:
    """A distinct 18-character ID number per i (the rotation never validates it; the check digit is right)."""
    from relationships.identity import id_check_digit

    base = f"11010519{i:09d}"
    return base + id_check_digit(base)


def generate(cur, *, customers: int, reservations: int) -> None:
    from relationships.pii import encrypt, mask_id, pii_hash

    generate_org_tree(cur)
    cur.execute("SELECT id FROM relationships_organisation WHERE kind = 'outlet' ORDER BY id LIMIT 1")
    outlet = cur.fetchone()[0]
    cur.execute("INSERT INTO relationships_staff (staff_no, name, kind, attach_open, outlet_id) "
                "VALUES ('S000001', '员工', 'account_manager', true, %s) RETURNING id", [outlet])
    staff = cur.fetchone()[0]
    now = dt.datetime.now(dt.UTC)
    with cur.copy("COPY relationships_customer (id_hash, id_encrypted, id_masked, name, phone_encrypted, created_at) "
                  "FROM STDIN") as copy:
        for i in range(customers):
            n = id_number(i)
            copy.write_row((pii_hash(n), encrypt(n), mask_id(n), f"客户{i}", encrypt(f"138{i:08d}"), now))
    # Half the reservations for customers' ID numbers, half for ID numbers no customer has yet.
    with cur.copy("COPY reservations_reservation (customer_name, name_normalised, id_hash, id_encrypted, id_masked, "
                  "phone_encrypted, phone_masked, registered_at, valid_until, status, status_note, source, "
                  "updated_at, outlet_id, staff_id, type_id) FROM STDIN") as copy:
        for j in range(reservations):
            i = j if j % 2 == 0 else customers + j
            n = id_number(i)
            copy.write_row((f"客户{i}", f"客户{i}", pii_hash(n), encrypt(n), mask_id(n), encrypt(f"139{i:08d}"),
                            "139****0000", now, (now + dt.timedelta(days=30)).date(), "withdrawn", "", "bench",
                            now, outlet, staff, "NEW_DEV"))
    for table in ("relationships_customer", "reservations_reservation"):
        cur.execute(f"VACUUM (ANALYZE) {table}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--reservations", type=int, default=None, help="default: half the customers")
    parser.add_argument("--chunk-size", type=int, default=2000)
    parser.add_argument("--keep", action="store_true", help="keep the bench database afterwards")
    args = parser.parse_args()
    reservations = args.customers // 2 if args.reservations is None else args.reservations

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_platform.settings")
    os.environ.setdefault("PII_KEY", "bench-pii-key-version-1-0123456789abcdef")
    _bench_url, admin = migrated_bench_database(BENCH_DB)

    from django.conf import settings
    from django.db import connection, connections

    started = time.perf_counter()
    with connection.cursor() as cur:
        generate(cur, customers=args.customers, reservations=reservations)
    log(f"generated {args.customers} customers and {reservations} reservations on key version 1 "
        f"in {time.perf_counter() - started:.1f} s")

    from relationships.pii import decrypt, version_of
    from relationships.pii_rotation import rotate_pii

    settings.PII_KEYS = "2:bench-pii-key-version-2-fedcba9876543210"
    last = [0.0]

    def progress(report, table):
        if time.monotonic() - last[0] >= 2:
            last[0] = time.monotonic()
            log(f"  {report.done}/{report.total} rows · {report.rate:,.0f} rows/s · {table}")

    started = time.perf_counter()
    report = rotate_pii(chunk_size=args.chunk_size, on_chunk=progress)
    seconds = time.perf_counter() - started
    with connection.cursor() as cur:
        cur.execute("SELECT id_encrypted, id_hash FROM relationships_customer ORDER BY random() LIMIT 100")
        sample = cur.fetchall()
        cur.execute("SELECT count(*) FROM reservations_reservation r JOIN relationships_customer c "
                    "ON c.id_hash = r.id_hash")
        joined = cur.fetchone()[0]
    assert report.complete, report.left
    assert all(version_of(h) == 2 and decrypt(e) for e, h in sample)
    assert joined == (reservations + 1) // 2, (joined, reservations)  # every customer's reservation still joins
    connections.close_all()
    if not args.keep:
        recreate(admin, BENCH_DB, create=False)
    log(f"rotate customers={args.customers} reservations={reservations} rows={report.done} seconds={seconds:.2f} "
        f"rows_per_s={report.done / seconds:.0f} chunk={args.chunk_size}")


if __name__ == "__main__":
    main()
