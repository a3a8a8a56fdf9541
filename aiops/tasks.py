"""Project-wide periodic tasks."""
from __future__ import annotations

from celery import shared_task

from . import operations


@shared_task(name="aiops.heartbeat")
def heartbeat() -> bool:
    """Records that beat and a worker are alive (/readyz, the home page, /metrics show its age) and
    pings the dead man's switch (HEARTBEAT_URL) while no queue is stalled."""
    return operations.heartbeat_send()


@shared_task(name="aiops.self_check")
def self_check() -> list[str]:
    """Raises (and later resolves) an incident for every queue that stopped draining."""
    return list(operations.pipeline_self_check().stalled)
