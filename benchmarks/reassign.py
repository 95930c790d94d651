#!/usr/bin/env python
"""Benchmark of a reassignment's approval (R-STAFF-1): one leaver's relationships given to three colleagues.

    .venv/bin/python benchmarks/reassign.py --customers 1000000 --relationships 5000 [--keep]

Creates the database `crm_bench_people` (dropped first) on the server of DATABASE_URL, or on the embedded server
when DATABASE_URL is unset; migrates it; generates with set-based SQL the organisation tree, N customers with one
`NEW_DEV` relationship each (one share), the leaver holding R of them and background staff the others; then files
the leaver's R relationships to three colleagues (0.5 / 0.3 / 0.2) through `reassignment_file` and approves the case
through `case_act` (the branch's designated person), counting the statements and the seconds of the approval —
the transaction that ends R versions and shares, inserts R new versions, 3·R shares, R callbacks and the audit
rows. The statement count does not grow with R (compare two runs with different --relationships).

The last line printed is:
    reassign customers=N relationships=R statements=Q seconds=S file_seconds=F
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

BENCH_DB = os.environ.get("CRM_BENCH_DB", "crm_bench_people")


def generate(cur, *, customers: int, relationships: int) -> None:
    """Staff 1 is the leaver, 2–4 the new holders (outlet BO000), 5–304 background staff (one per outlet)."""
    p = {"n": customers, "r": relationships}
    cur.execute("SET session_replication_role = replica")  # bulk load: consistent by construction
    cur.execute("SET work_mem = '256MB'")
    generate_org_tree(cur)
    cur.execute("""
        INSERT INTO relationships_staff (id, staff_no, name, outlet_id, kind, attach_open)
        SELECT g, 'P' || lpad(g::text, 5, '0'), '员工' || g,
               (SELECT id FROM relationships_organisation WHERE code = 'BO' || lpad((CASE WHEN g <= 4 THEN 0
                                                                                 ELSE g - 5 END)::text, 3, '0')),
               'account_manager', true
        FROM generate_series(1, 304) g""")
    cur.execute("SELECT setval(pg_get_serial_sequence('relationships_staff', 'id'), 304)")
    cur.execute("""
        INSERT INTO relationships_qualification (staff_id, kind, number, valid_from)
        SELECT g, 'securities', '', DATE '2000-01-01' FROM generate_series(1, 304) g""")
    cur.execute("""
        INSERT INTO relationships_customer (id, id_hash, id_encrypted, id_masked, name, phone_encrypted, created_at)
        SELECT i + 1, encode(sha256(convert_to('bench-people-' || i, 'UTF8')), 'hex'), 'bench',
               '110105********0000', '客户' || i, '', now()
        FROM generate_series(0, %(n)s - 1) i""", p)
    cur.execute("SELECT setval(pg_get_serial_sequence('relationships_customer', 'id'), %(n)s)", p)
    cur.execute("""
        INSERT INTO relationships_relationship (id, customer_id, type_id, effective_from, source, outlet_id,
                                                created_at)
        SELECT i + 1, i + 1, 'NEW_DEV', DATE '2026-03-02', 'bench',
               (SELECT outlet_id FROM relationships_staff WHERE id = CASE WHEN i < %(r)s THEN 1 ELSE 5 + i %% 300 END),
               now()
        FROM generate_series(0, %(n)s - 1) i""", p)
    cur.execute("SELECT setval(pg_get_serial_sequence('relationships_relationship', 'id'), %(n)s)", p)
    cur.execute("""
        INSERT INTO relationships_relationshipshare (relationship_id, staff_id, ratio, effective_from)
        SELECT i + 1, CASE WHEN i < %(r)s THEN 1 ELSE 5 + i %% 300 END, 1, DATE '2026-03-02'
        FROM generate_series(0, %(n)s - 1) i""", p)
    cur.execute("SET session_replication_role = DEFAULT")
    for table in ("relationships_customer", "relationships_relationship", "relationships_relationshipshare",
                  "relationships_staff", "relationships_qualification", "relationships_organisation"):
        cur.execute(f"VACUUM (ANALYZE) {table}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=50_000, help="customers, one relationship each (N)")
    parser.add_argument("--relationships", type=int, default=5_000, help="the leaver's relationships (R)")
    parser.add_argument("--keep", action="store_true", help="keep the bench database afterwards")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_platform.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")
    _bench_url, admin = migrated_bench_database(BENCH_DB)

    from django.db import connection, connections
    from django.test.utils import CaptureQueriesContext

    started = time.perf_counter()
    with connection.cursor() as cur:
        generate(cur, customers=args.customers, relationships=args.relationships)
    log(f"generated {args.customers} customers and relationships in {time.perf_counter() - started:.1f} s")

    from django.contrib.auth import get_user_model

    from approvals.models import PostAssignment
    from approvals.services import case_act
    from common.actors import BATCH
    from relationships.models import Organisation, Relationship, Staff
    from reservations.reassign.services import reassignment_file

    leaver = Staff.objects.get(pk=1)
    branch = Organisation.objects.get(pk=leaver.outlet.branch_id)
    approver = get_user_model().objects.create(username="bench-designated")
    PostAssignment.objects.create(post="designated_person", organisation=branch, user=approver,
                                  valid_from=dt.date(2026, 1, 1))
    holders = [(Staff.objects.get(pk=2), "0.5"), (Staff.objects.get(pk=3), "0.3"), (Staff.objects.get(pk=4), "0.2")]
    rels = list(Relationship.objects.filter(shares__staff=leaver, effective_to__isnull=True).select_related("type",
                                                                                                           "customer"))
    started = time.perf_counter()
    filed = reassignment_file(actor=BATCH, from_staff=leaver, relationships=rels, participants=holders,
                              effective_from=dt.date(2026, 11, 10))
    file_seconds = time.perf_counter() - started
    assert filed.reassignment is not None and not filed.refused, filed.refused
    started = time.perf_counter()
    with CaptureQueriesContext(connection) as ctx:
        case_act(actor=approver, case_id=filed.reassignment.case_id, decision="approve")
    seconds = time.perf_counter() - started
    moved = Relationship.objects.filter(source="reassignment").count()
    assert moved == args.relationships, moved
    log(f"reassign customers={args.customers} relationships={args.relationships} "
        f"statements={len(ctx.captured_queries)} seconds={seconds:.2f} file_seconds={file_seconds:.2f}")
    connections.close_all()
    if not args.keep:
        recreate(admin, BENCH_DB, create=False)


if __name__ == "__main__":
    main()
