"""The pdpyras PagerDuty client, pointed at our live server, triggers, acknowledges and resolves."""
from __future__ import annotations

import pdpyras
import pytest

from core.choices import IntegrationKind
from incidents.models import Alert, Incident
from monitoring.models import AlertIntake

from .conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_pdpyras_trigger_acknowledge_resolve(celery_worker_process, live_server, make_service, make_integration):
    service = make_service("postgres-main")
    integration, token = make_integration(IntegrationKind.PAGERDUTY, service=service)
    session = pdpyras.EventsAPISession(token)
    session.url = live_server.url + "/api/v1/integrations/pagerduty"  # as the snippet says

    dedup_key = session.trigger("Replication lag above 30 s", "db-2", severity="critical",
                                custom_details={"lag_seconds": 42},
                                links=[{"href": "https://grafana.example.com/d/repl", "text": "Lag"}])
    assert len(dedup_key) == 32
    fingerprint = integration.scoped_fingerprint(dedup_key)  # the routing key's own key
    incident = wait_for(lambda: Incident.objects.filter(alerts__fingerprint=fingerprint).first(),
                        message="the trigger to open an incident")
    assert incident.service_id == service.pk and incident.status == "triggered"

    assert session.acknowledge(dedup_key) == dedup_key
    wait_for(lambda: Incident.objects.get(pk=incident.pk).status == "acknowledged", message="the acknowledgement")

    session.resolve(dedup_key)
    wait_for(lambda: Alert.objects.get(fingerprint=fingerprint).status == "resolved", message="the resolve")
    wait_for(lambda: Incident.objects.get(pk=incident.pk).status == "resolved", message="the incident to resolve")


def test_pdpyras_with_its_own_dedup_key_and_a_bad_event(celery_worker_process, live_server, make_integration):
    integration, token = make_integration(IntegrationKind.PAGERDUTY)
    session = pdpyras.EventsAPISession(token)
    session.url = live_server.url + "/api/v1/integrations/pagerduty"
    assert session.trigger("Queue backlog", "worker-1", dedup_key="backlog-1", severity="warning") == "backlog-1"
    with pytest.raises(pdpyras.PDClientError) as raised:
        session.trigger("Bad severity", "worker-1", severity="fatal")
    assert raised.value.response.status_code == 400
    assert raised.value.response.json()["status"] == "invalid event"
    # Let the worker finish before the test database is flushed under it.
    wait_for(lambda: Alert.objects.filter(fingerprint=integration.scoped_fingerprint("backlog-1")).exists(),
             message="the trigger to be processed")
    assert AlertIntake.objects.count() == 1  # the invalid event stored nothing
