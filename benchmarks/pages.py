#!/usr/bin/env python
"""Benchmark of the list pages at scale, each against a trivial signed-in page on the same server.

    .venv/bin/python benchmarks/pages.py [--customers 1000000] [--cases N] [--requests 200] [--single 30] [--keep] [--prepare-only]
    .venv/bin/python benchmarks/pages.py --reuse [--requests 200] [--single 30]

`--reuse` measures a database kept by an earlier `--prepare-only` (or `--keep`) run as it is: nothing is dropped,
generated or migrated, and the bench users and their authenticator keys are read back from it; it is kept.

Creates the database `crm_bench_pages` (dropped first) on the server of DATABASE_URL (or the embedded
one), migrates it and generates, with set-based SQL only: HQ, 5 regions, 30 branches, 300 outlets,
3,000 front staff; N customers; relationships of 2 or 3 types per customer (2.5 per customer on
average) with two holders each, so that shares = 2 × relationships (5,000,000 for 1,000,000 customers);
and `--cases` pending approval cases (default N / 5: 200,000 for 1,000,000 customers) with three steps
each at their branch.

It then starts the site with production settings (DEBUG off) under gunicorn (or `runserver --noreload`
when gunicorn is not installed) on 127.0.0.1 only and signs in 40 clients as a user does: the password, then
the second factor where the user needs one (every bench user has a confirmed TOTP device; the code is
computed from its key, as an authenticator app does). The lists:

- customers: "my relationships" (`relationships:list`, pages 1–3), half the clients as branch users
  (a branch's ~83,000 relationships per 1M customers), half as staff (~1,700 each);
- inbox: the approval inbox (`approvals:inbox`) of 20 branch post holders (~6,700 pending steps each);
- customer_list: the customer list (`relationships:customers`, pages 1–3) for the same users as customers;
- cases: "all cases" (`approvals:cases`, pages 1–3) for the inbox post holders.

The yardstick is the trivial signed-in page `/ping-page/` (`ping`): the same base template, navigation, session
and second factor as every list, and no data, requested by the same users. Each list is measured right after
the trivial page (the box is shared: what the load does to one it does to the other), twice:

- one client: `--single` requests one after the other (one in flight), rotating over the list's users: median;
- 20 clients: `--requests` requests from 20 concurrent urllib clients: p95.

Per list it prints `ratio_single_median` (target ≤ 3) and `ratio_20_p95` (target ≤ 4); the last line is
    pages <list>_single=R1 <list>_p95=R2 … trivial_single_ms=M trivial_p95_ms=P
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
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import (  # noqa: E402
    N_OUTLETS,
    OUTLETS_PER_BRANCH,
    bench_database,
    generate_org_tree,
    log,
    migrated_bench_database,
    recreate,
)

BENCH_DB = os.environ.get("CRM_BENCH_DB", "crm_bench_pages")
N_BRANCHES, N_STAFF = N_OUTLETS // OUTLETS_PER_BRANCH, 3000
CLIENTS = 20
PASSWORD = "bench-pages-pw-1"


# --- data (set-based SQL) --------------------------------------------------------------------------------

def generate(cur, *, customers: int, with_cases: bool, cases: int) -> dict:
    p = {"n": customers, "s": N_STAFF, "b": N_BRANCHES, "o": N_BRANCHES * OUTLETS_PER_BRANCH,
         "per": OUTLETS_PER_BRANCH, "c": cases}
    cur.execute("SET session_replication_role = replica")
    cur.execute("SET work_mem = '256MB'")
    cur.execute("SET maintenance_work_mem = '1GB'")
    generate_org_tree(cur)
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
                proposed_shares, branch_id, applicant_id, explanation, explanation_code, explanation_params, dedupe_key,
                outcome, created_at, updated_at)
            SELECT g, 'late', 'NEW_DEV', 1 + (g * 5) %% %(n)s, 'pending', 1,
                   jsonb_build_array(jsonb_build_object('staff_id', s.id, 'ratio', '1.0000')),
                   o.branch_id, s.id, '', '', '{}', 'bench-' || g, 'create', now() - g * interval '1 minute', now()
            FROM generate_series(1, %(c)s) g
            JOIN b_staff s ON s.idx = (g * 17) %% %(s)s
            JOIN b_outlet o ON o.id = s.outlet_id""", p)
        cur.execute("SELECT setval(pg_get_serial_sequence('approvals_approvalcase', 'id'), %(c)s)", p)
        cur.execute("""
            INSERT INTO approvals_casestep (case_id, "order", post, organisation_id, state, kind)
            SELECT c.id, st.o, st.post, c.branch_id, 'pending', 'chain'
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


def bench_users() -> dict:
    """The bench users `make_users` created in a kept database, and their authenticator keys."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    users: dict = {"customers": [], "inbox": [], "keys": {}}
    for k in range(CLIENTS // 2):
        users["customers"] += [f"bench-branch-{k}", f"S{k * 97:06d}"]
    users["inbox"] = [f"bench-post-{k}" for k in range(CLIENTS)]
    for device in TOTPDevice.objects.filter(user__username__in=users["customers"] + users["inbox"],
                                            confirmed=True).select_related("user"):
        users["keys"][device.user.username] = device.bin_key
    missing = [name for name in users["customers"] + users["inbox"] if name not in users["keys"]]
    if missing:
        raise SystemExit(f"{BENCH_DB} has no bench users {missing[:3]}…: prepare it with --prepare-only first")
    return users


def reused_bench_database(name: str) -> str:
    """Point Django at the kept bench db `name` and set it up without the query log; nothing is changed in it."""
    import django

    bench_url, _admin = bench_database(name)
    os.environ["DATABASE_URL"] = bench_url
    django.setup()
    from django.conf import settings

    settings.DEBUG = False
    return bench_url


def make_users() -> dict:
    """Bench users: 10 branch users, 10 staff members, 20 inbox post holders (one password hash for all), each
    with a confirmed TOTP device whose key the benchmark keeps to compute its codes."""
    import datetime as dt

    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from approvals.models import PostAssignment
    from permissions.models import Role, RoleKind
    from relationships.models import Organisation, Staff

    User = get_user_model()
    hashed = make_password(PASSWORD)
    branches = list(Organisation.objects.filter(kind="branch").order_by("code"))
    users: dict = {"customers": [], "inbox": [], "keys": {}}
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
        PostAssignment.objects.create(post="account_opening_review", organisation=branches[k % len(branches)],
                                      user=u, valid_from=dt.date(2020, 1, 1))
        users["inbox"].append(u.username)
    for u in User.objects.filter(username__in=users["customers"] + users["inbox"]):
        device = TOTPDevice.objects.create(user=u, name="authenticator", confirmed=True)
        users["keys"][u.username] = device.bin_key
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

    def _open(self, path: str, data: bytes | None = None, referer: str = "/accounts/login/"):
        req = urllib.request.Request(self.base + path, data=data)
        if self.cookies:
            req.add_header("Cookie", "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        if data is not None:
            req.add_header("Content-Type", "application/x-www-form-urlencoded")
            req.add_header("Referer", self.base + referer)
        opener = urllib.request.build_opener(NoRedirect)
        try:
            resp = opener.open(req, timeout=120)
        except urllib.error.HTTPError as exc:
            resp = exc
        for header in resp.headers.get_all("Set-Cookie") or []:
            cookie = http.cookies.SimpleCookie(header)
            for key, morsel in cookie.items():
                self.cookies[key] = morsel.value
        return resp.status, resp.read(), resp.headers.get("Location", "")

    def _post_form(self, path: str, fields: dict) -> tuple[int, str]:
        status, body, _ = self._open(path)
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1).decode()
        status, _, location = self._open(path, urllib.parse.urlencode(
            {**fields, "csrfmiddlewaretoken": token}).encode(), referer=path)
        return status, location

    def login(self, username: str, key: bytes) -> None:
        """The password, then (where the user needs it) the six-digit code of his authenticator, as a user does."""
        from django_otp.oath import totp

        status, location = self._post_form("/accounts/login/", {"username": username, "password": PASSWORD})
        if status != 302 or "sessionid" not in self.cookies:
            raise SystemExit(f"sign-in of {username} failed ({status})")
        status, _, location = self._open("/ping-page/")
        path = urllib.parse.urlsplit(location).path
        if status == 302 and path.startswith("/accounts/second-factor/"):
            status, location = self._post_form(path, {"otp_token": f"{totp(key):06d}", "next": "/ping-page/"})
            if status != 302 or urllib.parse.urlsplit(location).path.startswith("/accounts/"):
                raise SystemExit(f"second factor of {username} failed ({status} → {location})")
            status, _, location = self._open("/ping-page/")
        if status != 200:
            raise SystemExit(f"{username} is not signed in: /ping-page/ answered {status} → {location}")

    def get(self, path: str) -> tuple[int, float]:
        started = time.perf_counter()
        status, _, _ = self._open(path)
        return status, (time.perf_counter() - started) * 1000


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _checked(name: str, session: Session, path: str) -> float:
    status, ms = session.get(path)
    if status != 200:
        raise SystemExit(f"{name}: {path} answered {status}")
    return ms


def single(name: str, sessions: list[Session], paths, requests: int) -> float:
    """One client at a time: `requests` GETs one after the other, rotating over the sessions; the median."""
    for k, s in enumerate(sessions):  # warm-up: one request each
        _checked(name, s, paths(k))
    latencies = [_checked(name, sessions[i % len(sessions)], paths(i)) for i in range(requests)]
    median = statistics.median(latencies)
    log(f"  {name} one client: n={len(latencies)} median_ms={median:.1f} min_ms={min(latencies):.1f}")
    return median


def concurrent(name: str, sessions: list[Session], paths, requests: int, time_limit: float) -> float:
    """`requests` GETs in all from len(sessions) concurrent clients, stopping at `time_limit` seconds; the p95."""
    per_client = max(1, requests // len(sessions))
    deadline = time.time() + time_limit

    def run(k: int) -> list[float]:
        out = []
        for i in range(per_client):
            if time.time() > deadline:
                break
            out.append(_checked(name, sessions[k], paths(k + i)))
        return out

    with ThreadPoolExecutor(len(sessions)) as pool:
        latencies = sorted(ms for chunk in pool.map(run, range(len(sessions))) for ms in chunk)
    result = p95(latencies)
    log(f"  {name} {len(sessions)} clients: n={len(latencies)} median_ms={statistics.median(latencies):.1f} "
        f"p95_ms={result:.1f} max_ms={latencies[-1]:.1f}")
    return result


def p95(values: list[float]) -> float:
    values = sorted(values)
    return values[int(0.95 * (len(values) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--cases", type=int, default=None, help="pending cases (default: customers / 5)")
    parser.add_argument("--requests", type=int, default=200, help="requests per list with 20 clients")
    parser.add_argument("--single", type=int, default=30, help="requests per list with one client")
    parser.add_argument("--time-limit", type=float, default=180, help="seconds per list and 20 clients at most")
    parser.add_argument("--keep", action="store_true", help="keep the bench database afterwards")
    parser.add_argument("--prepare-only", action="store_true", help="generate the data, keep it and stop")
    parser.add_argument("--reuse", action="store_true",
                        help="measure the database an earlier --prepare-only or --keep run kept, as it is (kept)")
    args = parser.parse_args()
    cases = args.customers // 5 if args.cases is None else args.cases

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_platform.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")  # development settings (the embedded keys), as before
    if args.reuse:
        bench_url, admin = reused_bench_database(BENCH_DB), None
        args.keep = True
    else:
        bench_url, admin = migrated_bench_database(BENCH_DB)

    from django.db import connection, connections
    from django.urls import reverse

    started = time.perf_counter()
    if args.reuse:
        users = bench_users()
        log(f"reusing {BENCH_DB} as it is")
    else:
        with connection.cursor() as cur:
            counts = generate(cur, customers=args.customers, with_cases=True, cases=cases)
            log(f"generated {counts} in {time.perf_counter() - started:.1f} s")
            vacuum(cur)
        users = make_users()
        log(f"data ready in {time.perf_counter() - started:.1f} s")
    connections.close_all()
    if args.prepare_only:
        log(f"kept {BENCH_DB}: {bench_url}")
        return

    port = free_port()
    env = {**os.environ, "DATABASE_URL": bench_url, "DJANGO_DEBUG": "0", "DJANGO_SECURE_SSL_REDIRECT": "0",
           "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
           "PII_KEY": os.environ.get("PII_KEY") or secrets.token_urlsafe(48),
           "DJANGO_ALLOWED_HOSTS": "127.0.0.1", "LOG_LEVEL": "WARNING"}
    server = start_server(port, env)
    results: dict[str, tuple[float, float]] = {}
    trivial_single: list[float] = []
    trivial_p95: list[float] = []
    try:
        base = f"http://127.0.0.1:{port}"
        sessions = {}
        for group in ("customers", "inbox"):
            sessions[group] = []
            for name in users[group]:
                s = Session(base)
                s.login(name, users["keys"][name])
                sessions[group].append(s)
        log(f"signed in {sum(len(v) for v in sessions.values())} clients (password and second factor)")
        ping = reverse("ping")
        lists = [("customers", "customers", reverse("relationships:list"), True),
                 ("inbox", "inbox", reverse("approvals:inbox"), False),
                 ("customer_list", "customers", reverse("relationships:customers"), True),
                 ("cases", "inbox", reverse("approvals:cases"), True)]
        for name, group, path, paged in lists:
            def paths(i, path=path, paged=paged):
                return f"{path}?page={1 + i % 3}" if paged else path
            log(f"{name}:")
            group_sessions = sessions[group]
            t1 = single("trivial", group_sessions, lambda i: ping, args.single)
            m1 = single(name, group_sessions, paths, args.single)
            t20 = concurrent("trivial", group_sessions, lambda i: ping, args.requests, args.time_limit)
            m20 = concurrent(name, group_sessions, paths, args.requests, args.time_limit)
            trivial_single.append(t1)
            trivial_p95.append(t20)
            results[name] = (m1 / t1, m20 / t20)
            log(f"  {name}: ratio_single_median={m1 / t1:.2f} (target ≤ 3) ratio_20_p95={m20 / t20:.2f} "
                f"(target ≤ 4)")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
    if not args.keep:
        recreate(admin, BENCH_DB, create=False)
    log("pages " + " ".join(f"{name}_single={r1:.2f} {name}_p95={r20:.2f}" for name, (r1, r20) in results.items())
        + f" trivial_single_ms={statistics.median(trivial_single):.1f}"
        f" trivial_p95_ms={statistics.median(trivial_p95):.1f}")


if __name__ == "__main__":
    main()
