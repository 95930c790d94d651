"""R-PII-1: move every ciphertext and hash to the current key version, in chunks, while the site runs.

`manage.py rotate_pii_key` calls `rotate_pii`. For each registered table (`relationships.pii_store`) it
walks the rows not yet on the current version by primary key, `chunk_size` rows at a time. A chunk is one
transaction: it takes the PII advisory lock exclusively (writers of hashes hold it shared, so the chunk
starts between their transactions and they wait for it, a fraction of a second), decrypts the rows' ID
numbers, locks every row of those ID numbers in every registered table and rewrites their hash and
ciphertexts with the current key. All rows of an ID number move together, so joins on the hash (matching,
secondary matching, the metrics feed, the scoping subqueries) never see an ID number half-rotated, and a
kill at any point leaves each ID number wholly on one version. Re-running continues: rows already on the
current version are not selected again.

The chunk never waits while it holds the lock: a row the site has locked (`FOR UPDATE NOWAIT`), or a writer
that keeps the lock longer than `writer_wait`, makes it roll back and retry with a growing pause, so
neither the site nor the rotation can deadlock the other. A row whose ciphertext cannot be read (a key
version that is no longer configured, a damaged value) is reported and left as it is.
"""
from __future__ import annotations

import binascii
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg
from cryptography.exceptions import InvalidTag
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, OperationalError, connection, transaction

from relationships.audit import audit_many
from relationships.pii import KeyRing, current_prefix, keyring
from relationships.pii_store import LOCK_CLASS, LOCK_ID, HashedTable, SealedColumn, hashed_tables, sealed_columns

log = logging.getLogger(__name__)
ACTOR = "rotate_pii_key"
UNREADABLE = (InvalidTag, ValueError, binascii.Error, ImproperlyConfigured, UnicodeDecodeError)
INTEGRITY_ERRORS = (IntegrityError, psycopg.IntegrityError)
LOCK_ERRORS = (OperationalError, psycopg.OperationalError)  # lock_timeout, NOWAIT, deadlock


@dataclass
class RotationReport:
    version: int
    behind_at_start: dict[str, int]
    moved: Counter = field(default_factory=Counter)        # rows rewritten, per table
    chunks: int = 0
    retries: int = 0                                         # chunks rolled back for a lock the site held
    unreadable: set[tuple[str, int]] = field(default_factory=set)
    conflicts: list[tuple[str, list[int]]] = field(default_factory=list)  # one ID number in two customers
    left: dict[str, int] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    passes: int = 0

    @property
    def total(self) -> int:
        return sum(self.behind_at_start.values())

    @property
    def done(self) -> int:
        return sum(self.moved.values())

    @property
    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.done / elapsed if elapsed > 0 else 0.0

    @property
    def complete(self) -> bool:
        return not any(self.left.values())


def _after_chunk_committed(chunks: int) -> None:
    """Seam for the kill test: it raises here to stop the run between two committed chunks."""


def _behind(t: HashedTable, prefix: str) -> tuple[str, list[str]]:
    """SQL predicate (and its parameters): a row with any value not on the current version."""
    like = prefix + "%"
    conds = [f"{t.hash_column} LIKE %s"] + [f"({c} = '' OR {c} LIKE %s)" for c in t.encrypted_columns]
    return "NOT (" + " AND ".join(conds) + ")", [like] * len(conds)


def rows_behind(t: HashedTable, prefix: str | None = None) -> int:
    where, params = _behind(t, prefix or current_prefix())
    with connection.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {t.table} WHERE {where}", params)
        return cur.fetchone()[0]


def _sealed_behind(c: SealedColumn, prefix: str) -> tuple[str, list]:
    return (f"length({c.column}) > 0 AND substring({c.column} FROM 1 FOR %s) <> %s",
            [len(prefix.encode()), prefix.encode()])


