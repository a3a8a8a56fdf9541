"""Alertmanager webhook: a notification becomes signals, stored once, resolved by its resolution."""
from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from core.models import Integration
from incidents.models import Alert, Incident
from monitoring.models import AlertIntake
from monitoring.services import intake as intake_services

from .conftest import am_alert, am_payload, away_from_a_minute_boundary

URL = "/api/v1/integrations/alertmanager"
pytestmark = pytest.mark.django_db


def post(client, payload, **extra):
    return client.post(URL, data=json.dumps(payload), content_type="application/json", **extra)


def test_a_group_of_two_alerts_opens_one_incident_with_both(am_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = post(am_client, am_payload())
    assert response.status_code == 202, response.content
    assert response.json()["alerts"] == 2 and response.json()["duplicate"] is False
    intake = AlertIntake.objects.get()
    assert intake.status == "processed"
    assert [o["outcome"] for o in intake.outcomes] == ["opened", "joined"]
    incident = Incident.objects.get()
    assert incident.alerts.count() == 2
    assert incident.service.name == "checkout-api"


def test_resending_the_same_notification_is_stored_and_counted_once(am_client, django_capture_on_commit_callbacks):
    payload = am_payload()
    with django_capture_on_commit_callbacks(execute=True):
        first = post(am_client, payload)
        again = post(am_client, payload)
    assert first.status_code == again.status_code == 202
    assert again.json() == {**first.json(), "duplicate": True}
    assert AlertIntake.objects.count() == 1
    assert Alert.objects.count() == 2 and set(Alert.objects.values_list("count", flat=True)) == {1}
    assert Incident.objects.count() == 1


def test_a_resolved_alert_resolves_its_alert_and_the_last_one_the_incident(
    am_client, django_capture_on_commit_callbacks
):
    a, b = am_alert(instance="a"), am_alert(instance="b")
    now = datetime.now(UTC)
    with django_capture_on_commit_callbacks(execute=True):
        post(am_client, am_payload(a, b))
        post(am_client, am_payload({**a, "status": "resolved", "endsAt": now.isoformat()}, b))
    scoped = am_client.integration.scoped_fingerprint  # keys are the integration's own
    assert dict(Alert.objects.values_list("fingerprint", "status")) == {
        scoped(a["fingerprint"]): "resolved", scoped(b["fingerprint"]): "firing"}
    assert Incident.objects.get().status == "triggered"
    with django_capture_on_commit_callbacks(execute=True):
        post(am_client, am_payload({**b, "status": "resolved", "endsAt": now.isoformat()}))
    assert Incident.objects.get().status == "resolved"


def test_labels_and_annotations_become_the_signal(am_client, django_capture_on_commit_callbacks):
    alert = am_alert("DiskFull", instance="db-1")
    alert["labels"]["severity"] = "warning"
    with django_capture_on_commit_callbacks(execute=True):
        post(am_client, am_payload(alert))
    row = Alert.objects.get()
    assert row.fingerprint == am_client.integration.scoped_fingerprint(alert["fingerprint"])
    assert row.title == "DiskFull is firing"
    assert row.description == "DiskFull: details"
    assert row.severity_hint == "warning"
    assert row.labels["instance"] == "db-1"
    assert row.source_kind == "alertmanager" and row.source_name == am_client.integration.name
    assert {link["text"] for link in row.links} == {"Source", "Runbook", "Alertmanager"}


def test_a_service_label_naming_a_known_service_routes_the_alert_there(
    am_client, make_service, django_capture_on_commit_callbacks
):
    am_client.integration.extra_services.add(make_service("web-frontend"))  # it may file there
    with django_capture_on_commit_callbacks(execute=True):
        post(am_client, am_payload(am_alert(service="web-frontend"), am_alert("Other", service="no-such-service")))
    assert dict(Alert.objects.values_list("title", "service__name")) == {
        "HighErrorRate is firing": "web-frontend", "Other is firing": "checkout-api",
    }


def test_the_integration_records_its_receipts(am_client, django_capture_on_commit_callbacks):
    first = am_payload(am_alert(instance="a"))
    with django_capture_on_commit_callbacks(execute=True):
        post(am_client, first)
        post(am_client, am_payload(am_alert(instance="b")))
    # Stored requests are counted when a worker first takes them, with the time they arrived.
    integration = Integration.objects.get(pk=am_client.integration.pk)
    assert integration.received_count == 2
    assert integration.last_received_at == AlertIntake.objects.latest("received_at").received_at
    # A sender's retry stores nothing; it is counted in the cache, the first at once, later ones
    # reach the row at most once a second (or on the sweep's tick).
    with django_capture_on_commit_callbacks(execute=True):
        assert post(am_client, first).json()["duplicate"] is True
        assert post(am_client, first).json()["duplicate"] is True
    assert Integration.objects.get(pk=am_client.integration.pk).received_count == 3
    assert intake_services.integration_receipts_flush() == 1
    assert Integration.objects.get(pk=am_client.integration.pk).received_count == 4
    assert intake_services.integration_receipts_flush() == 0
    # Processing a row again (an admin replay) does not count it again.
    with django_capture_on_commit_callbacks(execute=True):
        intake_services.alert_intakes_replay(intake_ids=list(AlertIntake.objects.values_list("pk", flat=True)))
    assert AlertIntake.objects.filter(status="processed").count() == 2
    assert Integration.objects.get(pk=am_client.integration.pk).received_count == 4


def test_it_takes_only_an_alertmanager_integration_token(api_client, integration_client, client, make_user):
    assert post(api_client, am_payload()).status_code == 401
    assert post(integration_client("pagerduty"), am_payload()).status_code == 403
    # A signed-in person's session is not a credential here (and so no CSRF applies): agents only.
    client.force_login(make_user("operator"))
    assert post(client, am_payload()).status_code == 401
    assert not AlertIntake.objects.exists()


def test_a_trailing_slash_is_accepted(am_client):
    response = am_client.post(URL + "/", data=json.dumps(am_payload()), content_type="application/json")
    assert response.status_code == 202


BAD_INPUT = {
    "wrong_version": (lambda: json.dumps(am_payload(version="3")), "version"),
    "missing_alerts": (
        lambda: json.dumps({k: v for k, v in am_payload().items() if k != "alerts"}),
        "alerts: is missing",
    ),
    "empty_alerts": (lambda: json.dumps({**am_payload(), "alerts": []}), "alerts"),
    "not_json": (lambda: "receiver=aiops&status=firing", "not valid JSON"),
    "json_array": (lambda: "[1, 2]", "JSON object"),
    "empty_body": (lambda: "", "empty"),
    "bad_starts_at": (lambda: json.dumps(am_payload(am_alert() | {"startsAt": "yesterday"})), "alerts[0].startsAt"),
    "naive_starts_at": (lambda: json.dumps(am_payload(am_alert() | {"startsAt": "2024-01-01T10:00:00"})), "time zone"),
    "numeric_ends_at": (lambda: json.dumps(am_payload(am_alert() | {"endsAt": 1700000000})), "alerts[0].endsAt"),
    "unknown_status": (lambda: json.dumps(am_payload(am_alert() | {"status": "pending"})), "alerts[0].status"),
    "labels_not_strings": (
        lambda: json.dumps(am_payload(am_alert() | {"labels": {"alertname": 3}})),
        "alerts[0].labels.alertname",
    ),
    "starts_in_ancient_past": (
        lambda: json.dumps(am_payload(am_alert() | {"startsAt": "2001-01-01T00:00:00Z"})),
        "more than a year",
    ),
    "oversize": (lambda: json.dumps({**am_payload(), "pad": "x" * (1024 * 1024)}), "larger than 1 MB"),
    "nan": (
        lambda: json.dumps(am_payload()).replace('"truncatedAlerts": 0', '"truncatedAlerts": NaN'),
        "not valid JSON",
    ),
    "nul_character": (lambda: json.dumps(am_payload(am_alert() | {"annotations": {"summary": "a\x00b"}})), "NUL"),
}


@pytest.mark.parametrize("case", BAD_INPUT.keys())
def test_bad_input_is_refused_naming_the_problem_and_nothing_is_stored(am_client, case):
    make_body, expected = BAD_INPUT[case]
    response = am_client.post(URL, data=make_body(), content_type="application/json")
    assert response.status_code == 400, response.content
    assert expected in response.json()["detail"]
    assert response.json()["errors"]
    assert not AlertIntake.objects.exists()
    assert Integration.objects.get(pk=am_client.integration.pk).received_count == 0


def test_every_problem_is_listed_at_once(am_client):
    payload = am_payload(am_alert() | {"startsAt": "soon"}, am_alert() | {"status": "weird"}, version="2")
    errors = post(am_client, payload).json()["errors"]
    assert len(errors) == 3 and any(e.startswith("alerts[1].status") for e in errors)


def test_over_the_rate_limit_it_answers_429_with_retry_after(am_client):
    am_client.integration.rate_limit_per_minute = 2
    am_client.integration.save()
    away_from_a_minute_boundary()
    codes = [post(am_client, am_payload(am_alert(instance=str(i)))).status_code for i in range(3)]
    assert codes == [202, 202, 429]
    response = post(am_client, am_payload())
    assert response.status_code == 429 and 1 <= int(response["Retry-After"]) <= 60
    assert AlertIntake.objects.count() == 2
