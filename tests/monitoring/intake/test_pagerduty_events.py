"""PagerDuty Events API v2: answered exactly like PagerDuty, routing_key as the integration token."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from freezegun import freeze_time

from core.models import Integration
from incidents.models import Alert, Incident
from monitoring.models import AlertIntake

from .conftest import away_from_a_minute_boundary, pd_event

URL = "/api/v1/integrations/pagerduty/v2/enqueue"
pytestmark = pytest.mark.django_db


def post(client, event, url=URL):
    body = event if isinstance(event, (str, bytes)) else json.dumps(event)
    return client.post(url, data=body, content_type="application/json")


def test_a_trigger_is_answered_like_pagerduty_and_opens_an_incident(
    client, pd_integration, django_capture_on_commit_callbacks
):
    _, token = pd_integration
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, pd_event(routing_key=token, dedup_key="disk-db-1"))
    assert response.status_code == 202
    assert response.json() == {"status": "success", "message": "Event processed", "dedup_key": "disk-db-1"}
    alert = Alert.objects.get(fingerprint=pd_integration[0].scoped_fingerprint("disk-db-1"))
    assert alert.title == "Disk almost full on db-1"
    assert alert.severity_hint == "high"  # PagerDuty "error"
    assert alert.labels == {
        "source": "db-1",
        "component": "postgres",
        "group": "prod-db",
        "class": "disk",
        "severity": "error",
    }
    assert "free: 3%" in alert.description
    assert alert.links == [{"href": "https://grafana.example.com/d/disk", "text": "Disk dashboard"}]
    assert alert.payload["images"][0]["alt"] == "disk" and "routing_key" not in alert.payload
    assert Incident.objects.get().service.name == "postgres-main"


def test_a_trigger_without_dedup_key_gets_one_and_a_retry_gets_the_same(client, pd_integration):
    _, token = pd_integration
    first = post(client, pd_event(routing_key=token)).json()["dedup_key"]
    again = post(client, pd_event(routing_key=token)).json()["dedup_key"]
    assert len(first) == 32 and first == again
    assert AlertIntake.objects.count() == 1


def test_acknowledge_then_resolve_drive_the_incident(client, pd_integration, django_capture_on_commit_callbacks):
    _, token = pd_integration
    with django_capture_on_commit_callbacks(execute=True):
        post(client, pd_event(routing_key=token, dedup_key="k1"))
        ack = post(client, pd_event("acknowledge", routing_key=token, dedup_key="k1"))
    assert ack.status_code == 202 and ack.json()["dedup_key"] == "k1"
    assert Incident.objects.get().status == "acknowledged"
    with django_capture_on_commit_callbacks(execute=True):
        post(client, pd_event("resolve", routing_key=token, dedup_key="k1"))
    assert Alert.objects.get().status == "resolved"
    assert Incident.objects.get().status == "resolved"


def test_a_trigger_after_a_resolve_fires_again(client, pd_integration, django_capture_on_commit_callbacks):
    """An identical trigger resent after its resolve is a new firing, not a retry of the first."""
    _, token = pd_integration
    with django_capture_on_commit_callbacks(execute=True):
        post(client, pd_event(routing_key=token, dedup_key="k2"))
        post(client, pd_event("resolve", routing_key=token, dedup_key="k2"))
    assert Alert.objects.get().status == "resolved"
    later = freeze_time(timezone.now() + timedelta(minutes=30))  # past the retry window
    with later, django_capture_on_commit_callbacks(execute=True):
        response = post(client, pd_event(routing_key=token, dedup_key="k2"))
    assert response.status_code == 202 and AlertIntake.objects.count() == 3
    assert Alert.objects.filter(fingerprint=pd_integration[0].scoped_fingerprint("k2"), status="firing").count() == 1


@pytest.mark.parametrize("url", [
    "/api/v1/integrations/pagerduty/v2/enqueue/",
    "/api/v1/integrations/pagerduty/enqueue",
    "/api/v1/integrations/pagerduty",
    "/api/v1/integrations/pagerduty/v2/enqueue/v2/enqueue",
])
def test_path_variants_senders_build_are_accepted(client, pd_integration, url):
    _, token = pd_integration
    assert post(client, pd_event(routing_key=token), url=url).status_code == 202


BAD_EVENTS = {
    "missing_routing_key": (
        lambda t: {k: v for k, v in pd_event().items() if k != "routing_key"},
        "routing_key is missing",
    ),
    "unknown_routing_key": (lambda t: pd_event(routing_key="aiops_nope"), "Invalid routing key"),
    "routing_key_of_another_kind": (lambda t: pd_event(routing_key="OTHER"), "Invalid routing key"),
    "unknown_event_action": (lambda t: pd_event(routing_key=t) | {"event_action": "escalate"}, "event_action"),
    "missing_summary": (lambda t: pd_event(routing_key=t, summary=""), "payload.summary: is missing or blank"),
    "bad_severity": (lambda t: pd_event(routing_key=t, severity="high"), "payload.severity"),
    "bad_timestamp": (lambda t: pd_event(routing_key=t, timestamp="17/07/2015 08:42"), "payload.timestamp"),
    "resolve_without_dedup_key": (lambda t: pd_event("resolve", routing_key=t), "dedup_key: is required to resolve"),
    "summary_too_long": (lambda t: pd_event(routing_key=t, summary="x" * 1025), "payload.summary"),
    "not_json": (lambda t: "{routing_key: " + t, "not valid JSON"),
    "oversize": (lambda t: pd_event(routing_key=t, custom_details={"log": "x" * (1024 * 1024)}), "larger than 1 MB"),
}


@pytest.mark.parametrize("case", BAD_EVENTS.keys())
def test_an_invalid_event_gets_pagerdutys_400_naming_the_problem(client, pd_integration, make_integration, case):
    _, token = pd_integration
    if case == "routing_key_of_another_kind":
        token = make_integration("alertmanager")[1]
        event = pd_event(routing_key=token)
    else:
        event = BAD_EVENTS[case][0](token)
    response = post(client, event)
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["status"] == "invalid event" and body["message"] == "Event object is invalid"
    assert any(BAD_EVENTS[case][1] in error for error in body["errors"]), body
    assert not AlertIntake.objects.exists()


def test_over_the_rate_limit_it_throttles_like_pagerduty(client, pd_integration):
    integration, token = pd_integration
    Integration.objects.filter(pk=integration.pk).update(rate_limit_per_minute=1)
    away_from_a_minute_boundary()
    assert post(client, pd_event(routing_key=token, dedup_key="a")).status_code == 202
    response = post(client, pd_event(routing_key=token, dedup_key="b"))
    assert response.status_code == 429
    assert response.json()["status"] == "throttle event"
    assert int(response["Retry-After"]) >= 1


def test_the_global_default_rate_limit_applies_without_a_per_integration_one(client, pd_integration, settings):
    _, token = pd_integration
    settings.INTEGRATION_RATE_LIMIT_PER_MINUTE = 1
    away_from_a_minute_boundary()
    post(client, pd_event(routing_key=token, dedup_key="a"))
    assert post(client, pd_event(routing_key=token, dedup_key="b")).status_code == 429
