"""Intake request counters for /metrics: counted per process, added to the shared cache every second.

A counter per request in Redis would cost intake a round trip each (bench_intake measures ~10 ms
requests); a process-local dict flushed at most once a second costs a dict update. What a process
counted in its last second is lost if it dies: these are rates to watch, not the record (the rows are).
"""
from __future__ import annotations

import logging
import threading
import time

from django.core.cache import cache

logger = logging.getLogger(__name__)

# URL name -> intake kind (the intake endpoints of monitoring.api.urls and otlp_urls).
INTAKE_URL_KINDS = {
    "integration-alertmanager": "alertmanager",
    "integration-grafana": "grafana",
    "integration-pagerduty": "pagerduty",
    "telemetry": "telemetry",
    "otlp-metrics": "otlp",
    "signals": "signals",
}
FLUSH_SECONDS = 1.0  # at most one batch of cache writes a second per process
KEYS_KEY = "core:metrics:intake:keys"

_lock = threading.Lock()
_pending: dict[tuple[str, str], int] = {}
_last_flush = 0.0


def outcome_of(status: int) -> str:
    if 200 <= status < 300:
        return "accepted"
    if status == 503:
        return "unavailable"
    return "rejected" if status < 500 else "error"


def intake_count(*, kind: str, status: int) -> None:
    global _last_flush
    key = (kind, outcome_of(status))
    with _lock:
        _pending[key] = _pending.get(key, 0) + 1
        now = time.monotonic()
        if now - _last_flush < FLUSH_SECONDS:
            return
        _last_flush = now
        batch = dict(_pending)
        _pending.clear()
    intake_counts_flush(batch)


def intake_counts_flush(batch: dict[tuple[str, str], int] | None = None) -> None:
    """Add `batch` (default: what this process counted) to the shared counters. Never raises."""
    if batch is None:
        with _lock:
            batch = dict(_pending)
            _pending.clear()
    try:
        known = set(cache.get(KEYS_KEY) or [])
        for (kind, outcome), n in batch.items():
            key = f"core:metrics:intake:{kind}:{outcome}"
            cache.add(key, 0, timeout=None)
            cache.incr(key, n)
            known.add(f"{kind}:{outcome}")
        if batch:
            cache.set(KEYS_KEY, sorted(known), timeout=None)
    except Exception:  # noqa: BLE001  metrics must never break intake
        logger.warning("could not flush intake counters", exc_info=True)


def intake_counts() -> dict[tuple[str, str], int]:
    """The shared counters (after flushing this process's own)."""
    intake_counts_flush()
    names = cache.get(KEYS_KEY) or []
    values = cache.get_many([f"core:metrics:intake:{name}" for name in names])
    result = {}
    for name in names:
        kind, outcome = name.split(":", 1)
        result[(kind, outcome)] = int(values.get(f"core:metrics:intake:{name}", 0))
    return result


class IntakeCountMiddleware:
    """Counts each intake response by kind and outcome (after the view, whatever it answered)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        kind = INTAKE_URL_KINDS.get(match.url_name) if match is not None else None
        if kind is not None and request.method == "POST":
            intake_count(kind=kind, status=response.status_code)
        return response
