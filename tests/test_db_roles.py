"""The application's database role owns nothing (issue "append-only really"): the site and the workers connect
as a role that may read and write rows, but cannot TRUNCATE, ALTER or DROP a table, nor drop the trigger that
keeps the audit trail append-only. Migrations run as the owner (docker-compose.yml's `migrate`). The grants are
those deploy/postgres/roles.psql gives by default privileges; here, on tables that exist already, explicitly.
The compose script itself, with migrations run as its owner role: tests/test_deploy_run.py."""
from __future__ import annotations

import uuid

import psycopg
import pytest
from django.db import connection

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
    assert "must be owner" in _refused(app_role, "DROP TRIGGER auditentry_append_only ON relationships_auditentry")
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