def sealed_behind(c: SealedColumn, prefix: str | None = None) -> int:
    where, params = _sealed_behind(c, prefix or current_prefix())
    with connection.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {c.table} WHERE {where}", params)
        return cur.fetchone()[0]


def behind_by_table() -> dict[str, int]:
    prefix = current_prefix()
    counts = {t.label: rows_behind(t, prefix) for t in hashed_tables()}
    for c in sealed_columns():  # uploads waiting for their load: listed only while some are behind
        if n := sealed_behind(c, prefix):
            counts[f"{c.label}.{c.column}"] = n
    return counts


def _reseal(c: SealedColumn, ring: KeyRing, report: RotationReport) -> None:
    """Sealed files (a few uploads waiting for their load): one row per transaction, skipping a row the loader
    holds (it blanks the file when it finishes). A file that cannot be unsealed is reported and left."""
    where, params = _sealed_behind(c, ring.prefix)
    after = 0
    while True:
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(f"SELECT id, {c.column} FROM {c.table} WHERE id > %s AND {where} ORDER BY id LIMIT 1 "
                        f"FOR UPDATE SKIP LOCKED", [after, *params])
            row = cur.fetchone()
            if row is None:
                return
            after, blob = row[0], bytes(row[1])
            try:
                fresh = ring.seal(ring.unseal(blob))
            except UNREADABLE:
                report.unreadable.add((c.label, after))
                continue
            cur.execute(f"UPDATE {c.table} SET {c.column} = %s WHERE id = %s", [fresh, after])
            report.moved[f"{c.label}.{c.column}"] += 1


def _current(value: str, prefix: str) -> bool:
    return not value or value.startswith(prefix)


def _move(cur, numbers: list[str], ring: KeyRing, report: RotationReport) -> Counter:
    """Rewrite every row of these ID numbers, in every registered table, to the current version.

    `cur` binds on the server and the arrays travel in binary (`%b`): Django's client-side binding quotes every
    element of them, which cost more than the crypto.
    """
    prefix = ring.prefix
    variants = {h: n for n in numbers for h in ring.hashes(n)}
    new_hash = {n: ring.hash(n) for n in numbers}
    moved: Counter = Counter()
    for t in hashed_tables():
        cols = [t.hash_column, *t.encrypted_columns]
        cur.execute(f"SELECT id, {', '.join(cols)} FROM {t.table} WHERE {t.hash_column} = ANY(%b) "
                    f"ORDER BY id FOR UPDATE NOWAIT", [list(variants)])
        updates = []
        for pk, old_hash, *encs in cur.fetchall():
            if _current(old_hash, prefix) and all(_current(e, prefix) for e in encs):
                continue
            fresh = []
            for e in encs:
                if _current(e, prefix):
                    fresh.append(e)
                    continue
                try:
                    fresh.append(ring.encrypt(ring.decrypt(e)))
                except UNREADABLE:
                    fresh.append(e)  # left as it is, reported; the hash still moves with its ID number
                    report.unreadable.add((t.label, pk))
            updates.append((pk, new_hash[variants[old_hash]], *fresh))
        if updates:
            columns = list(zip(*updates, strict=True))
            types = ", ".join(["%b::bigint[]"] + ["%b::text[]"] * len(cols))
            names = ", ".join(f"c{i}" for i in range(len(cols)))
            sets = ", ".join(f"{c} = v.c{i}" for i, c in enumerate(cols))
            cur.execute(f"UPDATE {t.table} AS t SET {sets} FROM unnest({types}) AS v(id, {names}) WHERE t.id = v.id",
                        [list(c) for c in columns])
            moved[t.label] += len(updates)
    return moved


def _chunk(t: HashedTable, after_id: int, size: int, ring: KeyRing, writer_wait: str,
           report: RotationReport) -> tuple[int, Counter] | None:
    """One transaction: the last primary key it looked at and the rows it rewrote, or None when the table has
    nothing left after `after_id`."""
    where, params = _behind(t, ring.prefix)
    with transaction.atomic():
        connection.ensure_connection()
        with psycopg.Cursor(connection.connection) as cur:  # server-side binding, in Django's transaction
            return _chunk_in(cur, t, after_id, size, ring, writer_wait, report, where, params)


