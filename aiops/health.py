"""Liveness and readiness checks for load balancers and agents."""
from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import connection


@dataclass(frozen=True, slots=True, kw_only=True)
class Readiness:
    ok: bool
    checks: dict[str, str]

    @property
    def failing(self) -> list[str]:
        return [name for name, state in self.checks.items() if state != "ok"]


def check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return "ok"
    except Exception as exc:  # any driver error means "not ready"
        return f"error: {type(exc).__name__}: {exc}".strip()[:300]


def check_broker() -> str:
    import redis  # only needed when a broker is configured

    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
        client.ping()
        return "ok"
    except Exception as exc:
        return f"error: {type(exc).__name__}: {exc}"[:300]


def readiness() -> Readiness:
    checks = {"database": check_database()}
    if settings.REDIS_URL:
        checks["broker"] = check_broker()
    return Readiness(ok=all(v == "ok" for v in checks.values()), checks=checks)
