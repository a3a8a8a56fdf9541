"""Fixtures for playbook/notification tests: a real local HTTP receiver and a real SMTP server."""
from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes

    @property
    def json(self):
        return json.loads(self.body)


@dataclass
class Receiver:
    """Answers requests with the scripted status codes in order (the last one repeats)."""

    statuses: list[int] = field(default_factory=lambda: [200])
    requests: list[Received] = field(default_factory=list)
    url: str = ""

    def next_status(self) -> int:
        return self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]


@pytest.fixture
def http_receiver():
    receiver = Receiver()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with lock:
                receiver.requests.append(Received(path=self.path, headers=dict(self.headers), body=body))
                status = receiver.next_status()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok" if status < 400 else b"nope")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield receiver
    server.shutdown()
    server.server_close()


@dataclass
class Mailbox:
    messages: list = field(default_factory=list)  # (envelope recipients, parsed email.message.EmailMessage)
    refuse: dict = field(default_factory=dict)  # address -> SMTP reply, e.g. "550 5.1.1 no such user"

    def to(self, address: str) -> list:
        return [m for rcpts, m in self.messages if address in rcpts]

    @property
    def recipients(self) -> set[str]:
        return {r for rcpts, _ in self.messages for r in rcpts}


@pytest.fixture
def smtp_server(settings):
    """A real aiosmtpd server on a free port; Django's SMTP backend is pointed at it."""
    from aiosmtpd.controller import Controller

    mailbox = Mailbox()

    class Handler:
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
            if address in mailbox.refuse:
                return mailbox.refuse[address]
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):
            mailbox.messages.append(
                (list(envelope.rcpt_tos), message_from_bytes(envelope.original_content or envelope.content,
                                                            policy=policy.default))
            )
            return "250 Message accepted for delivery"

    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    yield mailbox
    controller.stop()


@pytest.fixture
def make_incident(db, make_service):
    """An incident straight in the database (the intake path has its own tests), with one alert."""
    import itertools

    from django.utils import timezone

    from incidents.models import Alert, Incident

    seq = itertools.count(1)

    def make(*, severity: int = 3, service=None, title: str | None = None, source_kind: str = "alertmanager",
             opened_at=None, alert_count: int = 1, labels=None, **fields):
        service = service or make_service()
        opened_at = opened_at or timezone.now()
        title = title or f"Incident {next(seq)}"
        incident = Incident.objects.create(
            title=title, service=service, team=service.team, severity=severity, opened_at=opened_at,
            last_alert_at=opened_at, alert_count=1, **fields,
        )
        Alert.objects.create(
            fingerprint=f"fp-{incident.pk}", source_kind=source_kind, source_name="test", service=service,
            incident=incident, title=title, labels=labels or {}, count=alert_count, first_seen=opened_at,
            last_seen=opened_at,
        )
        return incident

    return make


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    """Shorter name: run what the code enqueues after commit (tasks are eager here)."""
    return django_capture_on_commit_callbacks
