"""Integration suite: real PostgreSQL, Redis and a `celery worker` subprocess.

scripts/test.sh sets DATABASE_URL/REDIS_URL and a unique TEST_DATABASE_NAME; the worker
is pointed at the test database pytest-django creates, so what it writes is what tests read.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from incidents.services import signals as signal_services

ROOT = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(config, items):
    if settings.IS_POSTGRES and settings.REDIS_URL:
        return
    skip = pytest.mark.skip(
        reason="integration suite needs DATABASE_URL=postgres://... and REDIS_URL (make test sets them)"
    )
    for item in items:
        if "tests/integration" in str(item.fspath):
            item.add_marker(skip)


def worker_env(db_name: str) -> dict[str, str]:
    db = settings.DATABASES["default"]
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db_name}"
    env = dict(os.environ)
    env.update(DATABASE_URL=url, REDIS_URL=settings.REDIS_URL, CELERY_TASK_ALWAYS_EAGER="false",
               PYTHONUNBUFFERED="1")
    env.pop("TEST_DATABASE_NAME", None)
    return env


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker, tmp_path_factory):
    """A real `celery worker` consuming every queue, against the test database."""
    from aiops.celery import QUEUES, app

    db_name = settings.DATABASES["default"]["NAME"]
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    log = open(log_path, "w")
    hostname = f"test-{os.getpid()}@localhost"
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "aiops", "worker", "-Q", ",".join(QUEUES),
         "-c", "2", "--pool", "prefork", "-l", "info", "-n", hostname, "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=worker_env(db_name), stdout=log, stderr=subprocess.STDOUT,
    )
    app.conf.broker_url = settings.REDIS_URL
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"celery worker exited early:\n{log_path.read_text()}")
        if app.control.ping(destination=[hostname], timeout=1.0):
            break
    else:
        proc.terminate()
        raise RuntimeError(f"celery worker did not answer a ping within 60 s:\n{log_path.read_text()}")
    proc.log_path = log_path
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def wait_for(predicate, *, timeout: float = 30.0, interval: float = 0.2, message: str = "condition"):
    """Poll until `predicate()` is truthy; the worker runs in another process."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


@pytest.fixture(autouse=True)
def _worker_idle_before_teardown():
    """Let the worker finish what a test set off (pages, escalations, ingest) before the tables are truncated.

    A task still running during teardown holds locks that deadlock against TRUNCATE.
    """
    yield
    if not settings.REDIS_URL:
        return
    from aiops.celery import app

    # Countdown tasks (escalation timers) would fire during a later test's teardown: drop them,
    # and drop messages no worker has taken yet.
    inspect = app.control.inspect(timeout=1.0)
    scheduled = inspect.scheduled() or {}
    ids = [task["request"]["id"] for tasks in scheduled.values() for task in tasks]
    if ids:
        app.control.revoke(ids)
    app.control.purge()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        inspect = app.control.inspect(timeout=1.0)
        active = inspect.active() or {}
        reserved = inspect.reserved() or {}
        if not any(active.values()) and not any(reserved.values()):
            return
        time.sleep(0.2)


@pytest.fixture
def fast_joins(monkeypatch):
    """Counts joins the fast path stored; `off()` sends every signal down the general path."""
    counts = {"fast": 0}
    real = signal_services._join_fast

    def counted(signal):
        result = real(signal)
        counts["fast"] += result is not None
        return result

    monkeypatch.setattr(signal_services, "_join_fast", counted)
    counts["off"] = lambda: monkeypatch.setattr(signal_services, "_join_fast", lambda signal: None)
    return counts
