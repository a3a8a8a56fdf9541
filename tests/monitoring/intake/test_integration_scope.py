"""Dedup keys and fingerprints belong to the integration that sent them; services to the integration's list.

A token may resolve or acknowledge only what it raised itself (PagerDuty scopes `dedup_key` to the
routing key), and files only under its own service and the ones an admin added to it.
"""
from __future__ import annotations

import json

import pytest

from incidents.models import Alert, Incident

from .conftest import am_alert, am_payload, grafana_payload, pd_event

REQUESTED_SERVICE_LABEL = "aiops_requested_service"  # monitoring.formats.base
PD_URL = "/api/v1/integrations/pagerduty/v2/enqueue"
AM_URL = "/api/v1/integrations/alertmanager"
GRAFANA_URL = "/api/v1/integrations/grafana"
pytestmark = pytest.mark.django_db


def post(client, url, body):
    return client.post(url, data=json.dumps(body), content_type="application/json")


@pytest.fixture
def run_tasks(django_capture_on_commit_callbacks):
    """Requests whose on-commit drain runs at once (the eager worker), as in production order."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def service_a_incident(client, make_integration, make_service, run_tasks):
    """Service A's PagerDuty integration raised `disk-db-1`; returns (incident, A's and B's routing keys)."""
    _, token_a = make_integration("pagerduty", service=make_service("billing-db"))
    _, token_b = make_integration("pagerduty", service=make_service("search-api"))
    with run_tasks():
        assert post(client, PD_URL, pd_event(routing_key=token_a, dedup_key="disk-db-1")).status_code == 202
    return Incident.objects.get(), token_a, token_b


@pytest.mark.parametrize("action", ["resolve", "acknowledge"])
def test_another_routing_key_cannot_resolve_or_acknowledge_by_dedup_key(client, service_a_incident, run_tasks, action):
    incident, _, token_b = service_a_incident
    with run_tasks():
        response = post(client, PD_URL, pd_event(action, routing_key=token_b, dedup_key="disk-db-1"))
    # PagerDuty answers an unknown dedup_key with 202 too; nothing of service A's changes.
    assert response.status_code == 202 and response.json()["dedup_key"] == "disk-db-1"
    incident.refresh_from_db()
    assert incident.status == "triggered" and incident.acknowledged_at is None
    assert Alert.objects.get(service__name="billing-db").status == "firing"


def test_the_same_routing_key_still_deduplicates_acknowledges_and_resolves(client, service_a_incident, run_tasks):
    incident, token_a, token_b = service_a_incident
    with run_tasks():
        post(client, PD_URL, pd_event(routing_key=token_b, dedup_key="disk-db-1"))  # B's own key: its own alert
        post(client, PD_URL, pd_event(routing_key=token_a, dedup_key="disk-db-1", summary="again"))
        post(client, PD_URL, pd_event("acknowledge", routing_key=token_a, dedup_key="disk-db-1"))
    alert = Alert.objects.get(service__name="billing-db")
    assert alert.count == 2
    incident.refresh_from_db()
    assert incident.status == "acknowledged"
    with run_tasks():
        post(client, PD_URL, pd_event("resolve", routing_key=token_a, dedup_key="disk-db-1"))
    alert.refresh_from_db()
    assert alert.status == "resolved"
    assert Alert.objects.get(service__name="search-api").status == "firing"


def test_another_alertmanager_or_grafana_cannot_resolve_an_alertmanager_alert(
    integration_client, make_service, run_tasks
):
    checkout = make_service("checkout-api")
    owner = integration_client("alertmanager", service=checkout)
    firing = am_alert("HighErrorRate", fingerprint="f00dfeed00000001", instance="web-1")
    with run_tasks():
        assert post(owner, AM_URL, am_payload(firing)).status_code == 202
    resolved = {**firing, "status": "resolved", "endsAt": firing["startsAt"]}
    other_am = integration_client("alertmanager", service=make_service("other-am"))
    grafana = integration_client("grafana", service=make_service("other-grafana"))
    grafana_body = grafana_payload()
    grafana_body["alerts"] = [{**grafana_body["alerts"][0], **resolved}]
    with run_tasks():
        assert post(other_am, AM_URL, am_payload(resolved)).status_code == 202
        assert post(grafana, GRAFANA_URL, grafana_body).status_code == 202
    alert = Alert.objects.get(service=checkout)
    assert alert.status == "firing" and alert.incident.status == "triggered"
    # Its own Alertmanager still resolves it.
    with run_tasks():
        post(owner, AM_URL, am_payload(resolved))
    alert.refresh_from_db()
    assert alert.status == "resolved"


def test_a_service_label_outside_the_integrations_list_files_under_its_own_service(
    integration_client, make_service, make_integration, run_tasks
):
    payments = make_service("payments")  # another team's service
    client = integration_client("alertmanager", service=make_service("checkout-api"))
    with run_tasks():
        response = post(client, AM_URL, am_payload(am_alert("Down", service="payments")))
    assert response.status_code == 202
    alert = Alert.objects.get()
    # Never misfiled under payments, never lost: filed here, with the name it asked for kept.
    assert alert.service.name == "checkout-api"
    assert alert.labels["service"] == "payments" and alert.labels[REQUESTED_SERVICE_LABEL] == "payments"
    assert not Incident.objects.filter(service=payments).exists()


def test_a_service_on_the_integrations_list_is_filed_there(integration_client, make_service, run_tasks):
    payments = make_service("payments")
    client = integration_client("alertmanager", service=make_service("checkout-api"))
    client.integration.extra_services.add(payments)
    with run_tasks():
        post(client, AM_URL, am_payload(am_alert("Down", service="payments")))
    alert = Alert.objects.get()
    assert alert.service == payments and REQUESTED_SERVICE_LABEL not in alert.labels


def test_a_pagerduty_component_naming_another_service_stays_with_the_routing_keys_service(
    client, make_integration, make_service, run_tasks
):
    make_service("payments")
    _, token = make_integration("pagerduty", service=make_service("postgres-main"))
    with run_tasks():
        post(client, PD_URL, pd_event(routing_key=token, dedup_key="k", component="payments"))
    alert = Alert.objects.get()
    assert alert.service.name == "postgres-main" and alert.labels[REQUESTED_SERVICE_LABEL] == "payments"
