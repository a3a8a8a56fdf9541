"""A real Prometheus Alertmanager delivers to us through its webhook and PagerDuty integrations.

Alerts are posted to Alertmanager's own API; everything after that (grouping, webhook and
PagerDuty Events v2 delivery, resolution) is Alertmanager's doing. Its configuration is built
from the snippets `createintegration` prints, so the README's instructions are what is tested.
"""
from __future__ import annotations

import shutil
import socket
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
import requests
import yaml

from core.choices import IntegrationKind
from core.snippets import alertmanager_receiver, pagerduty_receiver
from incidents.models import Alert, Incident
from monitoring.models import AlertIntake

from .conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

BINARY = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def alertmanager(tmp_path):
    """Start Alertmanager with a given config; yields a function returning its base URL."""
    if BINARY is None:
        pytest.skip("prometheus-alertmanager is not installed (scripts/system-deps.sh installs it with apt-get)")
    procs: list[subprocess.Popen] = []

    def start(config: dict) -> str:
        path = tmp_path / "alertmanager.yml"
        path.write_text(yaml.safe_dump(config))
        port = free_port()
        log = open(tmp_path / "alertmanager.log", "w")
        proc = subprocess.Popen(
            [BINARY, f"--config.file={path}", f"--storage.path={tmp_path / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=", "--log.level=debug"],
            stdout=log, stderr=subprocess.STDOUT,
        )
        procs.append(proc)
        base = f"http://127.0.0.1:{port}"

        def ready():
            if proc.poll() is not None:
                raise RuntimeError((tmp_path / "alertmanager.log").read_text())
            try:
                return requests.get(f"{base}/-/ready", timeout=1).status_code == 200
            except requests.ConnectionError:
                return False

        wait_for(ready, timeout=30, message="Alertmanager to be ready")
        return base

    yield start
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    log_file = tmp_path / "alertmanager.log"
    if log_file.exists():
        print(log_file.read_text()[-5000:])  # shown by pytest when the test fails


def post_alerts(base: str, alerts: list[dict]) -> None:
    response = requests.post(f"{base}/api/v2/alerts", json=alerts, timeout=5)
    assert response.status_code == 200, response.text


def am_alert(instance: str, *, ends_at: datetime | None = None) -> dict:
    alert = {
        "labels": {"alertname": "CheckoutErrors", "instance": instance, "severity": "critical", "job": "checkout"},
        "annotations": {"summary": f"5xx ratio above 5% on {instance}", "description": "Checkout is failing"},
        "generatorURL": "http://prometheus.example.com/graph?g0.expr=checkout_errors",
        "startsAt": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
    }
    if ends_at is not None:
        alert["endsAt"] = ends_at.isoformat()
    return alert


def test_alertmanager_webhook_and_pagerduty_delivery_open_and_resolve_incidents(
    celery_worker_process, live_server, alertmanager, make_service, make_integration
):
    checkout, postgres = make_service("checkout-api"), make_service("postgres-main")
    am, am_token = make_integration(IntegrationKind.ALERTMANAGER, service=checkout)
    _, pd_token = make_integration(IntegrationKind.PAGERDUTY, service=postgres)
    ours = live_server.url.replace("localhost", "127.0.0.1")
    # One receiver with both integrations, exactly as the snippets print them.
    receiver = yaml.safe_load(alertmanager_receiver(base=ours, token=am_token, name="aiops"))[0]
    pagerduty = yaml.safe_load(pagerduty_receiver(base=ours, token=pd_token))[0]
    receiver["pagerduty_configs"] = pagerduty["pagerduty_configs"]
    base = alertmanager({
        "global": {"resolve_timeout": "5m"},
        "route": {"receiver": "aiops", "group_by": ["alertname"], "group_wait": "1s",
                  "group_interval": "2s", "repeat_interval": "1h"},
        "receivers": [receiver],
    })

    # Two alerts of one group: one webhook notification with both, one PagerDuty trigger.
    post_alerts(base, [am_alert("web-1"), am_alert("web-2")])

    def both_alerts_in_one_incident():
        alerts = list(Alert.objects.filter(source_kind="alertmanager").exclude(incident=None))
        return len(alerts) == 2 and alerts

    alerts = wait_for(both_alerts_in_one_incident, timeout=60, message="the webhook alerts to open an incident")
    incident = Incident.objects.get(service=checkout)
    assert {a.incident_id for a in alerts} == {incident.pk}
    assert {a.labels["instance"] for a in alerts} == {"web-1", "web-2"}
    assert incident.alerts.count() == 2 and incident.is_open
    assert {a.severity_hint for a in alerts} == {"critical"}
    # Alertmanager's own fingerprints, scoped to its integration.
    prefix = am.scoped_fingerprint("")
    assert all(a.fingerprint.startswith(prefix) and len(a.fingerprint) == len(prefix) + 16 for a in alerts)

    pd_alert = wait_for(lambda: Alert.objects.filter(source_kind="pagerduty").exclude(incident=None).first(),
                        timeout=60, message="the PagerDuty trigger to open an incident")
    assert pd_alert.service_id == postgres.pk and pd_alert.status == "firing"
    assert "CheckoutErrors" in pd_alert.title  # Alertmanager's "[FIRING:2] CheckoutErrors ..." summary

    # One alert resolves (endsAt in the past): Alertmanager notifies the resolution.
    post_alerts(base, [am_alert("web-2", ends_at=datetime.now(UTC) - timedelta(seconds=1))])
    resolved = wait_for(
        lambda: Alert.objects.filter(source_kind="alertmanager", labels__instance="web-2", status="resolved").first(),
        timeout=60, message="web-2 to be resolved",
    )
    assert resolved.incident_id == incident.pk
    assert Alert.objects.get(source_kind="alertmanager", labels__instance="web-1").status == "firing"
    incident.refresh_from_db()
    assert incident.is_open
    assert Incident.objects.filter(service=checkout).count() == 1  # still ONE incident

    # The last one resolves: the incident resolves, and PagerDuty delivery sends its resolve.
    post_alerts(base, [am_alert("web-1", ends_at=datetime.now(UTC) - timedelta(seconds=1))])
    wait_for(lambda: Incident.objects.get(pk=incident.pk).status == "resolved", timeout=60,
             message="the incident to resolve")
    wait_for(lambda: Alert.objects.get(pk=pd_alert.pk).status == "resolved", timeout=60,
             message="the PagerDuty alert to resolve")

    assert Alert.objects.filter(source_kind="alertmanager").count() == 2  # no duplicates from re-sends
    intakes = AlertIntake.objects.all()
    assert intakes and {i.status for i in intakes} == {"processed"}
    assert {i.kind for i in intakes} == {"alertmanager", "pagerduty"}
