"""The telemetry demo step streams seasonal history and its checkout fault opens an incident."""
from __future__ import annotations

import io

from aiops.demo import load_organisation
from incidents.models import Incident
from monitoring import demo
from monitoring.models import AlertIntake, Anomaly, MetricSeries
from monitoring.services import intake as intake_services


def test_the_demo_fault_becomes_an_incident_on_checkout(db, django_capture_on_commit_callbacks):
    load_organisation()
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        demo.run(out)
    assert MetricSeries.objects.count() == len(demo.METRICS)
    fault = Anomaly.objects.filter(series__service__name="checkout-api", incident_id__isnull=False)
    assert fault.exists()
    incident = Incident.objects.get(pk=fault.first().incident_id)
    assert incident.service.name == "checkout-api"
    assert "checkout fault" in out.getvalue()
    with django_capture_on_commit_callbacks(execute=True):
        demo.run(out)  # a second `make run` right after does not stream again
    assert "skipped" in out.getvalue()


def test_the_demo_alerts_come_through_intake_and_make_one_incident(db, django_capture_on_commit_callbacks):
    load_organisation()
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        demo.run_alert_intake(out)
    rows = list(AlertIntake.objects.order_by("pk"))
    assert [(row.kind, row.event_count, row.status) for row in rows] == [
        ("alertmanager", 2, "processed"), ("pagerduty", 1, "processed")]
    incident = Incident.objects.get(service__name=demo.INTAKE_SERVICE)
    assert incident.alerts.count() == 3
    assert {a.source_kind for a in incident.alerts.all()} == {"alertmanager", "pagerduty"}
    assert f"incident #{incident.pk}" in out.getvalue()
    with django_capture_on_commit_callbacks(execute=True):
        demo.run_alert_intake(out)  # a second `make run` stores nothing new
    assert AlertIntake.objects.count() == 2 and "already loaded" in out.getvalue()


def test_the_demo_alerts_are_drained_without_in_process_tasks(db, settings, monkeypatch):
    # With a broker (REDIS_URL) the kick goes to a worker; the demo drains the rows itself.
    settings.CELERY_TASK_ALWAYS_EAGER = False
    monkeypatch.setattr(intake_services, "alert_intakes_kick", lambda **kwargs: None)
    load_organisation()
    demo.run_alert_intake(io.StringIO())
    assert set(AlertIntake.objects.values_list("status", flat=True)) == {"processed"}
    assert Incident.objects.filter(service__name=demo.INTAKE_SERVICE).count() == 1
