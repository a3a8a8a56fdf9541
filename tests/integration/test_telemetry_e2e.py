"""End to end on PostgreSQL + Redis + a celery worker: telemetry with a fault, posted over HTTP,
is stored (COPY path), scored by the worker, and becomes an anomaly and an incident."""
from __future__ import annotations

import time
from datetime import UTC

import numpy as np
import orjson
import pytest
import requests
from django.db import connection

from core.choices import IntegrationKind
from incidents.models import Alert, Incident
from monitoring.models import Anomaly, MetricSeries, Point, TelemetryBatch

from .conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

STEP = 300.0  # five-minute samples
DAYS = 3


def telemetry(service: str, *, fault_points: int) -> tuple[list[dict], float]:
    """Three days of a daily-seasonal latency with noise, then a level fault in the last points."""
    rng = np.random.default_rng(42)
    n = int(DAYS * 86400 / STEP)
    end = time.time() - 30
    ts = end - STEP * np.arange(n)[::-1]
    values = 200 + 40 * np.sin(2 * np.pi * ts / 86400) + rng.normal(0, 4, n)
    values[-fault_points:] += 400  # the fault: latency jumps by ~100 standard deviations
    points = [{"service": service, "metric": "latency_p99_ms", "labels": {"route": "/checkout"},
               "timestamp": float(t), "value": float(v)} for t, v in zip(ts, values, strict=False)]
    return points, float(ts[-fault_points])


def test_a_fault_in_posted_telemetry_becomes_an_anomaly_and_an_incident(
    celery_worker_process, live_server, make_integration, make_service
):
    assert connection.vendor == "postgresql"
    service = make_service("checkout-api")
    _, token = make_integration(IntegrationKind.GENERIC, service=service)
    points, fault_start = telemetry(service.name, fault_points=6)
    # Two batches over HTTP, the second one retried with the same Idempotency-Key.
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    half = len(points) // 2
    first = requests.post(f"{live_server.url}/api/v1/telemetry", data=orjson.dumps({"points": points[:half]}),
                          headers=headers, timeout=30)
    assert first.status_code == 202, first.text
    body = orjson.dumps({"points": points[half:]})
    second = requests.post(f"{live_server.url}/api/v1/telemetry", data=body,
                           headers={**headers, "Idempotency-Key": "tail-1"}, timeout=30)
    retry = requests.post(f"{live_server.url}/api/v1/telemetry", data=body,
                          headers={**headers, "Idempotency-Key": "tail-1"}, timeout=30)
    assert second.status_code == retry.status_code == 202
    assert retry.json() == second.json()

    try:
        incident = wait_for(lambda: Incident.objects.filter(service=service).first(), timeout=90,
                            message="the worker to ingest, score and raise the fault")
    except AssertionError:
        print(list(TelemetryBatch.objects.values_list("status", "error")), Anomaly.objects.count(),
              list(Alert.objects.values_list("fingerprint", "status")))
        print(celery_worker_process.log_path.read_text()[-5000:])
        raise
    series = MetricSeries.objects.get(service=service, metric="latency_p99_ms")
    assert Point.objects.filter(series=series).count() == len(points)
    assert TelemetryBatch.objects.filter(status="stored").count() == 2
    fault = Anomaly.objects.filter(series=series, ts__gte=_dt(fault_start), direction="up")
    assert fault.exists(), "the fault points are anomalies"
    assert fault.filter(incident_id=incident.pk).exists()
    alert = Alert.objects.get(fingerprint=f"anomaly:series:{series.pk}:up")
    assert alert.incident_id == incident.pk
    assert series.last_scored_ts is not None and series.detector_state
    log = celery_worker_process.log_path.read_text()
    assert "monitoring.ingest_telemetry[" in log and "monitoring.detect_telemetry[" in log


def _dt(epoch: float):
    from datetime import datetime

    return datetime.fromtimestamp(epoch, tz=UTC)
