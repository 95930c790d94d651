"""The application's database role owns nothing (issue "append-only really"): the site and the workers connect
as a role that may read and write rows, but cannot TRUNCATE, ALTER or DROP a table, nor drop the triggers that
keep the audit trail append-only. Migrations run as the owner (docker-compose.yml's `migrate`). The grants are
those deploy/postgres/roles.psql gives by default privileges; here, on tables that exist already, explicitly.
The compose script itself, with migrations run as its owner role: tests/deploy/test_deploy_run.py.

Every append-only table (the audit trail, PII accesses, case actions, the permission register) has two guards
(common/guards.py, issue "The night never jams", item 6): row-level UPDATE/DELETE and statement-level TRUNCATE,
which refuse whoever asks — the owner too — and no session setting switches off."""
from __future__ import annotations

import uuid

import psycopg
import pytest
from django.apps import apps
from django.db import DatabaseError, connection, transaction

from common.guards import Guard

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def app_role():
    """A login role unique to this test, with the grants of the compose app role (trust auth on the test cluster)."""
    name = f"crm_test_app_{uuid.uuid4().hex[:10]}"
    database = connection.settings_dict["NAME"]
    with connection.cursor() as cur:
        cur.execute(f'CREATE ROLE "{name}" LOGIN')
        cur.execute(f'GRANT CONNECT, TEMPORARY ON DATABASE "{database}" TO "{name}"')
        cur.execute(f'GRANT USAGE ON SCHEMA public TO "{name}"')
        cur.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{name}"')
        cur.execute(f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{name}"')
    s = connection.settings_dict
    conn = psycopg.connect(host=s["HOST"] or "127.0.0.1", port=s["PORT"] or 5432, dbname=database, user=name,
                           autocommit=True)
    yield conn
    conn.close()
    with connection.cursor() as cur:
        cur.execute(f'DROP OWNED BY "{name}"')
        cur.execute(f'DROP ROLE "{name}"')


def _refused(conn, sql: str) -> str:
    with pytest.raises(psycopg.errors.InsufficientPrivilege) as refused:
        conn.execute(sql)
    return str(refused.value)


def test_the_app_role_reads_and_appends_the_audit_trail_but_cannot_truncate_alter_or_drop_its_trigger(app_role):
    app_role.execute("INSERT INTO relationships_auditentry (at, actor_label, action, target_model, target_id) "
                     "VALUES (now(), 'role test', 'test', 'none', '1')")
    assert app_role.execute("SELECT count(*) FROM relationships_auditentry WHERE actor_label = 'role test'"
                            ).fetchone() == (1,)
    assert "relationships_auditentry" in _refused(app_role, "TRUNCATE relationships_auditentry")
    trigger = _guard_ids(apps.get_model("relationships", "AuditEntry"))["append_only"]
    assert "must be owner" in _refused(app_role, f"DROP TRIGGER {trigger} ON relationships_auditentry")
    assert "must be owner" in _refused(app_role, "ALTER TABLE relationships_auditentry DISABLE TRIGGER ALL")
    assert "must be owner" in _refused(app_role, "ALTER TABLE relationships_auditentry DROP COLUMN before")
    assert "must be owner" in _refused(app_role, "DROP TABLE relationships_auditentry")
    # And the trigger still refuses to change a row, whoever asks.
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        app_role.execute("UPDATE relationships_auditentry SET action = 'x' WHERE actor_label = 'role test'")


def test_the_app_role_cannot_create_tables_in_the_schema(app_role):
    _refused(app_role, "CREATE TABLE crm_role_test (id int)")
    # Temporary tables (the nightly classification and the metrics feed use them) are allowed.
    app_role.execute("CREATE TEMP TABLE crm_role_test (id int)")


APPEND_ONLY = {"relationships_auditentry", "relationships_piiaccess", "approvals_caseaction",
               "permissions_permissionregisterentry", "performance_performanceadjustment",
               "performance_periodregisterentry"}


def _guarded_models():
    return {m._meta.db_table: m for m in apps.get_models()
            if any(isinstance(t, Guard) for t in getattr(m._meta, "triggers", []))}


def _guard_ids(model) -> dict[str, str]:
    return {t.name: t.get_pgid(model) for t in model._meta.triggers if isinstance(t, Guard)}


def test_every_append_only_table_has_both_guards_installed_and_enabled():
    assert set(_guarded_models()) == APPEND_ONLY
    with connection.cursor() as cur:
        cur.execute("""
            SELECT c.relname, t.tgname, t.tgenabled,
                   (t.tgtype & 1) = 1 AS per_row, (t.tgtype & 2) = 2 AS before,
                   (t.tgtype & 16) = 16 AS on_update, (t.tgtype & 8) = 8 AS on_delete,
                   (t.tgtype & 32) = 32 AS on_truncate
            FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
            WHERE NOT t.tgisinternal AND c.relname = ANY(%s)""", [sorted(APPEND_ONLY)])
        found = {(row[0], row[1]): row[2:] for row in cur.fetchall()}
    for table, model in _guarded_models().items():
        ids = _guard_ids(model)
        assert found[(table, ids["append_only"])] == ("O", True, True, True, True, False)
        assert found[(table, ids["no_truncate"])] == ("O", False, True, False, False, True)
        assert len([key for key in found if key[0] == table]) == 2  # the hand-written triggers of 0002 are gone


@pytest.mark.parametrize("table", sorted(APPEND_ONLY))
def test_even_the_owner_cannot_empty_an_append_only_table(table):
    """The test connection is a superuser, for which PostgreSQL skips every privilege check: only the guard
    stands between it and the TRUNCATE (the compose owner role: tests/deploy/test_deploy_run.py)."""
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cur:
        cur.execute(f"TRUNCATE {table} CASCADE")


@pytest.mark.parametrize("table", sorted(APPEND_ONLY))
def test_the_app_role_cannot_empty_alter_or_unguard_any_append_only_table(app_role, table):
    ids = _guard_ids(_guarded_models()[table])
    assert app_role.execute(f"SELECT count(*) FROM {table}").fetchone()[0] >= 0  # it reads them
    assert table in _refused(app_role, f"TRUNCATE {table}")
    for pgid in ids.values():
        assert "must be owner" in _refused(app_role, f"DROP TRIGGER {pgid} ON {table}")
        assert "must be owner" in _refused(app_role, f"ALTER TABLE {table} DISABLE TRIGGER {pgid}")
    assert "must be owner" in _refused(app_role, f"ALTER TABLE {table} DISABLE TRIGGER ALL")
    assert "must be owner" in _refused(app_role, f"ALTER TABLE {table} ADD COLUMN x int")
    assert "must be owner" in _refused(app_role, f"DROP TABLE {table}")
    # Nor can it turn the triggers off for its session: replication mode is a superuser's.
    assert "session_replication_role" in _refused(app_role, "SET session_replication_role = replica")


def test_no_session_setting_lets_the_app_role_past_a_guard(app_role):
    """pgtrigger's stock triggers return early for the triggers named in the `pgtrigger.ignore` setting, which any
    role may set; the guards are compiled without that check."""
    app_role.execute("INSERT INTO relationships_auditentry (at, actor_label, action, target_model, target_id) "
                     "VALUES (now(), 'bypass test', 'test', 'none', '1')")
    ids = _guard_ids(apps.get_model("relationships", "AuditEntry"))
    names = ",".join([*ids.values(), *(f"relationships_auditentry:{pgid}" for pgid in ids.values())])
    app_role.execute(f"SET pgtrigger.ignore = '{{{names}}}'")
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        app_role.execute("UPDATE relationships_auditentry SET action = 'x' WHERE actor_label = 'bypass test'")
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        app_role.execute("DELETE FROM relationships_auditentry WHERE actor_label = 'bypass test'")
    with transaction.atomic(), connection.cursor() as cur:  # and the owner's side, with the same setting
        cur.execute(f"SET LOCAL pgtrigger.ignore = '{{{names}}}'")
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            cur.execute("TRUNCATE relationships_auditentry CASCADE")
