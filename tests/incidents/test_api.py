"""The incidents API: queue, detail, actions with role checks, silences and the generic signal endpoint."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from core.choices import Role, Tier
from incidents.models import Alert, Incident, Silence, TimelineEvent

pytestmark = pytest.mark.django_db


def names_field(response, field: str) -> bool:
    """Serializer errors key by field; domain errors carry `field`: either way the field is named."""
    return field in response.data or response.data.get("field") == field


@pytest.fixture
def incident(make_service, ingest):
    result = ingest(make_service("checkout", tier=Tier.TIER_1), labels={"alertname": "Errors"})
    return Incident.objects.get(pk=result.incident_id)


def test_anonymous_callers_get_401():
    client = APIClient()
    assert client.get("/api/v1/incidents/").status_code == 401
    assert client.post("/api/v1/signals/", {"title": "x"}, format="json").status_code == 401


def test_the_queue_lists_worst_first_then_oldest(make_service, ingest, manager_client):
    now = timezone.now()
    low = ingest(make_service(tier=Tier.TIER_4), labels={"a": "1"}, at=now - timedelta(minutes=50))
    high_new = ingest(make_service(tier=Tier.TIER_1), labels={"a": "2"}, at=now - timedelta(minutes=5))
    high_old = ingest(make_service(tier=Tier.TIER_1), labels={"a": "3"}, at=now - timedelta(minutes=30))
    response = manager_client.get("/api/v1/incidents/")
    assert response.status_code == 200
    ids = [row["id"] for row in response.data["results"]]
    assert ids == [high_old.incident_id, high_new.incident_id, low.incident_id]
    assert response.data["results"][0]["severity_label"] == "High"


def test_the_queue_filters(make_service, make_user, make_team, ingest, manager_client):
    team = make_team("Payments")
    pay = make_service("payments", team=team, tier=Tier.TIER_1)
    mine = ingest(pay, labels={"a": "1"})
    ingest(make_service(tier=Tier.TIER_4), labels={"a": "2"})
    assert [r["id"] for r in manager_client.get("/api/v1/incidents/?service=payments").data["results"]] == [
        mine.incident_id]
    assert [r["id"] for r in manager_client.get("/api/v1/incidents/?team=payments").data["results"]] == [
        mine.incident_id]
    assert len(manager_client.get("/api/v1/incidents/?severity=2&severity=4").data["results"]) == 2
    assert len(manager_client.get("/api/v1/incidents/?status=resolved").data["results"]) == 0
    future = (timezone.now() + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    assert manager_client.get("/api/v1/incidents/", {"since": future}).data["count"] == 0
    bad = manager_client.get("/api/v1/incidents/?since=yesterday")
    assert bad.status_code == 400 and "since" in bad.data
    assert manager_client.get("/api/v1/incidents/?severity=9").status_code == 400


def test_the_detail_has_alerts_timeline_and_reasons(incident, manager_client):
    data = manager_client.get(f"/api/v1/incidents/{incident.pk}/").data
    assert data["alerts"][0]["grouped_by"] == "opened"
    assert data["timeline"][0]["kind"] == "opened"
    assert data["severity_reasons"][0].startswith("Level 2 High")


def test_operators_act_on_incidents(incident, make_user, client_as):
    operator = make_user(Role.OPERATOR, username="olga")
    client = client_as(user=operator)
    url = f"/api/v1/incidents/{incident.pk}"
    assert client.post(f"{url}/acknowledge/").data["status"] == "acknowledged"
    assert client.post(f"{url}/assign/", {"assignee": "olga"}, format="json").data["assignee"] == "olga"
    assert client.post(f"{url}/notes/", {"text": "rolling back"}, format="json").status_code == 200
    data = client.post(f"{url}/severity/", {"severity": 1, "reason": "all checkouts fail"}, format="json").data
    assert data["severity"] == 1 and data["severity_source"] == "override"
    assert client.post(f"{url}/resolve/", {"note": "rolled back"}, format="json").data["status"] == "resolved"
    assert client.post(f"{url}/reopen/", {"note": "back again"}, format="json").data["status"] == "triggered"
    kinds = list(TimelineEvent.objects.filter(incident=incident).values_list("kind", flat=True))
    assert kinds == ["opened", "acknowledged", "assigned", "note", "severity_changed", "resolved", "reopened"]


def test_managers_read_but_cannot_act(incident, manager_client):
    assert manager_client.get(f"/api/v1/incidents/{incident.pk}/").status_code == 200
    response = manager_client.post(f"/api/v1/incidents/{incident.pk}/acknowledge/")
    assert response.status_code == 403
    incident.refresh_from_db()
    assert incident.status == "triggered"


def test_an_illegal_transition_is_a_409_with_the_reason(incident, operator_client):
    response = operator_client.post(f"/api/v1/incidents/{incident.pk}/close/")
    assert response.status_code == 409
    assert response.data["detail"] == "A triggered incident cannot become closed."


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("severity", {"severity": 1}, "reason"),
        ("severity", {"severity": 6, "reason": "x"}, "severity"),
        ("assign", {}, "assignee"),
        ("assign", {"assignee": "nobody-by-that-name"}, "assignee"),
        ("notes", {"text": ""}, "text"),
    ],
)
def test_bad_action_input_is_a_400_naming_the_field(incident, operator_client, path, body, field):
    response = operator_client.post(f"/api/v1/incidents/{incident.pk}/{path}/", body, format="json")
    assert response.status_code == 400 and names_field(response, field), response.data


def test_operators_create_silences_and_managers_list_them(operator_client, manager_client):
    body = {"comment": "DB maintenance", "ends_at": (timezone.now() + timedelta(hours=2)).isoformat(),
            "matchers": [{"label": "service", "op": "=", "value": "postgres-main"},
                         {"label": "env", "op": "=~", "value": "prod|stage"}]}
    created = operator_client.post("/api/v1/silences/", body, format="json")
    assert created.status_code == 201, created.data
    assert created.data["matchers"][1] == {"label": "env", "op": "=~", "value": "prod|stage"}
    assert manager_client.get("/api/v1/silences/").data["results"][0]["comment"] == "DB maintenance"
    assert manager_client.post("/api/v1/silences/", body, format="json").status_code == 403


def test_a_bad_silence_is_a_400_naming_the_field(operator_client):
    body = {"comment": "x", "ends_at": (timezone.now() - timedelta(hours=1)).isoformat(),
            "matchers": [{"label": "env", "value": "prod"}]}
    response = operator_client.post("/api/v1/silences/", body, format="json")
    assert response.status_code == 400 and names_field(response, "ends_at")
    body = {"comment": "x", "ends_at": (timezone.now() + timedelta(hours=1)).isoformat(),
            "matchers": [{"label": "env", "op": "=~", "value": "("}]}
    response = operator_client.post("/api/v1/silences/", body, format="json")
    assert response.status_code == 400 and names_field(response, "matchers")
    assert not Silence.objects.exists()


def test_an_integration_posts_a_generic_signal(integration_client):
    client = integration_client("generic")
    response = client.post("/api/v1/signals/", {"title": "Queue backlog", "severity": "error",
                                                "labels": {"queue": "emails"}}, format="json")
    assert response.status_code == 202 and response.data["outcome"] == "opened"
    alert = Alert.objects.get()
    assert alert.service == client.integration.service and alert.source_name == client.integration.name
    assert alert.severity_hint == "high"
    again = client.post("/api/v1/signals/", {"title": "Queue backlog", "labels": {"queue": "emails"}}, format="json")
    assert again.data["outcome"] == "deduplicated"


def test_an_operator_may_post_a_signal(make_service, operator_client):
    service = make_service("cron-host")
    response = operator_client.post("/api/v1/signals/", {"title": "Backup failed", "service": service.name},
                                    format="json")
    assert response.status_code == 202 and Alert.objects.get().source_name


def test_a_manager_may_not_post_a_signal(make_service, manager_client):
    response = manager_client.post("/api/v1/signals/", {"title": "x", "service": make_service().name}, format="json")
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({"service": "svc"}, "title", id="missing_title"),
        pytest.param({"title": "x", "service": "no-such"}, "service", id="unknown_service"),
        pytest.param({"title": "x", "service": "svc", "severity": "doom"}, "severity", id="unknown_severity"),
        pytest.param({"title": "x", "service": "svc", "payload": {"b": "x" * (520 * 1024)}}, "payload",
                     id="payload_over_512kb"),
        pytest.param({"title": "x", "service": "svc", "occurred_at": "last tuesday"}, "occurred_at",
                     id="unparseable_timestamp"),
        pytest.param({"title": "x", "service": "svc", "occurred_at": "2999-01-01T00:00:00Z"}, "occurred_at",
                     id="future_timestamp"),
        pytest.param({"title": "x", "service": "svc", "labels": ["a"]}, "labels", id="labels_not_a_mapping"),
    ],
)
def test_invalid_signals_get_400_naming_the_field_and_store_nothing(make_service, operator_client, body, field):
    make_service("svc")
    response = operator_client.post("/api/v1/signals/", body, format="json")
    assert response.status_code == 400
    assert names_field(response, field), response.data
    assert not Alert.objects.exists() and not Incident.objects.exists()


def test_an_integration_without_a_default_service_must_name_one(make_integration):
    integration, token = make_integration("generic")
    integration.service = None
    integration.save()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = client.post("/api/v1/signals/", {"title": "x"}, format="json")
    assert response.status_code == 400 and "service" in response.data


def test_the_schema_documents_the_incident_endpoints(admin_client_api):
    schema = admin_client_api.get("/api/schema/", HTTP_ACCEPT="application/json").content.decode()
    for path in ("/api/v1/incidents/{id}/acknowledge/", "/api/v1/silences/", "/api/v1/signals/"):
        assert path in schema


def test_the_noise_report_counts_signals_against_incidents(make_service, ingest, manager_client):
    service = make_service("api")
    for _ in range(9):
        ingest(service, labels={"alertname": "Errors"})
    ingest(service, labels={"alertname": "Latency"})
    data = manager_client.get("/api/v1/incidents/noise/?days=1").data
    assert data["total"]["signals"] == 10 and data["total"]["incidents"] == 1
    assert data["rows"][0] == {"service": "api", "signals": 10, "alerts": 2, "muted": 0, "incidents": 1,
                               "reduction": 0.9}
    assert manager_client.get("/api/v1/incidents/noise/?days=0").status_code == 400
