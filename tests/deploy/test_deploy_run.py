"""The image's build and start commands for real (issue "production recipe", marker `deploy`: `./dev test -m deploy`,
a step of its own in .ci/run; about two minutes).

Build: the Dockerfile's build stage is read and its COPY/ENV/WORKDIR/RUN lines are carried out as written, in
fresh folders standing for /opt/venv, /src and /app, with the Dockerfile's environment and nothing else: no
secret, no DATABASE_URL, no Redis (libpq pointed at a folder that does not exist). Python is this machine's base
interpreter, as the base image's would be.

Start: a PostgreSQL cluster of the test's own (so it can be stopped) gets deploy/postgres/roles.psql as compose's
init script runs it; `migrate` runs as the owner role; gunicorn runs as the Dockerfile's CMD and a worker as
compose's command, both as the app role with compose's environment (secrets filled in), from the built
virtualenv. Then: /healthz/ and the sign-in page answer, the worker runs a nightly run, the logs are JSON, and
/healthz/ fails once the worker is killed and while PostgreSQL is stopped.
"""
from __future__ import annotations

import datetime as dt
import fnmatch
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.deploy.test_production_settings import compose_environment, compose_secrets
from tests.support.workers import redis_up

pytestmark = pytest.mark.deploy

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("REDIS_URL_FOR_TESTS", "redis://127.0.0.1:6379/15")
PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"))), None)
HOST = "crm.example.com"


# ------------------------------------------------------------------------------------------------ the build

def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile's instructions per stage, as (INSTRUCTION, rest) with continuation lines joined."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    stages: list[list[tuple[str, str]]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        if word.upper() == "FROM":
            stages.append([])
        elif stages:
            stages[-1].append((word.upper(), rest.strip()))
    return stages


def _expand(value: str, env: dict[str, str]) -> str:
    return re.sub(r"\$\{?(\w+)\}?", lambda m: env.get(m.group(1), ""), value)


def _env_pairs(rest: str, env: dict[str, str]) -> dict[str, str]:
    return {key: _expand(value.strip('"'), env) for key, value in (item.split("=", 1) for item in shlex.split(rest))}


def _context_files() -> list[Path]:
    """The build context: the work tree's files less .dockerignore's patterns."""
    patterns = [p.strip() for p in (ROOT / ".dockerignore").read_text().splitlines()
                if p.strip() and not p.startswith("#")]
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.split()

    def ignored(rel: str) -> bool:
        parts = rel.split("/")
        prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
        return any(fnmatch.fnmatch(prefix, pattern.removeprefix("**/")) or fnmatch.fnmatch(parts[-1], pattern)
                   for pattern in patterns for prefix in prefixes)

    return [Path(rel) for rel in listed if not ignored(rel) and (ROOT / rel).is_file()]


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    """The build stage carried out; returns the folders and the final stage's environment and command."""
    base = tmp_path_factory.mktemp("image")
    where = {"VENV": str(base / "opt-venv"), "SRC": str(base / "src"), "APP": str(base / "app")}
    python_dir = base / "base-python"
    python_dir.mkdir()
    (python_dir / "python").symlink_to(Path(sys.base_prefix) / "bin" / "python3")
    env = {"PATH": f"{python_dir}:/usr/local/bin:/usr/bin:/bin", "HOME": str(base), "LANG": "C.UTF-8",
           "PGHOST": "/nonexistent"}
    # How this machine reaches the package index (its certificate bundle, index, timeouts): not the project's.
    env.update({k: v for k, v in os.environ.items() if k in {"PIP_CERT", "PIP_INDEX_URL", "PIP_DEFAULT_TIMEOUT",
                                                             "SSL_CERT_FILE"}})
    build, final = dockerfile_stages()
    cwd = base
    log = []
    for word, rest in build:
        if word == "ENV":
            env.update(_env_pairs(rest, env))
            env.update(where)  # the stage's absolute folders, moved into this test's temporary folder
        elif word == "WORKDIR":
            cwd = Path(_expand(rest, env))
            cwd.mkdir(parents=True, exist_ok=True)
        elif word == "COPY":
            source, dest = shlex.split(rest)
            dest = Path(_expand(dest, env))
            if source == ".":
                for rel in _context_files():
                    (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(ROOT / rel, dest / rel)
            else:
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / source, dest)
        elif word == "RUN":
            started = time.monotonic()
            result = subprocess.run(["sh", "-c", rest], cwd=cwd, env=env, capture_output=True, text=True,
                                    timeout=900)
            log.append((rest, round(time.monotonic() - started, 1)))
            assert result.returncode == 0, f"RUN {rest}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    # The final stage's environment, with its /opt/venv and /app standing for the folders above.
    final_env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": where["APP"], "LANG": "C.UTF-8"}
    command = None
    for word, rest in final:
        if word == "ENV":
            pairs = _env_pairs(rest, final_env)
            final_env.update({k: v.replace("/opt/venv", where["VENV"]).replace("/app", where["APP"])
                              for k, v in pairs.items()})
        elif word == "CMD":
            command = json.loads(rest)
    return {"dirs": {k: Path(v) for k, v in where.items()}, "env": final_env, "cmd": command, "log": log}


