"""What the fault tests send: a service with an integration, Alertmanager bodies, and a sender that
records each answer (status, time, Retry-After) and retries 503s as a real agent would."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass

import requests
from django.utils import timezone

from core.services import integration_create, service_get_or_create, team_get_or_create


def source(name: str, *, tier: int, kind: str = "alertmanager"):
    """A service and an integration of `kind` on it; returns (service, token)."""
    team = team_get_or_create(name="Reliability")
    service = service_get_or_create(name=name, team=team, tier=tier)
    _, token = integration_create(kind=kind, name=f"{kind}-{name}", service=service)
    return service, token


def am_alert(name: str, instance: str, *, severity: str = "warning") -> dict:
    return {"status": "firing", "labels": {"alertname": name, "instance": instance, "severity": severity},
            "annotations": {"summary": f"{name} on {instance}"}, "startsAt": timezone.now().isoformat(),
            "endsAt": "0001-01-01T00:00:00Z", "fingerprint": f"{name}-{instance}"}


def am_body(alerts: list[dict]) -> bytes:
    return json.dumps({"receiver": "aiops", "status": "firing", "version": "4", "groupKey": "{}:{}",
                       "alerts": alerts, "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
                       "externalURL": "http://am:9093"}).encode()


@dataclass
class Sent:
    status: int
    seconds: float
    retry_after: str | None
    body: str = ""


def post(session: requests.Session, url: str, token: str, body: bytes, *, headers: dict | None = None,
         timeout: float = 15.0) -> Sent:
    started = time.monotonic()
    try:
        response = session.post(url, data=body, timeout=timeout, headers={
            "Authorization": f"Bearer {token}", "Content-Type": "application/json", **(headers or {})})
    except requests.RequestException:
        return Sent(status=0, seconds=time.monotonic() - started, retry_after=None)
    return Sent(status=response.status_code, seconds=time.monotonic() - started,
                retry_after=response.headers.get("Retry-After"), body=response.text[:2000])


def post_until_accepted(session, url, token, body, *, deadline: float, **kwargs) -> list[Sent]:
    """What a sender does: retry 503 (after Retry-After, capped for the test) until 2xx."""
    tries = []
    while time.monotonic() < deadline:
        sent = post(session, url, token, body, **kwargs)
        tries.append(sent)
        if 200 <= sent.status < 300 or 400 <= sent.status < 500:
            return tries
        time.sleep(min(float(sent.retry_after or 1), 1.0))
    return tries
