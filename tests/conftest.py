import contextlib

import pytest
from django.db import connections
from django.test import TransactionTestCase


# Transactional tests (`django_db(transaction=True)`) end with Django's flush, one TRUNCATE of every table. The
# append-only tables refuse TRUNCATE (common/guards.py), on purpose and without a session setting to turn that off.
# The flush alone gets past them the way only a superuser can — the test database's connection is one, the
# application's role never is: `SET LOCAL session_replication_role = replica` in the flush's own transaction, just
# before its TRUNCATE, so triggers do not fire for that one statement. Nothing else in a test runs that way.
#
# The flush also empties the rows the migrations seed (relationship types, chains, permissions). One process runs
# every rolled-back test before the first flushing one (pytest-django's order); the suite runs on every core with
# `--dist load` (pyproject.toml), which hands each worker its tests in that same order, so that stays true per worker.
def _lift_guards_for_the_flush(execute, sql, params, many, context):
    if isinstance(sql, str) and sql.lstrip()[:8].upper() == "TRUNCATE":
        context["cursor"].execute("SET LOCAL session_replication_role = replica")
    return execute(sql, params, many, context)


_flush = TransactionTestCase._fixture_teardown


def _fixture_teardown(self):
    with contextlib.ExitStack() as stack:
        for alias in self._databases_names(include_mirrors=False):
            stack.enter_context(connections[alias].execute_wrapper(_lift_guards_for_the_flush))
        _flush(self)


TransactionTestCase._fixture_teardown = _fixture_teardown


# Autovacuum is off for the test database's tables. Most tests write their rows in a transaction that rolls
# back; a server with autovacuum on (the embedded one of `./dev test` is) then vacuums the dead rows away and
# records the table as holding no rows on its pages (reltuples 0), and the planner believes it for the next test:
# a join of a few thousand rows planned as a nested loop over "one row" ran for minutes. Without vacuum the
# planner estimates from the table's current size, as on a server with autovacuum off (the CI machine's).
@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), connections["default"].cursor() as cur:
        cur.execute("""
            DO $$
            DECLARE t regclass;
            BEGIN
                FOR t IN SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                         WHERE c.relkind = 'r' AND n.nspname = current_schema() LOOP
                    EXECUTE format('ALTER TABLE %s SET (autovacuum_enabled = false)', t);
                END LOOP;
            END $$""")


@pytest.fixture(autouse=True)
def _fresh_type_rows():
    """The type choices a process keeps for a minute (relationships.types.type_rows) are forgotten between tests:
    a rolled-back test's types must not show in the next one's forms."""
    from relationships.types import forget_type_rows

    forget_type_rows()
    yield
    forget_type_rows()


@pytest.fixture(autouse=True)
def _chinese_first(settings):
    settings.LANGUAGE_CODE = "zh-hans"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Every factory user gets a password; PBKDF2's million rounds per user would dominate the suite's time.
    Sign-in, lockout and session behaviour do not depend on the hasher."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# The usual cast of a view test: one outlet, one of its staff members, signed in.
@pytest.fixture
def outlet():
    from tests.support.factories import OutletFactory

    return OutletFactory()


@pytest.fixture
def staff(outlet):
    from tests.support.factories import StaffFactory

    return StaffFactory(outlet=outlet)


@pytest.fixture
def hq_admin_client(client):
    """Signed in as an HQ permission admin who may use the admin site (client.user; client.hq: HQ)."""
    from tests.support.approvals import hq_admin

    user, hq = hq_admin()
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    client.force_login(user)
    client.user, client.hq = user, hq
    return client


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff.user)
    return client


@pytest.fixture(autouse=True)
def _second_factor_only_where_tested(settings, request):
    """R-SEC-AUTH-2's gate is on in production (OTP_REQUIRED cannot be turned off without debug). Tests of other
    rules sign HQ, branch and admin users in without a device; the tests marked `second_factor` turn it on."""
    settings.OTP_REQUIRED = request.node.get_closest_marker("second_factor") is not None
