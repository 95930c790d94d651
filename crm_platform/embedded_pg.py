"""Embedded PostgreSQL for a fresh machine.

When DATABASE_URL is unset the project still runs on a real PostgreSQL: the
`pgserver` package ships the server binaries in a wheel, and we keep one
cluster under `.pgdata/` in the project, started on first use and left running
so that the web process, management commands and the test run share it.
"""
from __future__ import annotations

import os
from pathlib import Path

DB_NAME = "crm"


def ensure_embedded_database(base_dir: Path) -> dict:
    """Start (or attach to) the embedded cluster and return Django DB settings."""
    import warnings

    os.environ.setdefault("XDG_RUNTIME_DIR", str(base_dir / ".pgdata-run"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver  # imported lazily: only needed without DATABASE_URL

    pgdata = Path(os.environ.get("CRM_PGDATA", base_dir / ".pgdata"))
    pgdata.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(pgdata, cleanup_mode=None)
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DB_NAME}';")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {DB_NAME};")
    info = server.get_postmaster_info()
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": DB_NAME,
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": str(info.socket_dir),
        "PORT": str(info.port or ""),
    }
