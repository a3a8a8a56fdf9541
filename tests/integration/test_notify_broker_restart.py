"""Paging survives a broker restart and a killed notify worker (issue #15, items 2 and 4).

Each test starts its own Redis (no persistence, on a private port) and its own `celery worker`
processes against the test database, then kills what production loses: the broker, or the worker.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from celery import Celery
from django.conf import settings
from django.utils import timezone

from incidents.choices import ChannelKind, DeliveryKind, DeliveryStatus, EscalationStatus
from incidents.models import ChannelEndpoint, Delivery, Escalation, EscalationStep, Incident, NotificationPolicy
from incidents.services import escalation

from .conftest import ROOT, wait_for, worker_env

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

REDIS_PORT = int(os.environ.get("NOTIFY_TEST_REDIS_PORT", "16401"))


class RedisServer:
    """A throw-away redis-server that keeps nothing on restart, like a broker without persistence."""

    def __init__(self, port: int, workdir: Path):
        self.port, self.workdir, self.proc = port, workdir, None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True,
                                        text=True).stdout.strip() == "PONG", timeout=10, message="redis to start")

    def shutdown(self) -> None:
        subprocess.run(["redis-cli", "-p", str(self.port), "shutdown", "nosave"], capture_output=True)
        self.proc.wait(timeout=10)


@pytest.fixture
def redis_server(tmp_path):
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed")
    server = RedisServer(REDIS_PORT, tmp_path)
    server.start()
    yield server
    if server.proc.poll() is None:
        server.shutdown()


@pytest.fixture
def start_worker(transactional_db, redis_server, tmp_path):
    """Start `celery worker` processes on our Redis and the test database; all are stopped afterwards."""
    procs = []

    def start(*queues: str, beat: bool = False, **env_overrides: str) -> subprocess.Popen:
        name = f"w{len(procs)}"
        log_path = tmp_path / f"{name}.log"
        env = worker_env(settings.DATABASES["default"]["NAME"])
        env.update(REDIS_URL=redis_server.url, **env_overrides)
        cmd = [sys.executable, "-m", "celery", "-A", "aiops", "worker", "-Q", ",".join(queues), "-c", "1",
               "-l", "info", "-n", f"{name}-{os.getpid()}@localhost", "--without-gossip", "--without-mingle",
               "--without-heartbeat"]
        if beat:
            cmd += ["-B", "-s", str(tmp_path / f"{name}-beat")]
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=open(log_path, "w"), stderr=subprocess.STDOUT,
                                start_new_session=True)
        proc.log_path = log_path
        procs.append(proc)
        wait_for(lambda: " ready." in log_path.read_text() or proc.poll() is not None, timeout=60,
                 message=f"worker {name} to be ready")
        assert proc.poll() is None, log_path.read_text()
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture
def sender(redis_server):
    """Publishes task messages to our Redis, the way the web process would."""
    from aiops.celery import app as aiops_app

    # Not the current app: shared tasks of later tests must keep publishing through aiops's app.
    app = Celery("sender", broker=redis_server.url, set_as_current=False)
    for key in ("task_queues", "task_default_queue", "task_routes", "task_serializer", "accept_content"):
        app.conf[key] = aiops_app.conf[key]
    yield app
    app.close()
    aiops_app.set_current()


@contextmanager
def receiver(*, hang_first: float = 0.0):
    """A webhook receiver; with hang_first, the first request is held that long (its sender gets killed)."""
    state = {"received": 0, "answered": 0}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with lock:
                state["received"] += 1
                first = state["received"] == 1
            if first and hang_first:
                time.sleep(hang_first)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")
            with lock:
                state["answered"] += 1

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state["url"] = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def webhook_delivery(url: str, make_service, *, timeout: float = 5.0) -> Delivery:
    service = make_service()
    incident = Incident.objects.create(title="Broker restart", service=service, team=service.team, severity=1)
    endpoint = ChannelEndpoint.objects.create(name=f"hook-{incident.pk}", kind=ChannelKind.WEBHOOK, url=url,
                                              secret="k", timeout_seconds=timeout)
    return Delivery.objects.create(key=f"page:i{incident.pk}:webhook:e{endpoint.pk}", incident=incident,
                                   kind=DeliveryKind.PAGE, channel=ChannelKind.WEBHOOK, endpoint=endpoint,
                                   address=url, level=1, message={"subject": "[AIOps L1] x", "text": "x", "level": 1})


def test_notify_worker_survives_a_redis_restart_and_still_pages(redis_server, start_worker, sender, make_service):
    worker = start_worker("notify")
    # The worker holds an unacknowledged countdown message, as it does for every armed timer in production.
    sender.send_task("incidents.escalate_incident", args=[0, "none"], queue="notify", countdown=300)
    wait_for(lambda: "incidents.escalate_incident" in worker.log_path.read_text().split(" ready.", 1)[-1], timeout=10,
             message="the worker to take the countdown message")

    redis_server.shutdown()
    time.sleep(2)
    redis_server.start()

    with receiver() as hook:
        delivery = webhook_delivery(hook["url"], make_service)
        sender.send_task("incidents.deliver_notification", args=[delivery.pk], queue="notify")
        wait_for(lambda: Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENT).exists(), timeout=40,
                 message=f"the page queued after the restart to be sent:\n{worker.log_path.read_text()[-3000:]}")
        assert hook["answered"] == 1
    assert worker.poll() is None, worker.log_path.read_text()[-3000:]
    assert "Unrecoverable error" not in worker.log_path.read_text()


def test_an_escalation_armed_before_redis_lost_everything_still_fires(redis_server, start_worker, make_service):
    with receiver() as hook:
        endpoint = ChannelEndpoint.objects.create(name="escalation-hook", kind=ChannelKind.WEBHOOK, url=hook["url"],
                                                  timeout_seconds=5)
        policy, _ = NotificationPolicy.objects.update_or_create(
            severity=1, defaults={"enabled": True, "digest_only": False, "channels": [ChannelKind.WEBHOOK],
                                  "escalation_limit": 3, "ack_timeout_minutes": 5},
        )
        policy.endpoints.set([endpoint])
        policy.escalation_steps.all().delete()
        EscalationStep.objects.create(policy=policy, position=1, notify_managers=True)
        start_worker("notify", "default", beat=True, NOTIFY_SWEEP_SECONDS="1")

        service = make_service()
        incident = Incident.objects.create(title="Nobody answers", service=service, team=service.team, severity=1)
        escalation.escalation_start(incident_id=incident.pk)
        # Armed: due in 4 s (a 5-minute target is too long for a test; the row is what counts).
        Escalation.objects.filter(incident=incident).update(next_at=timezone.now() + timezone.timedelta(seconds=4))

        redis_server.shutdown()  # every queued message, countdowns included, is gone
        time.sleep(1)
        redis_server.start()

        wait_for(lambda: Delivery.objects.filter(incident=incident, kind=DeliveryKind.ESCALATION,
                                                 status=DeliveryStatus.SENT).exists(),
                 timeout=30, message="the escalation to page after the broker restart")
        state = Escalation.objects.get(incident=incident)
        assert state.step == 1 and state.status == EscalationStatus.ACTIVE
        time.sleep(2)  # more sweeps run: still one escalation page
        assert Delivery.objects.filter(incident=incident, kind=DeliveryKind.ESCALATION).count() == 1
        assert hook["answered"] == 1


def test_a_delivery_left_sending_by_a_killed_worker_is_sent_again_within_seconds_once(
    start_worker, sender, make_service
):
    lease = {"NOTIFY_LEASE_MARGIN_SECONDS": "1", "NOTIFY_SWEEP_SECONDS": "1"}
    with receiver(hang_first=30) as hook:
        delivery = webhook_delivery(hook["url"], make_service, timeout=3)  # lease: 3 s timeout + 1 s margin
        notify_worker = start_worker("notify", **lease)
        sender.send_task("incidents.deliver_notification", args=[delivery.pk], queue="notify")
        wait_for(lambda: hook["received"] == 1, timeout=15, message="the worker to start the hand-over")
        os.killpg(notify_worker.pid, signal.SIGKILL)  # dies mid-send: the row stays SENDING
        killed_at = time.monotonic()
        assert Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.SENDING

        start_worker("default", beat=True, **lease)  # the sweep runs on `default`, not on the dead worker
        wait_for(lambda: Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENT).exists(), timeout=25,
                 message="the lost delivery to be sent again")
        assert time.monotonic() - killed_at < 25
        time.sleep(2.5)  # further sweeps must not send it again

        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.SENT and delivery.attempts == 2
        assert hook["received"] == 2 and hook["answered"] == 1
