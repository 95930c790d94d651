#!/usr/bin/env python
"""Benchmark of the two busiest pages at scale, against a trivial page on the same server.

    .venv/bin/python benchmarks/pages.py [--customers 1000000] [--shares 5000000] [--requests 400] [--keep]

Creates the database `crm_bench_pages` (dropped first) on the server of DATABASE_URL (or the embedded
one), migrates it and generates, with set-based SQL only: HQ, 5 regions, 30 branches, 300 outlets,
3,000 front staff; N customers; relationships of 2 or 3 types per customer (2.5 per customer on
average) with two holders each, so that shares = 2 × relationships (5,000,000 for 1,000,000 customers);
and, when the approval engine's URL `approvals:inbox` exists, 200,000 pending approval cases with three
steps each at their branch.

It then starts the site with production settings (DEBUG off) under gunicorn (or `runserver --noreload`
when gunicorn is not installed) on 127.0.0.1 only, signs in 20 clients and measures, with 20
concurrent urllib clients and a bounded number of requests per page:

- customers: "my relationships" (`relationships:list`, pages 1–3), half the clients as branch users
  (a branch's ~83,000 relationships), half as staff (~1,700 each);
- inbox: the approval inbox (`approvals:inbox`) of 20 branch post holders (~6,700 pending steps each),
  or the reservations list when there is no inbox;
- customer_list: the customer list (`relationships:customers`, pages 1–3) for the same users as customers;
- cases: "all cases" (`approvals:cases`, pages 1–3) for the inbox post holders;
- trivial: the sign-in page, anonymous.

The last line printed is:
    pages p95_ms_customers=A p95_ms_inbox=B p95_ms_customer_list=C p95_ms_cases=D p95_ms_trivial=E
"""
from __future__ import annotations

import argparse
import http.cookies
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH_DB = "crm_bench_pages"
N_BRANCHES, OUTLETS_PER_BRANCH, N_STAFF = 30, 10, 3000
CLIENTS = 20
PASSWORD = "bench-pages-pw-1"


def log(msg: str) -> None:
    print(msg, flush=True)


def bench_database() -> tuple[str, dict]:
    from benchmarks.match import bench_database as match_bench_database

    url, admin = match_bench_database()
    return url.rsplit("/", 1)[0] + "/" + BENCH_DB, admin


def recreate(admin: dict, create: bool = True) -> None:
    import psycopg

    with psycopg.connect(**admin) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        if create:
            conn.execute(f"CREATE DATABASE {BENCH_DB}")


# --- data (set-based SQL) --------------------------------------------------------------------------------

