"""What every benchmark shares: its own bench database on the server of DATABASE_URL (or the embedded one), migrated
afresh, the organisation tree all of them generate, and the log line.

One home, so that a benchmark is its data and its measurement only; each script names its own database (the name
is an argument, not a module global another script has to overwrite).
"""
from __future__ import annotations

import os
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
N_OUTLETS = 300          # 30 branches × 10 outlets, in 5 regions
OUTLETS_PER_BRANCH = 10


def log(msg: str) -> None:
    print(msg, flush=True)


# --- the bench database ----------------------------------------------------------------------------------

def bench_database(name: str) -> tuple[str, dict]:
    """(DATABASE_URL of the bench db `name`, connection kwargs for the server's maintenance db)."""
    url = os.environ.get("DATABASE_URL")
    if url:
        import dj_database_url

        cfg = dj_database_url.parse(url)
        bench_url = urllib.parse.urlsplit(url)._replace(path="/" + name).geturl()
    else:
        from crm_platform.embedded_pg import ensure_embedded_database

        cfg = ensure_embedded_database(ROOT)
        host = urllib.parse.quote(str(cfg["HOST"]), safe="")
        port = f":{cfg['PORT']}" if cfg.get("PORT") else ""
        bench_url = f"postgres://{cfg['USER']}@{host}{port}/{name}"
    admin = {"host": cfg.get("HOST") or None, "port": cfg.get("PORT") or None, "user": cfg.get("USER") or None,
             "password": cfg.get("PASSWORD") or None, "dbname": "postgres", "autocommit": True}
    return bench_url, {k: v for k, v in admin.items() if v is not None}


def recreate(admin: dict, name: str, create: bool = True) -> None:
    """Drop the bench db `name` (and, `create`, create it empty)."""
    import psycopg

    with psycopg.connect(**admin) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        if create:
            conn.execute(f"CREATE DATABASE {name}")


def migrated_bench_database(name: str) -> tuple[str, dict]:
    """Create the bench db `name` afresh, point Django at it (DATABASE_URL), set Django up without the query log
    (production conditions) and migrate it. Returns what `bench_database` returns. The caller sets its own
    environment defaults (settings module, DJANGO_DEBUG, keys) first."""
    bench_url, admin = bench_database(name)
    os.environ["DATABASE_URL"] = bench_url
    recreate(admin, name)

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.DEBUG = False  # no query log: production conditions
    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    log(f"migrated {name} in {time.perf_counter() - started:.1f} s")
    return bench_url, admin


def vacuum_analyze(cur, tables: tuple[str, ...]) -> None:
    for table in tables:
        cur.execute(f"VACUUM (ANALYZE) {table}")


# --- data generation (set-based SQL only) ----------------------------------------------------------------

def generate_org_tree(cur) -> None:
    """HQ, 5 regions, 30 branches, 300 outlets (codes BBnn / BOnnn); shared by every benchmark."""
    cur.execute("INSERT INTO relationships_region (code, name) SELECT 'R' || g, '区域' || g FROM generate_series(1, 5) g")
    cur.execute("INSERT INTO relationships_organisation (code, name, kind) VALUES ('HQ', '总部', 'hq')")
    cur.execute("""
        INSERT INTO relationships_organisation (code, name, kind, parent_id, region_id)
        SELECT 'BB' || lpad(g::text, 2, '0'), '分公司' || g, 'branch',
               (SELECT id FROM relationships_organisation WHERE code = 'HQ'),
               (SELECT id FROM relationships_region WHERE code = 'R' || (1 + (g - 1) %% 5))
        FROM generate_series(1, %(b)s) g""", {"b": N_OUTLETS // OUTLETS_PER_BRANCH})
    cur.execute("UPDATE relationships_organisation SET branch_id = id WHERE kind = 'branch'")
    cur.execute("""
        INSERT INTO relationships_organisation (code, name, kind, parent_id, branch_id, region_id)
        SELECT 'BO' || lpad(g::text, 3, '0'), '营业部' || g, 'outlet', b.id, b.id, b.region_id
        FROM generate_series(0, %(o)s - 1) g
        JOIN relationships_organisation b ON b.code = 'BB' || lpad((g / %(per)s + 1)::text, 2, '0')""",
                {"o": N_OUTLETS, "per": OUTLETS_PER_BRANCH})
