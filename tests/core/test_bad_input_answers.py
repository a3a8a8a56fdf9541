"""Bad input gets a 4xx naming the problem, never a 500: deep JSON, deleting what is still referenced,
NUL in a form field, and the API docs asked for with an integration token."""
from __future__ import annotations

import pytest
from django.test import Client

from core.choices import IntegrationKind, Role
from incidents.contracts import SignalIn
from incidents.models import Incident
from incidents.services import signal_ingest

pytestmark = pytest.mark.django_db

DEEP = b"[" * 10_000 + b"]" * 10_000


def open_incident(service) -> int:
    return signal_ingest(signal=SignalIn(source_kind="generic", source_name="t", service=service.name,
                                         title="Errors")).incident_id


def test_json_nested_10000_deep_on_signals_is_a_400_naming_the_nesting(integration_client):
    client = integration_client(IntegrationKind.GENERIC)
    response = client.post("/api/v1/signals/", DEEP, content_type="application/json")
    assert response.status_code == 400
    assert "nested more than 64 levels" in response.json()["detail"]


def test_json_nested_10000_deep_on_a_note_is_a_400(client_as, make_service):
    incident_id = open_incident(make_service())
    body = b'{"text": ' + DEEP + b"}"
    response = client_as(Role.OPERATOR).post(f"/api/v1/incidents/{incident_id}/notes/", body,
                                             content_type="application/json")
    assert response.status_code == 400
    assert "nested" in response.json()["detail"]


def test_ordinary_json_still_parses(client_as, make_service):
    incident_id = open_incident(make_service())
    response = client_as(Role.OPERATOR).post(f"/api/v1/incidents/{incident_id}/notes/",
                                             {"text": "pool restarted"}, format="json")
    assert response.status_code in (200, 201)


def test_deleting_a_team_its_services_still_use_is_a_409_naming_them(client_as, make_service):
    service = make_service()
    response = client_as(Role.ADMIN).delete(f"/api/v1/teams/{service.team.pk}/")
    assert response.status_code == 409
    assert "1 services" in response.json()["detail"]
    assert response.json()["referenced_by"] == {"services": 1}


def test_deleting_a_service_with_incidents_is_a_409_naming_them(client_as, make_service):
    service = make_service()
    open_incident(service)
    response = client_as(Role.ADMIN).delete(f"/api/v1/services/{service.pk}/")
    assert response.status_code == 409
    assert response.json()["referenced_by"].get("incidents") == 1
    assert Incident.objects.filter(service=service).exists()


def test_a_nul_in_a_page_form_field_is_a_400_naming_the_field(make_user, make_service):
    incident_id = open_incident(make_service())
    client = Client()
    client.force_login(make_user(Role.OPERATOR))
    response = client.post(f"/incidents/{incident_id}/note/", {"text": "bad\x00note"})
    assert response.status_code == 400
    assert "'text'" in response.content.decode() and "NUL" in response.content.decode()
    assert not Incident.objects.get(pk=incident_id).timeline.filter(kind="note").exists()


def test_a_nul_in_the_login_form_is_not_a_500():
    response = Client().post("/login/", {"username": "ad\x00min", "password": "x"})
    assert response.status_code in (200, 400)


def test_a_nul_in_an_api_query_string_is_a_400(client_as):
    response = client_as(Role.MANAGER).get("/api/v1/incidents/", {"service": "a\x00b"})
    assert response.status_code == 400
    assert response.json()["field"] == "service"


@pytest.mark.parametrize("path", ["/api/docs/", "/api/schema/"])
def test_an_integration_token_reads_no_api_docs(integration_client, path):
    response = integration_client(IntegrationKind.GENERIC).get(path)
    assert response.status_code == 403


def test_json_deeper_than_the_limit_but_parseable_is_a_400_too(integration_client):
    body = b'{"service": "x", "title": "t", "payload": ' + b"[" * 70 + b"]" * 70 + b"}"
    response = integration_client(IntegrationKind.GENERIC).post("/api/v1/signals/", body,
                                                                content_type="application/json")
    assert response.status_code == 400
    assert "nested more than 64 levels" in response.json()["detail"]


@pytest.mark.parametrize(("kind", "path"), [(IntegrationKind.ALERTMANAGER, "/api/v1/integrations/alertmanager"),
                                            (IntegrationKind.GENERIC, "/api/v1/telemetry")])
def test_raw_body_intake_refuses_json_deeper_than_the_limit(integration_client, kind, path):
    body = b'{"version": "4", "alerts": [], "points": [], "x": ' + b"[" * 70 + b"]" * 70 + b"}"
    response = integration_client(kind).post(path, body, content_type="application/json")
    assert response.status_code == 400
    assert "nested more than 64 levels" in response.content.decode()
