"""Grafana alerting webhook: its documented payload, per-alert values and links, HMAC signatures."""
from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest

from incidents.models import Alert
from monitoring.models import AlertIntake

from .conftest import grafana_payload

URL = "/api/v1/integrations/grafana"
SECRET = "grafana-shared-secret"
pytestmark = pytest.mark.django_db


def sign(body: bytes, timestamp: str | None = None) -> str:
    signed = f"{timestamp}:".encode() + body if timestamp else body
    return hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()


def post(client, body: bytes, **headers):
    return client.post(URL, data=body, content_type="application/json", headers=headers)


def test_grafanas_documented_payload_becomes_two_alerts_with_values_and_links(
    integration_client, django_capture_on_commit_callbacks
):
    client = integration_client("grafana")
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, json.dumps(grafana_payload()).encode())
    assert response.status_code == 202, response.content
    alert = Alert.objects.get(fingerprint=client.integration.scoped_fingerprint("c6eadffa33fcdf37"))
    assert alert.source_kind == "grafana"
    assert alert.title == "This alert was triggered for zone us-1"
    assert "Values: B=44.23943737541908, C=1" in alert.description
    assert {link["text"] for link in alert.links} == {"Source", "Runbook", "Silence", "Grafana"}
    assert Alert.objects.count() == 2 and Alert.objects.values("incident").distinct().count() == 1


def test_an_alertmanager_version_is_refused(integration_client):
    response = post(integration_client("grafana"), json.dumps({**grafana_payload(), "version": "4"}).encode())
    assert response.status_code == 400 and "version" in response.json()["detail"]


def test_with_a_secret_a_correct_signature_is_accepted(integration_client):
    client = integration_client("grafana", secret=SECRET)
    body = json.dumps(grafana_payload()).encode()
    assert post(client, body, **{"X-Grafana-Alerting-Signature": sign(body)}).status_code == 202


def test_with_a_secret_a_timestamped_signature_is_accepted(integration_client):
    client = integration_client("grafana", secret=SECRET)
    body = json.dumps(grafana_payload()).encode()
    ts = str(int(time.time()))
    response = post(client, body, **{"X-Grafana-Alerting-Signature": sign(body, ts),
                                     "X-Grafana-Alerting-Signature-Timestamp": ts})
    assert response.status_code == 202


@pytest.mark.parametrize(
    "case",
    ["missing", "wrong_body", "wrong_secret", "stale_timestamp", "timestamp_not_signed"],
)
def test_with_a_secret_a_bad_signature_is_refused_and_nothing_stored(integration_client, case):
    client = integration_client("grafana", secret=SECRET)
    body = json.dumps(grafana_payload()).encode()
    ts_old = str(int(time.time()) - 3600)
    headers = {
        "missing": {},
        "wrong_body": {"X-Grafana-Alerting-Signature": sign(body + b" ")},
        "wrong_secret": {"X-Grafana-Alerting-Signature": hmac.new(b"other", body, hashlib.sha256).hexdigest()},
        "stale_timestamp": {"X-Grafana-Alerting-Signature": sign(body, ts_old), "X-Grafana-Alerting-Timestamp": ts_old},
        "timestamp_not_signed": {"X-Grafana-Alerting-Signature": sign(body),
                                 "X-Grafana-Alerting-Signature-Timestamp": str(int(time.time()))},
    }[case]
    response = post(client, body, **headers)
    assert response.status_code == 401
    assert "ignature" in response.json()["detail"]
    assert not AlertIntake.objects.exists()


def test_without_a_secret_no_signature_is_needed(integration_client):
    assert post(integration_client("grafana"), json.dumps(grafana_payload()).encode()).status_code == 202
