"""Project-wide periodic tasks."""
from __future__ import annotations

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone


@shared_task(name="aiops.heartbeat")
def heartbeat() -> str:
    """Records that beat and a worker are alive; /readyz and the home page show its age."""
    now = timezone.now().isoformat()
    cache.set("aiops:heartbeat", now, timeout=None)
    return now
