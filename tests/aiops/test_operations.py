"""/metrics, the self-check, the dead man's switch and drills (issue 16, point 7)."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from aiops import operations
from core.choices import Role
from incidents.choices import DeliveryKind, DeliveryStatus, IncidentStatus
from incidents.models import Delivery, Incident, NotificationPolicy
from incidents.selectors import drill_results, incident_counts_by_severity, response_times
from incidents.services import incident_acknowledge
from incidents.services.drills import InvalidDrill, drill_start
from monitoring.models import AlertIntake

pytestmark = pytest.mark.django_db

TOKEN = "metrics-secret-token"


def am_body(name: str) -> bytes:
    return json.dumps({"receiver": "aiops", "status": "firing", "version": "4", "groupKey": "{}:{}",
                       "alerts": [{"status": "firing", "labels": {"alertname": name, "severity": "critical"},
                                   "annotations": {}, "startsAt": timezone.now().isoformat(),
                                   "endsAt": "0001-01-01T00:00:00Z", "fingerprint": name}],
                       "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
                       "externalURL": "http://am"}).encode()


@pytest.fixture
def paging_policy(db):
    """Level 1 and 2 page the service's team in-app (a transactional test flushed the seeded policies)."""
    for level in (1, 2):
        NotificationPolicy.objects.update_or_create(severity=level, defaults={
            "enabled": True, "digest_only": False, "channels": ["inapp"], "notify_team": True})


def session(make_user, role):
    client = Client()
    client.force_login(make_user(role))
    return client


@pytest.mark.parametrize(("who", "status"), [("anonymous", 401), ("wrong-token", 401), ("token", 200),
                                             (Role.OPERATOR, 403), (Role.MANAGER, 403), (Role.EXECUTIVE, 403),
                                             (Role.ADMIN, 200)])
def test_metrics_needs_the_token_or_an_admin(settings, make_user, who, status):
    settings.METRICS_TOKEN = TOKEN
    client = Client()
    headers = {}
    if who == "token":
        headers = {"Authorization": f"Bearer {TOKEN}"}
    elif who == "wrong-token":
        headers = {"Authorization": "Bearer nope"}
    elif who != "anonymous":
        client = session(make_user, who)
    response = client.get("/metrics", headers=headers)
    assert response.status_code == status
    if status == 200:
        assert response["Content-Type"].startswith("text/plain; version=0.0.4")


def test_metrics_count_intake_and_show_queues_incidents_and_deliveries(
    paging_policy, settings, make_user, make_integration, make_incident, django_capture_on_commit_callbacks
):
    settings.METRICS_TOKEN = TOKEN
    settings.CELERY_TASK_ALWAYS_EAGER = True
    integration, token = make_integration("alertmanager")
    agent = Client(headers={"Authorization": f"Bearer {token}"})
    with django_capture_on_commit_callbacks(execute=True):  # the drain runs after the row's commit
        assert agent.post("/api/v1/integrations/alertmanager", am_body("Up"), content_type="application/json"
                          ).status_code == 202
    assert agent.post("/api/v1/integrations/alertmanager", b"{}", content_type="application/json").status_code == 400
    assert agent.post("/api/v1/integrations/alertmanager", b"[", content_type="application/json").status_code == 400
    make_incident(severity=2)
    make_incident(severity=2, status=IncidentStatus.RESOLVED)
    service = make_incident(severity=4).service
    service.team.members.add(make_user(Role.OPERATOR))
    with django_capture_on_commit_callbacks(execute=True):  # its pages go out after commit
        drill_start(service=service, level=1)  # a drill: not an open Level 1

    text = Client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).content.decode()
    lines = set(text.splitlines())
    assert 'aiops_intake_requests_total{kind="alertmanager",outcome="accepted"} 1' in lines
    assert 'aiops_intake_requests_total{kind="alertmanager",outcome="rejected"} 2' in lines
    assert 'aiops_alert_intake_rows{kind="alertmanager",status="processed"} 1' in lines
    real = Incident.objects.filter(is_drill=False, status=IncidentStatus.TRIGGERED)
    assert real.count() == 3  # the alert's, and two made here; the drill is Level 1
    for level in (1, 2, 3, 4):
        assert f'aiops_open_incidents{{level="{level}"}} {real.filter(severity=level).count()}' in lines
    assert "aiops_open_drills 1" in lines
    for queue in ("alert_intake", "telemetry", "detect", "deliveries", "escalations"):
        assert f'aiops_queue_depth{{queue="{queue}"}} 0' in lines or queue == "escalations"
        assert any(line.startswith(f'aiops_queue_oldest_age_seconds{{queue="{queue}"}}') for line in lines)
    assert any(line.startswith('aiops_drain_lag_seconds{queue="alert_intake"}') for line in lines)
    assert 'aiops_deliveries{channel="inapp",status="sent"} 1' in lines
    assert "# TYPE aiops_escalations_fired_total counter" in lines
    assert any(line.startswith("aiops_detection_lag_seconds ") for line in lines)


