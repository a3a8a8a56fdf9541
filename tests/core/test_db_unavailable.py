"""While the database is down, every endpoint answers 503 with Retry-After in its own format:
never a 500 HTML page, and never a 2xx for something that was not stored."""
from __future__ import annotations

import json
from contextlib import contextmanager

import orjson
import pytest
from django.db import OperationalError, connection

pytestmark = pytest.mark.django_db


@contextmanager
def database_down(monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError('connection to server at "127.0.0.1", port 5432 failed: Connection refused')

    with monkeypatch.context() as m:
        m.setattr(connection, "ensure_connection", refuse)
        yield


def assert_unavailable(response, content_type="application/json"):
    assert response.status_code == 503, response.content[:300]
    assert int(response["Retry-After"]) > 0
    assert response["Content-Type"].startswith(content_type)


ALERTMANAGER = {"receiver": "aiops", "status": "firing", "version": "4", "groupKey": "{}", "alerts": [
    {"status": "firing", "labels": {"alertname": "HighErrorRate"}, "annotations": {},
     "startsAt": "2026-01-01T00:00:00Z", "endsAt": "0001-01-01T00:00:00Z", "fingerprint": "abc"}]}


@pytest.mark.parametrize(("kind", "url", "body"), [
    ("alertmanager", "/api/v1/integrations/alertmanager", ALERTMANAGER),
    ("grafana", "/api/v1/integrations/grafana", {**ALERTMANAGER, "orgId": 1}),
    ("generic", "/api/v1/signals/", {"source_kind": "custom", "service": "checkout-api", "title": "Down"}),
    ("generic", "/api/v1/telemetry", {"points": [{"metric": "cpu", "value": 1, "service": "checkout-api"}]}),
])
def test_intake_answers_503_json_with_retry_after(integration_client, make_service, monkeypatch, kind, url, body):
    client = integration_client(kind, service=make_service("checkout-api"))
    with database_down(monkeypatch):
        response = client.post(url, data=json.dumps(body), content_type="application/json")
    assert_unavailable(response)
    assert response.json()["code"] == "database_unavailable"


def test_pagerduty_answers_503_in_its_own_error_format(client, make_integration, make_service, monkeypatch):
    _, token = make_integration("pagerduty", service=make_service("postgres-main"))
    event = {"routing_key": token, "event_action": "trigger",
             "payload": {"summary": "disk full", "source": "db-1", "severity": "critical"}}
    with database_down(monkeypatch):
        response = client.post("/api/v1/integrations/pagerduty/v2/enqueue", data=json.dumps(event),
                               content_type="application/json")
    assert_unavailable(response)
    body = response.json()
    assert set(body) == {"status", "message", "errors"} and body["errors"]


def test_otlp_answers_503_with_a_google_rpc_status_in_the_request_encoding(integration_client, make_service,
                                                                           monkeypatch):
    client = integration_client(service=make_service("checkout-api"))
    with database_down(monkeypatch):
        as_json = client.post("/otlp/v1/metrics", data=b"{}", content_type="application/json")
        as_protobuf = client.post("/otlp/v1/metrics", data=b"", content_type="application/x-protobuf")
    assert_unavailable(as_json)
    assert orjson.loads(as_json.content)["code"] == 14  # UNAVAILABLE: exporters retry it
    assert_unavailable(as_protobuf, "application/x-protobuf")
    assert as_protobuf.content[:2] == b"\x08\x0e"  # google.rpc.Status.code = 14


def test_other_api_paths_answer_503_json(client_as, monkeypatch):
    api = client_as("admin")
    with database_down(monkeypatch):
        response = api.get("/api/v1/incidents/")
    assert_unavailable(response)


def test_pages_answer_a_503_page(client, make_user, monkeypatch):
    client.force_login(make_user("admin"))
    with database_down(monkeypatch):
        response = client.get("/incidents/")
    assert_unavailable(response, "text/html")
    assert b"unavailable" in response.content