def generate(cur, *, customers: int, with_cases: bool, cases: int) -> dict:
    p = {"n": customers, "s": N_STAFF, "b": N_BRANCHES, "o": N_BRANCHES * OUTLETS_PER_BRANCH,
         "per": OUTLETS_PER_BRANCH, "c": cases}
    cur.execute("SET session_replication_role = replica")
    cur.execute("SET work_mem = '256MB'")
    cur.execute("SET maintenance_work_mem = '1GB'")
    cur.execute("INSERT INTO relationships_region (code, name) SELECT 'R' || g, '区域' || g FROM generate_series(1, 5) g")
    cur.execute("INSERT INTO relationships_organisation (code, name, kind) VALUES ('HQ', '总部', 'hq')")
    cur.execute("""
        INSERT INTO relationships_organisation (code, name, kind, parent_id, region_id)
        SELECT 'BB' || lpad(g::text, 2, '0'), '分公司' || g, 'branch',
               (SELECT id FROM relationships_organisation WHERE code = 'HQ'),
               (SELECT id FROM relationships_region WHERE code = 'R' || (1 + (g - 1) %% 5))
        FROM generate_series(1, %(b)s) g""", p)
    cur.execute("UPDATE relationships_organisation SET branch_id = id WHERE kind = 'branch'")
    cur.execute("""
        INSERT INTO relationships_organisation (code, name, kind, parent_id, branch_id, region_id)
        SELECT 'BO' || lpad(g::text, 3, '0'), '营业部' || g, 'outlet', b.id, b.id, b.region_id
        FROM generate_series(0, %(o)s - 1) g
        JOIN relationships_organisation b ON b.code = 'BB' || lpad((g / %(per)s + 1)::text, 2, '0')""", p)
    cur.execute("CREATE TEMP TABLE b_outlet AS SELECT substr(code, 3)::int AS idx, id, branch_id "
                "FROM relationships_organisation WHERE kind = 'outlet'")
    cur.execute("""
        INSERT INTO relationships_staff (staff_no, name, kind, attach_open, outlet_id)
        SELECT 'S' || lpad(g::text, 6, '0'), '员工' || g,
               (ARRAY['advisor', 'account_manager', 'account_manager', 'other_front'])[1 + g %% 4], true, o.id
        FROM generate_series(0, %(s)s - 1) g JOIN b_outlet o ON o.idx = g %% %(o)s""", p)
    cur.execute("""CREATE TEMP TABLE b_staff AS SELECT substr(staff_no, 2)::int AS idx, s.id, s.outlet_id
                   FROM relationships_staff s""")
    cur.execute("CREATE UNIQUE INDEX ON b_staff (idx)")
    cur.execute("""
        INSERT INTO relationships_customer (id, id_hash, id_encrypted, id_masked, name, phone_encrypted, created_at)
        SELECT i, md5('bench-' || i) || md5('id-' || i), 'bench', '110105********0000', '客户' || i, '', now()
        FROM generate_series(1, %(n)s) i""", p)
    cur.execute("SELECT setval(pg_get_serial_sequence('relationships_customer', 'id'), %(n)s)", p)
    # Customer i holds types 0..k-1 (k = 2 or 3); the first holder is staff a, the second staff a+1.
    cur.execute("""
        CREATE TEMP TABLE b_rel AS
        SELECT row_number() OVER () AS id, i AS customer_id, t,
               (ARRAY['NEW_DEV', 'MAINTENANCE', 'KEY_SERVICE'])[t + 1] AS type_id,
               ((i::bigint * 7919 + t * 31) %% %(s)s)::int AS a,
               DATE '2020-01-01' + ((i * 13 + t * 101) %% 2200) AS d
        FROM generate_series(1, %(n)s) i, generate_series(0, 2) t
        WHERE t < 2 + i %% 2""", p)
    cur.execute("""
        INSERT INTO relationships_relationship (id, customer_id, type_id, effective_from, source, outlet_id,
                                                created_at)
        SELECT r.id, r.customer_id, r.type_id, r.d, 'reservation', s.outlet_id, now()
        FROM b_rel r JOIN b_staff s ON s.idx = r.a""")
    cur.execute("SELECT setval(pg_get_serial_sequence('relationships_relationship', 'id'), "
                "(SELECT max(id) FROM relationships_relationship))")
    cur.execute("""
        INSERT INTO relationships_relationshipshare (relationship_id, staff_id, ratio, effective_from)
        SELECT r.id, s.id, 0.5, r.d
        FROM b_rel r, generate_series(0, 1) h, b_staff s
        WHERE s.idx = (r.a + h) %% %(s)s""", p)
    counts = {}
    for table in ("relationships_customer", "relationships_relationship", "relationships_relationshipshare"):
        cur.execute(f"SELECT count(*) FROM {table}")
        counts[table.split("_", 1)[1]] = cur.fetchone()[0]
    if with_cases:
        cur.execute("""
            INSERT INTO approvals_approvalcase (id, reason, type_id, customer_id, status, current_step,
                proposed_shares, branch_id, applicant_id, explanation, dedupe_key, outcome, created_at, updated_at)
            SELECT g, 'late', 'NEW_DEV', 1 + (g * 5) %% %(n)s, 'pending', 1,
                   jsonb_build_array(jsonb_build_object('staff_id', s.id, 'ratio', '1.0000')),
                   o.branch_id, s.id, '', 'bench-' || g, 'create', now() - g * interval '1 minute', now()
            FROM generate_series(1, %(c)s) g
            JOIN b_staff s ON s.idx = (g * 17) %% %(s)s
            JOIN b_outlet o ON o.id = s.outlet_id""", p)
        cur.execute("SELECT setval(pg_get_serial_sequence('approvals_approvalcase', 'id'), %(c)s)", p)
        cur.execute("""
            INSERT INTO approvals_casestep (case_id, "order", post, organisation_id, state)
            SELECT c.id, st.o, st.post, c.branch_id, 'pending'
            FROM approvals_approvalcase c,
                 (VALUES (1, 'account_opening_review'), (2, 'outlet_review'), (3, 'final_approval')) st(o, post)""")
        cur.execute("SELECT count(*) FROM approvals_casestep")
        counts["casesteps"] = cur.fetchone()[0]
    cur.execute("SET session_replication_role = origin")
    return counts


