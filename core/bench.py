"""Processes the benchmark commands start on this machine: gunicorn and celery workers, stopped together."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

import requests
from django.conf import settings

LOG_DIR = Path(settings.BASE_DIR) / "var" / "bench"


class BenchProcessError(RuntimeError):
    """A process a benchmark needs did not start."""


def _env() -> dict[str, str]:
    # Same database and broker as the command, tasks through the broker, quiet logs.
    return dict(os.environ, PYTHONUNBUFFERED="1", CELERY_TASK_ALWAYS_EAGER="false", LOG_LEVEL="WARNING")


def _spawn(args: list[str], *, log_name: str) -> subprocess.Popen:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = open(LOG_DIR / log_name, "w")  # noqa: SIM115  the child keeps writing after we return
    return subprocess.Popen(args, cwd=settings.BASE_DIR, env=_env(), stdout=log, stderr=subprocess.STDOUT)


def gunicorn_start(*, workers: int, threads: int = 1, log_name: str = "gunicorn.log") -> tuple[str, subprocess.Popen]:
    """Start gunicorn on a free loopback port and return its URL once /healthz answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    args = [str(Path(sys.executable).parent / "gunicorn"), "aiops.wsgi", "-b", f"127.0.0.1:{port}",
            "-w", str(workers), "--log-level", "warning"]
    if threads > 1:
        args += ["-k", "gthread", "--threads", str(threads), "--keep-alive", "30"]
    web = _spawn(args, log_name=log_name)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and web.poll() is None:
        try:
            if requests.get(f"{url}/healthz", timeout=1).status_code == 200:
                return url, web
        except requests.RequestException:
            time.sleep(0.3)
    web.terminate()
    raise BenchProcessError(f"gunicorn did not start; see {LOG_DIR / log_name}")


def celery_worker_start(*, queues: Iterable[str], concurrency: int, log_name: str,
                        loglevel: str = "warning") -> subprocess.Popen:
    queue_list = ",".join(queues)
    name = f"bench-{queue_list.replace(',', '-')}-{uuid.uuid4().hex[:6]}@%h"
    return _spawn(
        [sys.executable, "-m", "celery", "-A", "aiops", "worker", "-Q", queue_list, "-c", str(concurrency),
         "--pool", "prefork", "-l", loglevel, "-n", name, "--without-gossip", "--without-mingle"],
        log_name=log_name,
    )


def processes_stop(procs: Iterable[subprocess.Popen], *, timeout: float = 30) -> None:
    procs = list(procs)
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
