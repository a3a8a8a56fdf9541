"""The telemetry demo step streams seasonal history and its checkout fault opens an incident."""
from __future__ import annotations

import io

from aiops.demo import load_organisation
from incidents.models import Incident
from monitoring import demo
from monitoring.models import Anomaly, MetricSeries


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
