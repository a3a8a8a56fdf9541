"""Liveness and readiness checks for load balancers and agents."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class Readiness:
    ok: bool
    # Component -> "ok" or "error"; safe to show anyone (no host, port or driver text).
    checks: dict[str, str]
    # Component -> driver error, for staff and the log only: it names hosts, ports and users.
    details: dict[str, str] = field(default_factory=dict)

    @property
    def failing(self) -> list[str]:
        return [name for name, state in self.checks.items() if state != "ok"]


def check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return "ok"
    except Exception as exc:  # noqa: BLE001 - any driver error means "not ready"
        return f"error: {type(exc).__name__}: {exc}".strip()[:300]


def check_broker() -> str:
    import redis  # only needed when a broker is configured

    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
        client.ping()
        return "ok"
    except Exception as exc:  # noqa: BLE001 - any client error means "not ready"
        return f"error: {type(exc).__name__}: {exc}"[:300]


def readiness() -> Readiness:
    raw = {"database": check_database()}
    if settings.REDIS_URL:
        raw["broker"] = check_broker()
    details = {name: state for name, state in raw.items() if state != "ok"}
    for name, detail in details.items():
        logger.warning("readiness check %s failed: %s", name, detail)
    checks = {name: "ok" if state == "ok" else "error" for name, state in raw.items()}
    return Readiness(ok=not details, checks=checks, details=details)
