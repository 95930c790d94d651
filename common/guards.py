"""Append-only tables, guarded by PostgreSQL itself and declared beside their models with django-pgtrigger.

Every append-only model (the audit trail, the PII-access log, case actions, the permission register) lists
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


class Guard(pgtrigger.Trigger):
    """A trigger that refuses the statement, compiled without pgtrigger's session bypass."""

    when = pgtrigger.Before
    func = REFUSE

    def compile(self, model: models.Model) -> compiler.Trigger:
        compiled = super().compile(model)
        return compiler.Trigger(name=compiled.name, sql=GuardSql(**compiled.sql.kwargs))


def append_only_guards() -> list[pgtrigger.Trigger]:
    """The Meta `triggers` of an append-only model."""
    return [
        Guard(name="append_only", level=pgtrigger.Row, operation=pgtrigger.Update | pgtrigger.Delete),
        Guard(name="no_truncate", level=pgtrigger.Statement, operation=pgtrigger.Truncate),
    ]
