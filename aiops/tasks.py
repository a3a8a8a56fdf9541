"""Project-wide periodic tasks."""
from __future__ import annotations

from celery import shared_task

from . import operations
from .reports.emails import report_email_send


@shared_task(name="aiops.heartbeat")
def heartbeat() -> bool:
    """Records that beat and a worker are alive (/readyz, the home page, /metrics show its age) and
    pings the dead man's switch (HEARTBEAT_URL) while no queue is stalled."""
    return operations.heartbeat_send()


@shared_task(name="aiops.send_report", acks_late=True)
def send_report(name: str) -> int:
    """Beat: e-mail report `name` for its last complete period to its subscribers (once per period)."""
    return report_email_send(name=name)


@shared_task(name="aiops.self_check")
def self_check() -> list[str]:
    """Raises (and later resolves) an incident for every queue that stopped draining."""
    return list(operations.pipeline_self_check().stalled)