def vacuum(cur) -> None:
    for table in ("relationships_customer", "relationships_relationship", "relationships_relationshipshare",
                  "relationships_staff", "relationships_organisation", "approvals_approvalcase",
                  "approvals_casestep"):
        cur.execute(f"VACUUM (ANALYZE) {table}")


def make_users(with_cases: bool) -> dict:
    """Bench users: 10 branch users, 10 staff members, 20 inbox post holders (one password hash for all)."""
    import datetime as dt

    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    from permissions.models import Role, RoleKind
    from relationships.models import Organisation, Staff

    User = get_user_model()
    hashed = make_password(PASSWORD)
    branches = list(Organisation.objects.filter(kind="branch").order_by("code"))
    users = {"customers": [], "inbox": []}
    for k in range(CLIENTS // 2):
        u = User.objects.create(username=f"bench-branch-{k}", password=hashed)
        Role.objects.create(user=u, kind=RoleKind.BRANCH, organisation=branches[k])
        users["customers"].append(u.username)
        staff = Staff.objects.get(staff_no=f"S{k * 97:06d}")
        u = User.objects.create(username=staff.staff_no, password=hashed)
        staff.user = u
        staff.save(update_fields=["user"])
        users["customers"].append(u.username)
    for k in range(CLIENTS):
        u = User.objects.create(username=f"bench-post-{k}", password=hashed)
        if with_cases:
            from approvals.models import PostAssignment

            PostAssignment.objects.create(post="account_opening_review", organisation=branches[k % len(branches)],
                                          user=u, valid_from=dt.date(2020, 1, 1))
        else:
            Role.objects.create(user=u, kind=RoleKind.BRANCH, organisation=branches[k % len(branches)])
        users["inbox"].append(u.username)
    return users


# --- the server and its clients ----------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, env: dict) -> subprocess.Popen:
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or shutil.which("gunicorn")
    if gunicorn:
        cmd = [gunicorn, "crm_platform.wsgi", "-b", f"127.0.0.1:{port}", "-w", "3", "--threads", "4",
               "-k", "gthread", "--log-level", "warning", "--timeout", "120"]
    else:
        cmd = [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=2).read()
            log(f"server: {' '.join(cmd[:2])} … on 127.0.0.1:{port}")
            return proc
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("the server did not start: " + (proc.stderr.read().decode()[-2000:] if proc.stderr else ""))


class Session:
    """One signed-in client: cookies handled by hand (production cookies are Secure; this is loopback HTTP)."""

    def __init__(self, base: str):
        self.base, self.cookies = base, {}

    def _open(self, path: str, data: bytes | None = None):
        req = urllib.request.Request(self.base + path, data=data)
        if self.cookies:
            req.add_header("Cookie", "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        if data is not None:
            req.add_header("Content-Type", "application/x-www-form-urlencoded")
            req.add_header("Referer", self.base + "/accounts/login/")
        opener = urllib.request.build_opener(NoRedirect)
        try:
            resp = opener.open(req, timeout=60)
        except urllib.error.HTTPError as exc:
            resp = exc
        for header in resp.headers.get_all("Set-Cookie") or []:
            cookie = http.cookies.SimpleCookie(header)
            for key, morsel in cookie.items():
                self.cookies[key] = morsel.value
        return resp.status, resp.read()

    def login(self, username: str) -> None:
        status, body = self._open("/accounts/login/")
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1).decode()
        data = urllib.parse.urlencode({"username": username, "password": PASSWORD,
                                       "csrfmiddlewaretoken": token}).encode()
        status, _ = self._open("/accounts/login/", data)
        if status != 302 or "sessionid" not in self.cookies:
            raise SystemExit(f"sign-in of {username} failed ({status})")

    def get(self, path: str) -> tuple[int, float]:
        started = time.perf_counter()
        status, _ = self._open(path)
        return status, (time.perf_counter() - started) * 1000


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def measure(name: str, sessions: list[Session], paths, requests: int, time_limit: float) -> list[float]:
    """`requests` GETs in all, from len(sessions) concurrent clients, stopping at `time_limit` seconds."""
    per_client = max(1, requests // len(sessions))
    deadline = time.time() + time_limit
    for s in sessions:  # warm-up: one request each
        s.get(paths(0))

    def run(k: int) -> list[float]:
        out = []
        for i in range(per_client):
            if time.time() > deadline:
                break
            status, ms = sessions[k].get(paths(i))
            if status != 200:
                raise SystemExit(f"{name}: {paths(i)} answered {status}")
            out.append(ms)
        return out

    with ThreadPoolExecutor(len(sessions)) as pool:
        latencies = [ms for chunk in pool.map(run, range(len(sessions))) for ms in chunk]
    latencies.sort()
    p95 = latencies[int(0.95 * (len(latencies) - 1))]
    log(f"{name}: n={len(latencies)} median_ms={statistics.median(latencies):.1f} p95_ms={p95:.1f} "
        f"max_ms={latencies[-1]:.1f}")
    return latencies


def p95(values: list[float]) -> float:
    values = sorted(values)
    return values[int(0.95 * (len(values) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--cases", type=int, default=200_000)
    parser.add_argument("--requests", type=int, default=400, help="requests per page, all clients together")
    parser.add_argument("--time-limit", type=float, default=180, help="seconds per page at most")
    parser.add_argument("--keep", action="store_true", help="keep the bench database afterwards")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_platform.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")  # development settings (the embedded keys), as before
    bench_url, admin = bench_database()
    os.environ["DATABASE_URL"] = bench_url
    recreate(admin)

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection, connections
    from django.urls import NoReverseMatch, reverse

    settings.DEBUG = False
    try:
        inbox_path = reverse("approvals:inbox")
        with_cases = True
    except NoReverseMatch:
        inbox_path, with_cases = reverse("reservations:list"), False
    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    log(f"migrated {BENCH_DB} in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    with connection.cursor() as cur:
        counts = generate(cur, customers=args.customers, with_cases=with_cases, cases=args.cases)
        log(f"generated {counts} in {time.perf_counter() - started:.1f} s")
        vacuum(cur)
    users = make_users(with_cases)
    connections.close_all()
    log(f"data ready in {time.perf_counter() - started:.1f} s")

    port = free_port()
    env = {**os.environ, "DATABASE_URL": bench_url, "DJANGO_DEBUG": "0", "DJANGO_SECURE_SSL_REDIRECT": "0",
           "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
           "PII_KEY": os.environ.get("PII_KEY") or secrets.token_urlsafe(48),
           "DJANGO_ALLOWED_HOSTS": "127.0.0.1", "LOG_LEVEL": "WARNING"}
    server = start_server(port, env)
    try:
        base = f"http://127.0.0.1:{port}"
        customer_sessions, inbox_sessions = [], []
        for name in users["customers"]:
            s = Session(base)
            s.login(name)
            customer_sessions.append(s)
        for name in users["inbox"]:
            s = Session(base)
            s.login(name)
            inbox_sessions.append(s)
        anonymous = [Session(base) for _ in range(CLIENTS)]
        list_path = reverse("relationships:list")
        customers = measure("customers", customer_sessions, lambda i: f"{list_path}?page={1 + i % 3}",
                            args.requests, args.time_limit)
        inbox = measure("inbox" if with_cases else "inbox(reservations list)", inbox_sessions,
                        lambda i: inbox_path, args.requests, args.time_limit)
        customer_list_path = reverse("relationships:customers")
        customer_list = measure("customer_list", customer_sessions,
                                lambda i: f"{customer_list_path}?page={1 + i % 3}", args.requests, args.time_limit)
        cases_path = reverse("approvals:cases") if with_cases else reverse("reservations:list")
        cases = measure("cases", inbox_sessions, lambda i: f"{cases_path}?page={1 + i % 3}", args.requests,
                        args.time_limit)
        trivial = measure("trivial", anonymous, lambda i: "/accounts/login/", args.requests, args.time_limit)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
    if not args.keep:
        recreate(admin, create=False)
    log(f"pages p95_ms_customers={p95(customers):.1f} p95_ms_inbox={p95(inbox):.1f} "
        f"p95_ms_customer_list={p95(customer_list):.1f} p95_ms_cases={p95(cases):.1f} "
        f"p95_ms_trivial={p95(trivial):.1f}")


if __name__ == "__main__":
    main()