def test_a_stalled_queue_raises_an_incident_and_resolves_it_when_it_drains(settings, make_integration):
    settings.SELF_CHECK_STALL_SECONDS = 60
    integration, _ = make_integration("alertmanager")
    row = AlertIntake.objects.create(integration=integration, kind="alertmanager", body=am_body("x").decode(),
                                     idempotency_key="k", event_count=1)
    now = timezone.now()
    assert operations.pipeline_self_check(now=now + timedelta(seconds=30)).healthy  # waiting, not stalled
    assert not Incident.objects.exists()

    check = operations.pipeline_self_check(now=now + timedelta(seconds=90))
    assert check.stalled == ("alert_intake",)
    incident = Incident.objects.get()
    assert incident.service.name == "aiops" and "alert_intake" in incident.title and incident.severity <= 2
    operations.pipeline_self_check(now=now + timedelta(seconds=150))  # still stalled: the same incident
    assert Incident.objects.count() == 1

    AlertIntake.objects.filter(pk=row.pk).update(status="processed", processed_at=now)
    assert operations.pipeline_self_check(now=now + timedelta(seconds=210)).healthy
    assert incident.alerts.get().status == "resolved"


def test_the_heartbeat_pings_the_switch_only_while_healthy(settings, make_integration, monkeypatch):
    calls = []

    class Ok:
        def raise_for_status(self):
            return None

    monkeypatch.setattr(operations.requests, "get", lambda url, timeout: calls.append(url) or Ok())
    settings.SELF_CHECK_STALL_SECONDS = 60
    assert operations.heartbeat_send() is False and calls == []  # no URL configured: nothing sent
    settings.HEARTBEAT_URL = "https://hc.example.com/ping/abc"
    assert operations.heartbeat_send() is True and calls == ["https://hc.example.com/ping/abc"]

    integration, _ = make_integration("alertmanager")
    AlertIntake.objects.create(integration=integration, kind="alertmanager", body="{}", idempotency_key="k",
                               event_count=1)
    assert operations.heartbeat_send(now=timezone.now() + timedelta(seconds=120)) is False  # stalled: silence
    assert len(calls) == 1


@pytest.mark.django_db(transaction=True)  # the page goes out after the drill's commit
def test_a_drill_pages_for_real_is_marked_and_stays_out_of_reports(
    paging_policy, settings, make_user, make_team, make_service
):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    team = make_team()
    responder = make_user(Role.OPERATOR)
    team.members.add(responder)
    service = make_service(team=team)

    incident = drill_start(service=service, level=1, started_by="test")

    incident.refresh_from_db()
    assert incident.is_drill and incident.title.startswith("[DRILL]") and incident.severity == 1
    pages = Delivery.objects.filter(incident=incident, kind=DeliveryKind.PAGE)
    assert pages.filter(recipient=responder, status=DeliveryStatus.SENT).exists()
    assert all("[DRILL]" in page.message["subject"] for page in pages)
    result = drill_results()[0]
    assert result.incident_id == incident.pk and result.page_seconds is not None and result.page_seconds >= 0
    assert result.ack_seconds is None

    incident_acknowledge(incident=incident, user=responder)
    assert drill_results()[0].ack_seconds is not None
    assert incident_counts_by_severity()[1] == 0
    assert response_times().incidents == 0
    with pytest.raises(InvalidDrill):
        drill_start(service=service, level=7)


def test_the_drill_page_lets_managers_start_and_everyone_read(settings, make_user, make_service):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    service = make_service("drill-target")
    operator = session(make_user, Role.OPERATOR)
    assert operator.get("/drills/").status_code == 200
    assert operator.post("/drills/", {"service": service.name, "level": "2"}).status_code == 403
    manager = session(make_user, Role.MANAGER)
    assert manager.post("/drills/", {"service": "nope", "level": "2"}).status_code == 302
    assert not Incident.objects.exists()
    assert manager.post("/drills/", {"service": service.name, "level": "2"}).status_code == 302
    drill = Incident.objects.get()
    assert drill.is_drill and drill.severity == 2
    page = operator.get("/drills/").content.decode()
    assert f"#{drill.pk}" in page and "Start drill" not in page
    assert "Start drill" in manager.get("/drills/").content.decode()


@pytest.mark.django_db(transaction=True)
def test_the_drill_command_prints_alert_in_to_page_out(
    paging_policy, settings, make_user, make_team, make_service, capsys
):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    team = make_team()
    team.members.add(make_user(Role.OPERATOR))
    make_service("drill-cmd", team=team)
    call_command("drill", "--service", "drill-cmd", "--level", "1", "--wait", "5")
    out = capsys.readouterr().out
    assert "alert in -> page out:" in out and Incident.objects.get().is_drill
