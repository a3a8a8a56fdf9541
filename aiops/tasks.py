"""Project-wide periodic tasks."""
from __future__ import annotations

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

from .reports.emails import report_email_send


@shared_task(name="aiops.heartbeat")
def heartbeat() -> str:
    """Records that beat and a worker are alive; /readyz and the home page show its age."""
    now = timezone.now().isoformat()
    cache.set("aiops:heartbeat", now, timeout=None)
    return now


@shared_task(name="aiops.send_report", acks_late=True)
def send_report(name: str) -> int:
    """Beat: e-mail report `name` for its last complete period to its subscribers (once per period)."""
    return report_email_send(name=name)
