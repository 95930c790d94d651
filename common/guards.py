"""Append-only tables, guarded by PostgreSQL itself and declared beside their models with django-pgtrigger.

Every append-only model (the audit trail, the PII-access log, case actions, the permission register, performance
adjustments and the period register) lists
`triggers = append_only_guards()` in its Meta; the migrations install them. Two triggers per table:

- `append_only`: row-level, BEFORE UPDATE OR DELETE — no row is changed or removed;
- `no_truncate`: statement-level, BEFORE TRUNCATE — TRUNCATE fires no row trigger, so without it the table could
  be emptied in one statement.

Both raise `insufficient_privilege` with "table … is append-only", whoever asks. The application's role cannot
get past them: it owns no table, so it can neither DROP, ALTER or DISABLE a trigger nor TRUNCATE at all (README,
"Two database roles"; tests/integration/common/test_db_roles.py).

**Why not pgtrigger's own SQL template.** Every function pgtrigger generates begins by reading the session setting
`pgtrigger.ignore` (its `pgtrigger.ignore()` context manager) and returns early when its trigger is named there.
Any role may set a custom setting: the application role, which holds UPDATE and DELETE on every table, could run
`SET pgtrigger.ignore = '{pgtrigger_append_only_…}'` and then rewrite the audit trail. The guards therefore compile
with pgtrigger's installation template minus that check (`GuardSql`): no session setting switches them off. The
only ways past them are the owner's DDL and a superuser's `SET session_replication_role = replica` — the latter is
how the test suite's flush empties these tables between transactional tests (tests/conftest.py); production
connects as neither.
"""
from __future__ import annotations

from collections.abc import Sequence

import pgtrigger
from django.db import models
from pgtrigger import compiler

REFUSE = ("RAISE EXCEPTION 'table % is append-only', TG_TABLE_NAME "
          "USING ERRCODE = 'insufficient_privilege';")

# pgtrigger's v1 installation template (pgtrigger/compiler.py, UpsertTriggerSql.get_template) without the
# `_pgtrigger_should_ignore` function and the early return it guards. Migrations reference this class: change the
# template only together with a migration that reinstalls the guards.
_TEMPLATE = """
    CREATE OR REPLACE FUNCTION {pgid}()
    RETURNS TRIGGER AS $$
        {declare}
        BEGIN
            {func}
        END;
    $$ LANGUAGE plpgsql;

    DROP TRIGGER IF EXISTS {pgid} ON {table};
    CREATE {constraint} TRIGGER {pgid}
        {when} {operation} ON {table}
        {timing}
        {referencing}
        FOR EACH {level} {condition}
        EXECUTE PROCEDURE {execute};

    COMMENT ON TRIGGER {pgid} ON {table} IS '{hash}';
"""


class GuardSql(compiler.UpsertTriggerSql):
    """The SQL of a guard: pgtrigger's, without the `pgtrigger.ignore` bypass."""

    def get_template(self) -> str:
        return _TEMPLATE


class StrictTrigger(pgtrigger.Trigger):
    """A trigger compiled without pgtrigger's session bypass."""

    def compile(self, model: models.Model) -> compiler.Trigger:
        compiled = super().compile(model)
        return compiler.Trigger(name=compiled.name, sql=GuardSql(**compiled.sql.kwargs))


class Guard(StrictTrigger):
    """A trigger that refuses the statement, compiled without pgtrigger's session bypass."""

    when = pgtrigger.Before
    func = REFUSE


def append_only_guards() -> list[pgtrigger.Trigger]:
    """The Meta `triggers` of an append-only model."""
    return [
        Guard(name="append_only", level=pgtrigger.Row, operation=pgtrigger.Update | pgtrigger.Delete),
        Guard(name="no_truncate", level=pgtrigger.Statement, operation=pgtrigger.Truncate),
    ]


def change_recorders(*, into: str, columns: Sequence[str]) -> list[pgtrigger.Trigger]:
    """The Meta `triggers` of a table with `effective_from` / `effective_to` whose changes must be seen by work
    derived from it: after each INSERT, UPDATE or DELETE statement, one row (`from_day`, `recorded_at`) goes into
    `into` with the earliest effective day the statement touched. An UPDATE counts a changed `effective_to` from
    the earlier of its two values, any other change of `columns` from the earlier `effective_from`; a statement
    that changed none of them records nothing. Compiled without pgtrigger's bypass, so no session skips them."""
    record = (f"INSERT INTO {into} (from_day, recorded_at) "
              "SELECT {day}, now() FROM {rows} HAVING {day} IS NOT NULL;")
    old_cols = ", ".join(f"o.{c}" for c in columns)
    new_cols = ", ".join(f"n.{c}" for c in columns)
    updated_day = (
        "min(least("
        f"CASE WHEN ROW({old_cols}, o.effective_from) IS DISTINCT FROM ROW({new_cols}, n.effective_from) "
        "THEN least(o.effective_from, n.effective_from) END, "
        "CASE WHEN o.effective_to IS DISTINCT FROM n.effective_to "
        "THEN least(coalesce(o.effective_to, 'infinity'::date), coalesce(n.effective_to, 'infinity'::date)) END))")
    return [
        StrictTrigger(name="record_insert", when=pgtrigger.After, operation=pgtrigger.Insert,
                      level=pgtrigger.Statement, referencing=pgtrigger.Referencing(new="new_rows"),
                      func=record.format(day="min(effective_from)", rows="new_rows") + " RETURN NULL;"),
        StrictTrigger(name="record_update", when=pgtrigger.After, operation=pgtrigger.Update,
                      level=pgtrigger.Statement, referencing=pgtrigger.Referencing(old="old_rows", new="new_rows"),
                      func=record.format(day=updated_day, rows="old_rows o JOIN new_rows n ON n.id = o.id")
                      + " RETURN NULL;"),
        StrictTrigger(name="record_delete", when=pgtrigger.After, operation=pgtrigger.Delete,
                      level=pgtrigger.Statement, referencing=pgtrigger.Referencing(old="old_rows"),
                      func=record.format(day="min(effective_from)", rows="old_rows") + " RETURN NULL;"),
    ]