def _chunk_in(cur, t: HashedTable, after_id: int, size: int, ring: KeyRing, writer_wait: str,
              report: RotationReport, where: str, params: list) -> tuple[int, Counter] | None:
    cur.execute("SELECT set_config('lock_timeout', %s, true)", [writer_wait])
    cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_CLASS, LOCK_ID])
    cur.execute(f"SELECT id, {t.id_column} FROM {t.table} WHERE id > %s AND {where} ORDER BY id LIMIT %s",
                [after_id, *params, size])
    rows = cur.fetchall()
    if not rows:
        return None
    numbers: set[str] = set()
    for pk, token in rows:
        try:
            numbers.add(ring.decrypt(token))
        except UNREADABLE:
            report.unreadable.add((t.label, pk))
    moved: Counter = Counter()
    if numbers:
        try:
            with transaction.atomic():
                moved = _move(cur, sorted(numbers), ring, report)
        except INTEGRITY_ERRORS:
            # One ID number in two customers (written before key versions by a path that did not adopt):
            # move the others, report that one for a merge.
            first = hashed_tables()[0]
            for number in sorted(numbers):
                try:
                    with transaction.atomic():
                        moved += _move(cur, [number], ring, report)
                except INTEGRITY_ERRORS:
                    cur.execute(f"SELECT id FROM {first.table} WHERE {first.hash_column} = ANY(%b) ORDER BY id",
                                [ring.hashes(number)])
                    report.conflicts.append((first.label, [r[0] for r in cur.fetchall()]))
    if moved:
        audit_many(actor=ACTOR, action="pii.rotate", model_label=t.label, rows=[(
            f"{rows[0][0]}-{rows[-1][0]}", None,
            {"key_version": report.version, "rows": dict(moved), "id_numbers": len(numbers)})])
    return rows[-1][0], moved


def rotate_pii(*, chunk_size: int = 2000, pause: float = 0.0, writer_wait: str = "2s", give_up_after: float = 600.0,
               max_passes: int = 5, on_chunk: Callable[[RotationReport, str], None] | None = None) -> RotationReport:
    """Move every registered table to the current key version; safe to run beside the site and to re-run.

    A chunk that meets a lock is retried with a growing pause; after `give_up_after` seconds of such retries in
    a row the run stops (exit 1: run it again later), with every committed chunk kept.
    """
    ring = keyring()
    report = RotationReport(version=ring.current, behind_at_start=behind_by_table())
    for _pass in range(max_passes):
        report.passes += 1
        moved_before = report.done
        for t in hashed_tables():
            after, waited, backoff = 0, 0.0, 0.2
            while True:
                try:
                    outcome = _chunk(t, after, chunk_size, ring, writer_wait, report)
                except LOCK_ERRORS as exc:  # a lock held by the site (lock timeout, NOWAIT): retry
                    report.retries += 1
                    if waited >= give_up_after:
                        log.warning("rotate_pii_key: giving up on %s after id %s: %s", t.label, after, exc)
                        report.left = behind_by_table()
                        return report
                    time.sleep(backoff)
                    waited, backoff = waited + backoff, min(backoff * 2, 5.0)
                    continue
                waited, backoff = 0.0, 0.2
                if outcome is None:
                    break
                after, moved = outcome
                report.moved += moved
                report.chunks += 1
                if on_chunk is not None:
                    on_chunk(report, t.label)
                _after_chunk_committed(report.chunks)
                if pause:
                    time.sleep(pause)
        for c in sealed_columns():
            _reseal(c, ring, report)
        report.left = behind_by_table()
        if report.complete or report.done == moved_before:
            break
    return report
