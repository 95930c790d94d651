"""R-PII-1 in the database: which tables hold ID hashes and ciphertexts, and one hash version per ID number.

Matching joins reservations to customers on the stored hash (`r.id_hash = c.id_hash`), so every row of
one ID number must carry the *same* hash version, whatever the key rotation is doing. Two rules keep it so:

- a writer asks `identity_hashes()` for the hash to store: the one rows of that ID number already carry
  (in any registered table), else the current version's. It first takes the PII advisory lock in *shared*
  mode, held until commit;
- `manage.py rotate_pii_key` (`relationships.pii_rotation`) takes the same lock *exclusively* for each
  chunk, and moves all rows of an ID number, in every registered table, to the current version in that
  one transaction.

So no writer reads a version that a chunk is changing, a statement that joins on the hash sees each ID
number wholly before or wholly after its rotation, and a customer's unique hash stays unique across
versions (one customer per ID number). Writers never wait for each other; they wait for a chunk (a
fraction of a second) only while a rotation runs. One lock rather than one per ID number: a feed of a
hundred thousand ID numbers would exhaust PostgreSQL's lock table.

Tables register themselves (`register_hashed_table`) from their app's `ready()`: this app sits at the
bottom and does not know the upper apps' models. So do columns of sealed files (`register_sealed_column`: a
feed uploaded in the browser, kept sealed until it is loaded), which the rotation re-seals.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection

from relationships.pii import pii_hash, pii_hashes

LOCK_CLASS, LOCK_ID = 0x50494931, 1  # "PII1": two-int advisory key (the pipeline's bigint keys are another space)


@dataclass(frozen=True)
class HashedTable:
    label: str                      # "relationships.customer"
    table: str                      # its db_table
    hash_column: str                # the keyed hash of the ID number
    id_column: str                  # the ciphertext of the ID number (decrypted to re-hash it)
    encrypted_columns: tuple[str, ...]  # every ciphertext column, id_column included


_TABLES: dict[str, HashedTable] = {}


def register_hashed_table(model, *, hash_field: str = "id_hash", id_field: str = "id_encrypted",
                          encrypted_fields: tuple[str, ...] = ("id_encrypted", "phone_encrypted")) -> None:
    meta = model._meta
    column = lambda name: meta.get_field(name).column  # noqa: E731
    _TABLES[meta.label_lower] = HashedTable(
        label=meta.label_lower, table=meta.db_table, hash_column=column(hash_field), id_column=column(id_field),
        encrypted_columns=tuple(column(f) for f in encrypted_fields))


@dataclass(frozen=True)
class SealedColumn:
    """A bytea column of whole sealed files (`relationships.pii.seal`): re-sealed by the rotation, row by row."""

    label: str
    table: str
    column: str


_SEALED: dict[str, SealedColumn] = {}


def register_sealed_column(model, field: str) -> None:
    meta = model._meta
    _SEALED[f"{meta.label_lower}.{field}"] = SealedColumn(label=meta.label_lower, table=meta.db_table,
                                                          column=meta.get_field(field).column)


def sealed_columns() -> list[SealedColumn]:
    return list(_SEALED.values())


def hashed_tables() -> list[HashedTable]:
    """In registration order (customers first: a customer's hash is the one others adopt)."""
    return list(_TABLES.values())


def hold_hash_versions() -> None:
    """Writers of hashes: no rotation chunk runs until this transaction ends (shared with other writers)."""
    if not connection.in_atomic_block:
        raise RuntimeError("hold_hash_versions() holds its lock until commit: call it inside transaction.atomic().")
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock_shared(%s, %s)", [LOCK_CLASS, LOCK_ID])


def identity_hashes(id_numbers: Iterable[str]) -> dict[str, str]:
    """For each ID number the hash a new row must store: the version its rows already carry, else the current.

    Holds the PII lock in shared mode until commit, so a rotation cannot move those rows meanwhile.
    """
    numbers = sorted(set(id_numbers))
    hold_hash_versions()
    variants: dict[str, str] = {}
    for number in numbers:
        for h in pii_hashes(number):
            variants[h] = number
    chosen: dict[str, str] = {}
    if variants:
        with connection.cursor() as cur:
            for t in hashed_tables():
                cur.execute(f"SELECT DISTINCT {t.hash_column} FROM {t.table} WHERE {t.hash_column} = ANY(%s)",
                            [list(variants)])
                for (h,) in cur.fetchall():
                    chosen.setdefault(variants[h], h)
    return {n: chosen.get(n) or pii_hash(n) for n in numbers}


def identity_hash(id_number: str) -> str:
    return identity_hashes([id_number])[id_number]
