"""The OpenAPI schema is the contract: real responses of the main endpoints validate against it."""
from __future__ import annotations

import copy
from datetime import timedelta

import jsonschema
import pytest
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from core.choices import Role
from incidents.choices import PlaybookPhase
from incidents.models import Delivery, PlaybookRun, PlaybookStepRun
from monitoring.models import Anomaly, MetricSeries
from monitoring.services.points import labels_hash

pytestmark = pytest.mark.django_db


def to_json_schema(node):
    """OpenAPI 3.0's `nullable` is not JSON Schema: spell it as "or null"."""
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: to_json_schema(value) for key, value in node.items()}
    if node.pop("nullable", False):
        return {"anyOf": [node, {"type": "null"}]}
    return node


@pytest.fixture(scope="module")
def openapi():
    return to_json_schema(copy.deepcopy(SchemaGenerator().get_schema(request=None, public=True)))


def assert_matches(openapi, template: str, response) -> None:
    assert response.status_code == 200, (template, response.content[:300])
    schema = openapi["paths"][template]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    jsonschema.validate(response.json(), {**schema, "components": openapi["components"]},
                        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


@pytest.fixture
def world(operator_client, make_service, django_capture_on_commit_callbacks):
    """One of each: an unassigned incident with an ungrouped alert, a delivery with no endpoint, a
    playbook step nobody has done, a silence, a series with an anomaly."""
    service = make_service("checkout-api")
    with django_capture_on_commit_callbacks(execute=True):
        operator_client.post("/api/v1/signals/", {"service": service.name, "title": "Errors up",
                                                  "severity": "critical"}, format="json")
    incident = service.incidents.get()
    incident.assignee = None
    incident.save(update_fields=["assignee"])
    Delivery.objects.create(key="k-1", incident=incident, kind="page", channel="email", address="a@example.com")
    run, _ = PlaybookRun.objects.get_or_create(incident=incident)
    PlaybookStepRun.objects.create(run=run, position=99, phase=PlaybookPhase.IMMEDIATE, title="Look", kind="checklist")
    operator_client.post("/api/v1/silences/", {"comment": "deploy", "matchers": [{"label": "env", "value": "x"}],
                                               "ends_at": (timezone.now() + timedelta(hours=1)).isoformat()},
                         format="json")
    series = MetricSeries.objects.create(service=service, metric="latency_ms", labels={},
                                         labels_hash=labels_hash("{}"), unit="ms")
    Anomaly.objects.create(series=series, ts=timezone.now(), value=9, score=0.9, expected=4, lower=1, upper=5,
                           direction="up", detector="adaptive", reasons=["test"])
    return {"incident": incident, "series": series}


def test_incident_alert_delivery_and_playbook_responses_match_the_schema(openapi, world, client_as):
    client = client_as(Role.OPERATOR, Role.MANAGER)
    pk = world["incident"].pk
    cases = [
        ("/api/v1/incidents/", "/api/v1/incidents/"),
        ("/api/v1/incidents/{id}/", f"/api/v1/incidents/{pk}/"),
        ("/api/v1/incidents/{incident_id}/deliveries/", f"/api/v1/incidents/{pk}/deliveries/"),
        ("/api/v1/incidents/{incident_id}/playbook/", f"/api/v1/incidents/{pk}/playbook/"),
        ("/api/v1/silences/", "/api/v1/silences/"),
        ("/api/v1/series/", "/api/v1/series/"),
        ("/api/v1/series/{id}/", f"/api/v1/series/{world['series'].pk}/"),
        ("/api/v1/anomalies/", "/api/v1/anomalies/"),
        ("/api/v1/teams/", "/api/v1/teams/"),
        ("/api/v1/services/", "/api/v1/services/"),
        ("/api/v1/notifications/", "/api/v1/notifications/"),
        ("/api/v1/models/", "/api/v1/models/"),
        ("/api/v1/training-runs/", "/api/v1/training-runs/"),
        ("/api/v1/monitors/", "/api/v1/monitors/"),
    ]
    for template, url in cases:
        assert_matches(openapi, template, client.get(url))


def test_the_fields_known_to_be_null_are_marked_nullable(openapi):
    schemas = openapi["components"]["schemas"]

    def nullable(component: str, field: str) -> bool:
        return {"type": "null"} in schemas[component]["properties"][field].get("anyOf", [])

    assert nullable("IncidentList", "assignee")
    assert nullable("Alert", "grouping_rule")
    assert nullable("Delivery", "endpoint")
    assert nullable("PlaybookStepRun", "done_by")


def test_error_answers_are_documented(openapi):
    paths = openapi["paths"]
    assert {"401", "403", "404", "409"} <= set(paths["/api/v1/teams/{id}/"]["delete"]["responses"])
    assert {"400", "401", "403"} <= set(paths["/api/v1/silences/"]["post"]["responses"])
    assert "429" in paths["/api/v1/telemetry"]["post"]["responses"]
    error = openapi["components"]["schemas"]["Error"]
    assert error["required"] == ["detail"]


def test_enforced_rules_are_stated(openapi):
    schemas = openapi["components"]["schemas"]
    assert "unique" in schemas["TeamRequest"]["properties"]["name"]["description"].lower()
    assert "unique" in schemas["ServiceRequest"]["properties"]["name"]["description"].lower()
    assert "future" in schemas["SilenceRequest"]["properties"]["ends_at"]["description"]
    noise = openapi["paths"]["/api/v1/incidents/noise/"]["get"]["parameters"]
    days = next(p for p in noise if p["name"] == "days")
    assert days["schema"]["minimum"] == 1
