"""The fault suite: real gunicorn, celery workers and beat on a PostgreSQL cluster and a Redis of its own.

`scripts/reliability.sh` starts the cluster and the Redis (tests stop and restart them) and sets
RELIABILITY_*; without them every test here is skipped. Each test counts what went in and what came
out and records a line (accepted, processed, duplicates, lost, latency) printed at the end of the run.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.db import connections

from incidents.choices import ChannelKind
from incidents.models import ChannelEndpoint, EscalationStep, NotificationPolicy

ROOT = Path(__file__).resolve().parents[2]
RESULTS: list[str] = []

# Processes see short sweeps and leases, so a fault is repaired in seconds rather than production's
# minutes; what is tested is that it is repaired, once.
FAST_ENV = {
    "NOTIFY_SWEEP_SECONDS": "1", "ALERT_INTAKE_SWEEP_SECONDS": "1", "ALERT_INTAKE_LEASE_SECONDS": "3",
    "NOTIFY_LEASE_MARGIN_SECONDS": "2", "NOTIFY_PENDING_GRACE_SECONDS": "3", "DRAIN_LEASE_SECONDS": "3",
    "LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1", "CELERY_TASK_ALWAYS_EAGER": "false",
}


def _configured() -> bool:
    return bool(os.environ.get("RELIABILITY_PGDATA") and settings.IS_POSTGRES and settings.REDIS_URL)


def pytest_collection_modifyitems(config, items):
    if _configured():
        return
    skip = pytest.mark.skip(reason="the fault suite runs through scripts/reliability.sh (its own PostgreSQL and Redis)")
    for item in items:
        if "tests/reliability" in str(item.fspath):
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter):
    if RESULTS:
        terminalreporter.section("reliability figures")
        for line in RESULTS:
            terminalreporter.write_line(line)


def report(test: str, **figures) -> str:
    """One line per test: accepted, processed, duplicates, lost, latency (printed at the end)."""
    line = f"{test}: " + ", ".join(f"{key}={value}" for key, value in figures.items())
    RESULTS.append(line)
    print(line)
    return line


def wait_for(predicate, *, timeout: float, interval: float = 0.25, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


def db_reconnect() -> None:
    """Drop this process's connection (it died with a database restart); the next query opens one."""
    for conn in connections.all():
        try:
            conn.close()
        except Exception:  # noqa: BLE001  a connection to a stopped server cannot close cleanly
            conn.connection = None


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


# --- the cluster and the broker of this run ---------------------------------------------------------

