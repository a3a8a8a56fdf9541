"""Payload factories shaped exactly like what Alertmanager, Grafana and PagerDuty clients send."""
from __future__ import annotations

import copy
import time
from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time

ZERO_TIME = "0001-01-01T00:00:00Z"


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def am_alert(name: str = "HighErrorRate", *, status: str = "firing", fingerprint: str | None = None,
             starts_at: datetime | None = None, ends_at: datetime | None = None, **labels: str) -> dict:
    starts_at = starts_at or datetime.now(UTC) - timedelta(minutes=5)
    return {
        "status": status,
        "labels": {"alertname": name, "severity": "critical", **labels},
        "annotations": {"summary": f"{name} is firing", "description": f"{name}: details",
                        "runbook_url": "https://runbooks.example.com/" + name},
        "startsAt": rfc3339(starts_at),
        "endsAt": rfc3339(ends_at) if ends_at else ZERO_TIME,
        "generatorURL": f"http://prometheus:9090/graph?g0.expr={name}",
        "fingerprint": fingerprint or f"{abs(hash((name, tuple(sorted(labels.items()))))):016x}"[:16],
    }


def am_payload(*alerts: dict, version: str = "4", group_key: str = '{}:{alertname="HighErrorRate"}') -> dict:
    alerts = alerts or (am_alert(instance="a"), am_alert(instance="b"))
    status = "firing" if any(a["status"] == "firing" for a in alerts) else "resolved"
    return {
        "receiver": "aiops", "status": status, "alerts": list(alerts),
        "groupLabels": {"alertname": "HighErrorRate"}, "commonLabels": {"alertname": "HighErrorRate"},
        "commonAnnotations": {}, "externalURL": "http://alertmanager:9093", "version": version,
        "groupKey": group_key, "truncatedAlerts": 0,
    }


GRAFANA_EXAMPLE = {  # Grafana's documented example payload (webhook notifier docs), timestamps refreshed
    "receiver": "My Super Webhook", "status": "firing", "orgId": 1,
    "alerts": [
        {"status": "firing", "labels": {"alertname": "High memory usage", "team": "blue", "zone": "us-1"},
         "annotations": {"description": "The system has high memory usage",
                         "runbook_url": "https://myrunbook.com/runbook/1234",
                         "summary": "This alert was triggered for zone us-1"},
         "startsAt": "", "endsAt": ZERO_TIME,
         "generatorURL": "https://play.grafana.org/alerting/1afz29v7z/edit", "fingerprint": "c6eadffa33fcdf37",
         "silenceURL": "https://play.grafana.org/alerting/silence/new?alertmanager=grafana",
         "dashboardURL": "", "panelURL": "", "values": {"B": 44.23943737541908, "C": 1}},
        {"status": "firing", "labels": {"alertname": "High CPU usage", "team": "blue", "zone": "eu-1"},
         "annotations": {"description": "The system has high CPU usage",
                         "runbook_url": "https://myrunbook.com/runbook/1234",
                         "summary": "This alert was triggered for zone eu-1"},
         "startsAt": "", "endsAt": ZERO_TIME,
         "generatorURL": "https://play.grafana.org/alerting/d1rdpdv7k/edit", "fingerprint": "bc97ff14869b13e3",
         "silenceURL": "https://play.grafana.org/alerting/silence/new?alertmanager=grafana",
         "dashboardURL": "", "panelURL": "", "values": {"B": 44.23943737541908, "C": 1}},
    ],
    "groupLabels": {}, "commonLabels": {"team": "blue"}, "commonAnnotations": {},
    "externalURL": "https://play.grafana.org/", "version": "1", "groupKey": "{}:{}", "truncatedAlerts": 0,
    "title": "[FIRING:2]  (blue)", "state": "alerting", "message": "**Firing**\n\nLabels: ...",
}


def grafana_payload() -> dict:
    payload = copy.deepcopy(GRAFANA_EXAMPLE)
    for alert in payload["alerts"]:
        alert["startsAt"] = rfc3339(datetime.now(UTC) - timedelta(minutes=3))
    return payload


def pd_event(action: str = "trigger", *, routing_key: str = "", dedup_key: str | None = None, **payload) -> dict:
    event: dict = {"routing_key": routing_key, "event_action": action}
    if dedup_key is not None:
        event["dedup_key"] = dedup_key
    if action == "trigger":
        event["payload"] = {"summary": "Disk almost full on db-1", "source": "db-1", "severity": "error",
                            "component": "postgres", "group": "prod-db", "class": "disk",
                            "custom_details": {"free": "3%", "mount": "/var/lib/postgresql"}, **payload}
        event["links"] = [{"href": "https://grafana.example.com/d/disk", "text": "Disk dashboard"}]
        event["images"] = [{"src": "https://grafana.example.com/render/disk.png", "alt": "disk"}]
    return event


@pytest.fixture
def am_client(integration_client, make_service):
    return integration_client("alertmanager", service=make_service("checkout-api"))


@pytest.fixture
def pd_integration(make_integration, make_service):
    return make_integration("pagerduty", service=make_service("postgres-main"))


@pytest.fixture(autouse=True)
def _fresh_rate_limit_counters():
    """Rate-limit windows live in the cache and in this process's leases, which outlive each
    test's database rollback (and SQLite reuses the rolled-back integration ids)."""
    from django.core.cache import cache

    from core.ratelimit import rate_limit_forget

    cache.clear()
    rate_limit_forget()
    yield
    cache.clear()
    rate_limit_forget()


_FREEZERS: list = []


def away_from_a_minute_boundary(margin: float = 10.0) -> None:
    """Rate-limit windows are wall-clock minutes: start a counting test well inside one.

    The clock moves on (freezegun, still ticking) to a second after the next minute starts, so at
    least 59 s, more than `margin`, are left in the window; the test's end puts it back.
    """
    now = time.time()
    start = now - now % 60 + 61.0
    assert 60 - start % 60 > margin
    freezer = freeze_time(datetime.fromtimestamp(start, tz=UTC), tick=True)
    freezer.start()
    _FREEZERS.append(freezer)


@pytest.fixture(autouse=True)
def _clock_restored():
    yield
    while _FREEZERS:
        _FREEZERS.pop().stop()