def test_the_image_builds_from_the_lock_without_a_secret_a_database_or_redis(image):
    venv, app = image["dirs"]["VENV"], image["dirs"]["APP"]
    assert (app / "staticfiles" / "admin").is_dir() and (app / "staticfiles" / "vendor" / "htmx.min.js").is_file()
    assert (app / "staticfiles" / "staticfiles.json").is_file() or any((app / "staticfiles").iterdir())
    # What the final stage copies holds no tests, benchmarks, demo data or pgserver, and no editable install.
    site_packages = next(venv.glob("lib/python*/site-packages"))
    for name in ("tests", "benchmarks", "fixtures", "pgserver"):
        assert not (site_packages / name).exists() and not (app / name).exists(), name
    assert sorted(p.name for p in app.iterdir()) == ["gunicorn.conf.py", "locale", "manage.py", "static",
                                                     "staticfiles", "templates"]
    freeze = subprocess.run([str(venv / "bin" / "pip"), "freeze"], capture_output=True, text=True).stdout
    names = {re.sub(r"[-_.]+", "-", re.split(r"[=@ ]", line, maxsplit=1)[0]).lower() for line in freeze.splitlines()}
    assert not names & {"pgserver", "pytest", "pytest-django", "factory-boy", "playwright", "uv"}
    assert "-e " not in freeze and "crm-platform" in names  # installed, not editable
    locked = {line.split("==")[0].split("[")[0].lower() for line in (ROOT / "requirements" / "base.txt").read_text()
              .splitlines() if "==" in line and not line.startswith(" ")}
    assert names - {"crm-platform"} <= locked
    check = subprocess.run([str(venv / "bin" / "pip"), "check"], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout


# ------------------------------------------------------------------------------------------------ the start

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A PostgreSQL cluster of this test's own, on a Unix socket only (trust auth), that the test may stop."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="crm-deploy-pg-"))
        self.data, self.socket, self.port = self.dir / "data", self.dir, _free_port()
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.dir, "postgres")
        self._pg("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()

    def _pg(self, tool: str, *args: str):
        subprocess.run([*self.as_user, str(PG_BIN / tool), *args], check=True, capture_output=True, timeout=120)

    def start(self):
        self._pg("pg_ctl", "-D", str(self.data), "-w", "-l", str(self.dir / "log"), "-o",
                 f"-p {self.port} -k {self.socket} -c listen_addresses='' -c fsync=off", "start")

    def stop(self):
        self._pg("pg_ctl", "-D", str(self.data), "-w", "-m", "fast", "stop")

    def url(self, user: str, db: str = "crm") -> str:
        return f"postgres://{user}@{quote(str(self.socket), safe='')}:{self.port}/{db}"

    def psql(self, *args: str, user: str = "postgres", db: str = "postgres") -> str:
        return subprocess.run([str(PG_BIN / "psql"), "--no-psqlrc", "-X", "-q", "-t", "-A", "-h", str(self.socket),
                               "-p", str(self.port), "-U", user, "-d", db, "-v", "ON_ERROR_STOP=1", *args],
                              check=True, capture_output=True, text=True, timeout=60).stdout

    def remove(self):
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster():
    if PG_BIN is None or not redis_up():
        pytest.fail("the deploy tests need PostgreSQL's server binaries and Redis (.ci/run provides both)")
    c = Cluster()
    yield c
    c.remove()


def _get(port: int, path: str, timeout: float = 15) -> tuple[int, str, dict]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={
        "Host": HOST, "X-Forwarded-Proto": "https", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), dict(error.headers)


def _wait(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}")


def _json_lines(path: Path) -> list[dict]:
    lines = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            pass
    return lines


def test_the_start_commands_serve_health_and_sign_in_run_a_night_and_fail_health_without_worker_or_database(
        image, cluster, tmp_path):
    from reservations.pipeline import STAGE_NAMES

    _venv, app = image["dirs"]["VENV"], image["dirs"]["APP"]
    # compose's postgres init script: the database, the owner and the app role (names from docker-compose.yml).
    cluster.psql("-v", "owner=crm_owner", "-v", "owner_password=x", "-v", "app=crm_app", "-v", "app_password=x",
                 "-v", "dbname=crm", "-f", str(ROOT / "deploy" / "postgres" / "roles.psql"))
    values = compose_secrets()
    queue = f"crm-deploy-{uuid.uuid4().hex[:8]}"
    local = {"REDIS_URL": REDIS_URL, "CELERY_QUEUE": queue, "CACHE_KEY_PREFIX": queue,
             "GUNICORN_BIND": f"127.0.0.1:{_free_port()}", "WEB_CONCURRENCY": "2"}

    def service_env(name: str) -> dict:
        env = compose_environment(name, values)
        user = re.match(r"postgres://(\w+):", env["DATABASE_URL"]).group(1)
        return {**image["env"], **env, **local, "DATABASE_URL": cluster.url(user)}

    def run(name: str, argv: list[str], log: Path) -> subprocess.Popen:
        return subprocess.Popen(argv, cwd=app, env=service_env(name), stdout=log.open("w"),
                                stderr=subprocess.STDOUT, start_new_session=True)

    # migrate: as compose's `migrate` service, i.e. as the owner.
    migrate = subprocess.run(["python", "manage.py", "migrate", "--noinput"], cwd=app, env=service_env("migrate"),
                             capture_output=True, text=True, timeout=600)
    assert migrate.returncode == 0, migrate.stdout[-3000:] + migrate.stderr[-3000:]
    assert cluster.psql("-c", "SELECT tableowner FROM pg_tables WHERE tablename = 'relationships_auditentry'",
                        db="crm").strip() == "crm_owner"
    # The app role got its rights by the init script's default privileges, and no more.
    with pytest.raises(subprocess.CalledProcessError) as refused:
        cluster.psql("-c", "TRUNCATE relationships_auditentry", user="crm_app", db="crm")
    assert "permission denied" in refused.value.stderr
    # The owner may TRUNCATE, but the append-only guard refuses it (common/guards.py).
    with pytest.raises(subprocess.CalledProcessError) as refused:
        cluster.psql("-c", "TRUNCATE relationships_auditentry CASCADE", user="crm_owner", db="crm")
    assert "append-only" in refused.value.stderr
    # The calendar: HQ enters any year of the next 60 days the package does not know (as the app role).
    import chinese_calendar

    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
    for year in range(today.year, (today + dt.timedelta(days=60)).year + 1):
        if year > max(chinese_calendar.constants.holidays).year:
            # A day entered does not make its year known (R-CAL-1): HQ records the year as loaded, too.
            cluster.psql("-c", f"INSERT INTO relationships_calendarday (date, is_workday, note) "
                         f"VALUES ('{year}-01-01', false, 'deploy test')", user="crm_app", db="crm")
            cluster.psql("-c", f"INSERT INTO relationships_calendaryear (year, note, loaded_at, loaded_by) "
                         f"VALUES ({year}, 'deploy test', now(), 'deploy test')", user="crm_app", db="crm")

    web_log, worker_log = tmp_path / "web.log", tmp_path / "worker.log"
    port = int(local["GUNICORN_BIND"].rsplit(":", 1)[1])
    web = run("web", image["cmd"], web_log)
    worker = run("worker", ["celery", "-A", "crm_platform", "worker", "--loglevel", "INFO"], worker_log)
    try:
        def healthy():
            try:
                return _get(port, "/healthz/", timeout=10)[0] == 200
            except OSError:
                return False

        _wait(healthy, 120, f"/healthz/ to answer 200 (web log: {web_log}, worker log: {worker_log})")
        status, body, headers = _get(port, "/healthz/")
        assert status == 200 and set(json.loads(body).values()) == {"OK"}, body
        assert {"Database(alias='default')", "Migrations()", "CalendarKnown(days=60)", "CeleryWorker()"} <= set(
            json.loads(body))
        # The container's probe, exactly as the image's HEALTHCHECK runs it.
        probe = subprocess.run(["python", "-m", "crm_platform.probe"], cwd=app, capture_output=True, text=True,
                               env={**service_env("web"), "CRM_PROBE_URL": f"http://127.0.0.1:{port}/healthz/"})
        assert probe.returncode == 0, probe.stdout
        status, page, headers = _get(port, "/accounts/login/")
        assert status == 200 and "登录" in page
        assert "secure" in headers.get("Set-Cookie", "").lower()  # behind the TLS proxy the cookies are Secure

        # A nightly run through the worker.
        from celery import Celery

        Celery("deploy-test", broker=REDIS_URL).send_task("reservations.tasks.run_nightly_task", args=["2026-03-03"],
                                                          queue=queue)

        def night_done():
            done = cluster.psql("-c", "SELECT count(*) FROM reservations_batchrun WHERE business_date = '2026-03-03' "
                                "AND status = 'succeeded'", user="crm_app", db="crm")
            return int(done.strip()) == len(STAGE_NAMES)

        _wait(night_done, 120, f"the nightly run (worker log: {worker_log})")

        # Logs: JSON lines; the site's request line, gunicorn's access line, the worker's lines with task ids.
        site = _json_lines(web_log)
        request_line = next(e for e in site if e.get("logger") == "crm.request" and e.get("path") == "/accounts/login/")
        assert request_line["time"].endswith("+08:00") and request_line["status"] == 200
        assert {"level", "request_id", "user", "method", "duration_ms"} <= set(request_line)
        access = next(e for e in site if e.get("logger") == "gunicorn.access" and e.get("path") == "/accounts/login/")
        assert access["status"] == 200 and access["request_id"] == request_line["request_id"]
        tasks = [e for e in _json_lines(worker_log) if e.get("task_id")]
        assert any(e.get("task") == "reservations.tasks.run_stage_task" for e in tasks), worker_log.read_text()[-3000:]

        # The worker killed: /healthz/ fails and says why.
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=20)
        status, body, _ = _get(port, "/healthz/")
        assert status == 500 and "Celery workers unavailable" in json.loads(body)["CeleryWorker()"]
        assert json.loads(body)["Database(alias='default')"] == "OK"

        # PostgreSQL stopped: /healthz/ answers (quickly) 500 for the database; once it is back, the database is OK.
        cluster.stop()
        started = time.monotonic()
        status, body, _ = _get(port, "/healthz/")
        assert status == 500 and json.loads(body)["Database(alias='default')"] != "OK"
        assert time.monotonic() - started < 15
        cluster.start()
        _wait(lambda: json.loads(_get(port, "/healthz/")[1])["Database(alias='default')"] == "OK", 30,
              "the database check to recover")
    finally:
        for proc in (web, worker):
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(proc.pid, sig)
                    proc.wait(timeout=30)
                    break
                except ProcessLookupError:
                    break
                except subprocess.TimeoutExpired:
                    continue