def _as_postgres(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


class Database:
    """The run's own PostgreSQL cluster (scripts/reliability.sh made it): stop and start it."""

    def __init__(self) -> None:
        self.bin = os.environ["RELIABILITY_PG_BIN"]
        self.data = os.environ["RELIABILITY_PGDATA"]
        self.port = os.environ["RELIABILITY_PG_PORT"]
        self.socket = os.environ["RELIABILITY_PG_SOCKET"]

    def stop(self) -> None:
        subprocess.run(_as_postgres([f"{self.bin}/pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop"]),
                       check=True, capture_output=True)

    def start(self) -> None:
        subprocess.run(_as_postgres([
            f"{self.bin}/pg_ctl", "-D", self.data, "-l", f"{self.data}/../pg.log", "-w",
            "-o", f"-p {self.port} -k {self.socket} -c listen_addresses=127.0.0.1 -c max_connections=200", "start",
        ]), check=True, capture_output=True)


class Broker:
    """The run's own Redis (no persistence, as a broker that loses what it held on a restart)."""

    def __init__(self) -> None:
        self.port = os.environ["RELIABILITY_REDIS_PORT"]
        self.dir = os.environ["RELIABILITY_WORK"]

    def ping(self) -> bool:
        out = subprocess.run(["redis-cli", "-p", self.port, "ping"], capture_output=True, text=True)
        return out.stdout.strip() == "PONG"

    def stop(self) -> None:
        subprocess.run(["redis-cli", "-p", self.port, "shutdown", "nosave"], capture_output=True)
        wait_for(lambda: not self.ping(), timeout=10, message="redis to stop")

    def start(self) -> None:
        subprocess.run(["redis-server", "--port", self.port, "--bind", "127.0.0.1", "--save", "", "--appendonly",
                        "no", "--dir", self.dir, "--daemonize", "yes", "--logfile", f"{self.dir}/redis.log"],
                       check=True, capture_output=True)
        wait_for(self.ping, timeout=10, message="redis to start")

    def flush(self) -> None:
        subprocess.run(["redis-cli", "-p", self.port, "flushall"], capture_output=True)


@pytest.fixture
def database():
    db = Database()
    yield db
    status = subprocess.run(_as_postgres([f"{db.bin}/pg_ctl", "-D", db.data, "status"]), capture_output=True)
    if status.returncode != 0:  # a failed test left it stopped: the next tests need it
        db.start()


@pytest.fixture
def broker():
    redis_server = Broker()
    yield redis_server
    if not redis_server.ping():
        redis_server.start()


# --- the processes: gunicorn, workers, beat -----------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Stack:
    """gunicorn, celery workers and beat as deployed (README "Production"), against the test database."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.procs: dict[str, subprocess.Popen] = {}
        self.url = ""

    def env(self) -> dict[str, str]:
        db = settings.DATABASES["default"]
        env = dict(os.environ, **FAST_ENV)
        env["DATABASE_URL"] = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        env.pop("TEST_DATABASE_NAME", None)
        return env

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        log = open(self.tmp / f"{name}.log", "w")  # noqa: SIM115  the child writes it
        proc = subprocess.Popen(args, cwd=ROOT, env=self.env(), stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)  # its own group: SIGKILL takes its children too
        self.procs[name] = proc
        return proc

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text()[-4000:]

    def web(self) -> str:
        port = _free_port()
        self._spawn("web", [str(Path(sys.executable).parent / "gunicorn"), "aiops.wsgi", "-b", f"127.0.0.1:{port}",
                            "-k", "gthread", "-w", "2", "--threads", "4", "--keep-alive", "30",
                            "--log-level", "warning"])
        self.url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            assert self.procs["web"].poll() is None, self.log("web")
            try:
                return requests.get(f"{self.url}/healthz", timeout=1).status_code == 200
            except requests.RequestException:
                return False
        wait_for(up, timeout=60, message="gunicorn")
        return self.url

    def worker(self, name: str, queues: str, *, concurrency: int = 2, wait: bool = True) -> subprocess.Popen:
        proc = self._spawn(name, [sys.executable, "-m", "celery", "-A", "aiops", "worker", "-Q", queues,
                                  "-c", str(concurrency), "--pool", "prefork", "-l", "info",
                                  "-n", f"{name}-{os.getpid()}@localhost", "--without-gossip", "--without-mingle"])
        if wait:
            self.ready(name)
        return proc

    def ready(self, name: str) -> None:
        proc = self.procs[name]
        wait_for(lambda: " ready." in (self.tmp / f"{name}.log").read_text() or proc.poll() is not None,
                 timeout=120, message=f"worker {name}")
        assert proc.poll() is None, self.log(name)

    def workers(self, suffix: str = "") -> None:
        """As in production: intake and detection apart from pages and sweeps (started together)."""
        self.worker(f"intake{suffix}", "ingest,detect", concurrency=2, wait=False)
        self.worker(f"notify{suffix}", "notify,default", concurrency=2, wait=False)
        self.ready(f"intake{suffix}")
        self.ready(f"notify{suffix}")

    def beat(self) -> subprocess.Popen:
        return self._spawn("beat", [sys.executable, "-m", "celery", "-A", "aiops", "beat", "-l", "warning",
                                    "-s", str(self.tmp / "beat-schedule")])

    def kill(self, name: str) -> None:
        proc = self.procs.pop(name)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def alive(self, name: str) -> bool:
        return self.procs[name].poll() is None

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.procs.clear()


@pytest.fixture
def stack(transactional_db, tmp_path):
    s = Stack(tmp_path)
    yield s
    s.stop_all()
    Broker().flush()  # countdowns and kicks of this test must not reach the next one's workers
    db_reconnect()


# --- the pager: a webhook receiver counting what each delivery brought --------------------------------

@dataclass
class Page:
    delivery_id: int
    incident_id: int
    kind: str
    at: float  # time.time() when answered


@dataclass
class Pager:
    url: str = ""
    delay: float = 0.0
    received: int = 0
    pages: list[Page] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answered(self) -> Counter:
        with self.lock:
            return Counter(p.delivery_id for p in self.pages)

    @property
    def duplicates(self) -> int:
        return sum(n - 1 for n in self.answered().values() if n > 1)

    def first_page_at(self, incident_id: int, kind: str = "page") -> float | None:
        with self.lock:
            times = [p.at for p in self.pages if p.incident_id == incident_id and p.kind == kind]
        return min(times) if times else None

    def incidents_paged(self, kind: str = "page") -> set[int]:
        with self.lock:
            return {p.incident_id for p in self.pages if p.kind == kind}


@pytest.fixture
def pager():
    state = Pager()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            with state.lock:
                state.received += 1
            if state.delay:
                time.sleep(state.delay)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")
            incident = int(str(body.get("url", "")).rstrip("/").rsplit("/", 1)[-1] or 0)
            with state.lock:
                state.pages.append(Page(delivery_id=int(body.get("delivery_id") or 0), incident_id=incident,
                                        kind=str(body.get("kind", "")), at=time.time()))

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/page"
    yield state
    server.shutdown()
    server.server_close()


def paging_policy(pager: Pager, *, escalation: bool = False) -> NotificationPolicy:
    """Level 1 pages the webhook; with `escalation`, its first step pages the webhook again."""
    endpoint = ChannelEndpoint.objects.create(name="pager", kind=ChannelKind.WEBHOOK, url=pager.url, timeout_seconds=5)
    policy, _ = NotificationPolicy.objects.update_or_create(severity=1, defaults={
        "enabled": True, "digest_only": False, "channels": [ChannelKind.WEBHOOK], "escalation_limit": 1,
        "ack_timeout_minutes": 5})
    policy.endpoints.set([endpoint])
    policy.escalation_steps.all().delete()
    if escalation:
        EscalationStep.objects.create(policy=policy, position=1, notify_team=False)
    NotificationPolicy.objects.exclude(severity=1).delete()  # only Level 1 pages in these tests
    return policy
