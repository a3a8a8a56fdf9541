"""Detection over ingested points: anomalies stored with their band, raised as signals into incidents."""
from __future__ import annotations

import time
from typing import Any, ClassVar

import numpy as np
import orjson
import pytest

from incidents.models import Alert, Incident
from monitoring.detection.base import DetectionResult, Detector
from monitoring.detection.registry import register
from monitoring.models import Anomaly, MetricSeries
from monitoring.services import telemetry as telemetry_services


@register
class LevelDetector(Detector):
    """Test detector: the expected value is the running mean of the normal points seen so far
    (state: count and sum); the score is the distance / 100 (capped at 1), so a point more than
    50 away passes the threshold; such points are not learnt."""

    name: ClassVar[str] = "test-level"
    default_threshold: ClassVar[float] = 0.5

    def initial_state(self) -> Any:
        return np.zeros(2)

    def update(self, state, timestamps, values):
        state = np.array(state, dtype=float)
        expected = np.empty_like(values)
        for i, v in enumerate(values):
            expected[i] = state[1] / state[0] if state[0] else v
            if abs(v - expected[i]) <= 50:
                state += (1.0, v)
        scores = np.minimum(1.0, np.abs(values - expected) / 100.0)
        return DetectionResult(scores=scores, expected=expected, lower=expected - 50, upper=expected + 50), state

    def dump_state(self, state) -> bytes:
        return np.asarray(state, dtype="<f8").tobytes()

    def load_state(self, data: bytes):
        return np.frombuffer(data, dtype="<f8").copy() if data else self.initial_state()


@pytest.fixture
def send(make_integration, django_capture_on_commit_callbacks):
    integration, _ = make_integration()

    def send(service, metric, values=None, *, start=None, step=60.0, labels=None, kind=None):
        """`metric` and `values`, or a dict metric -> values for one batch of several series."""
        integration.extra_services.add(service)  # one agent for every service of these tests
        by_metric = metric if isinstance(metric, dict) else {metric: values}
        longest = max(len(v) for v in by_metric.values())
        start = start if start is not None else time.time() - step * longest
        points = [{"service": service.name, "metric": name, "labels": labels or {}, "timestamp": start + step * i,
                   "value": float(v)} for name, vs in by_metric.items() for i, v in enumerate(vs)]
        if kind:
            for p in points:
                p["kind"] = kind
        with django_capture_on_commit_callbacks(execute=True):
            telemetry_services.telemetry_receive(integration=integration, body=orjson.dumps({"points": points}))

    return send


def use_test_detector(service, metric):
    MetricSeries.objects.filter(service=service, metric=metric).update(detector="test-level")


def prime(send, service, metric, n=20, **kw):
    """A first batch creates the series; it then gets the test detector."""
    send(service, metric, [100.0] * n, start=time.time() - 25_000, **kw)
    use_test_detector(service, metric)


def test_a_spike_becomes_an_anomaly_and_opens_an_incident(make_service, send):
    service = make_service("checkout-api")
    send(service, "latency_ms", [100.0], start=time.time() - 7200)
    use_test_detector(service, "latency_ms")
    send(service, "latency_ms", [100, 101, 99, 400, 100])
    anomaly = Anomaly.objects.get()
    assert (anomaly.value, anomaly.direction, anomaly.detector) == (400.0, "up", "test-level")
    assert anomaly.lower < anomaly.expected < anomaly.upper < anomaly.value
    assert any("above the expected band" in r for r in anomaly.reasons)
    alert = Alert.objects.get()
    assert alert.fingerprint == f"anomaly:series:{anomaly.series_id}:up"
    incident = Incident.objects.get()
    assert incident.service == service
    assert (anomaly.alert_id, anomaly.incident_id) == (alert.pk, incident.pk)


def test_noise_within_the_band_raises_nothing(make_service, send):
    service = make_service()
    prime(send, service, "cpu")
    send(service, "cpu", 100 + np.random.default_rng(1).normal(0, 5, 200))
    assert not Anomaly.objects.exists() and not Incident.objects.exists()


def test_the_detector_state_carries_over_between_batches(make_service, send):
    service = make_service()
    prime(send, service, "cpu", n=1)
    series = MetricSeries.objects.get()
    send(service, "cpu", [100.0] * 50, start=time.time() - 6000)
    send(service, "cpu", [100.0] * 10, start=time.time() - 2000)
    series.refresh_from_db()
    assert np.frombuffer(series.detector_state, dtype="<f8")[0] == 60, "state continued from the first batch"
    # Only anomalous against what earlier batches taught the detector.
    send(service, "cpu", [20.0], start=time.time() - 100)
    assert Anomaly.objects.get().direction == "down"


def test_a_backfill_of_old_history_stores_anomalies_without_paging(make_service, send):
    service = make_service()
    old = time.time() - 3 * 86400
    send(service, "cpu", [100.0], start=old - 60)
    use_test_detector(service, "cpu")
    send(service, "cpu", [100, 100, 500, 100], start=old)
    assert Anomaly.objects.count() == 1
    assert not Alert.objects.exists()


def test_anomalies_in_several_series_of_one_service_are_one_signal(make_service, send):
    service = make_service("postgres-main")
    metrics = ("cpu", "connections", "replication_lag")
    for metric in metrics:
        prime(send, service, metric)
    # One batch in which the three metrics jump together.
    send(service, {metric: [100, 100, 900, 100] for metric in metrics}, start=time.time() - 300)
    assert Anomaly.objects.count() == 3
    assert set(Anomaly.objects.values_list("multivariate", flat=True)) == {True}
    alert = Alert.objects.get()
    assert alert.fingerprint == f"anomaly:service:{service.pk}:multivariate"
    assert Incident.objects.count() == 1
    assert set(Anomaly.objects.values_list("incident_id", flat=True)) == {Incident.objects.get().pk}


def test_a_joint_shift_no_single_series_flags_is_caught_by_the_multivariate_score(make_service, send):
    service = make_service("checkout-api")
    metrics = ("latency", "errors", "saturation")
    rng = np.random.default_rng(7)
    for metric in metrics:
        prime(send, service, metric, n=1)
    history_start = time.time() - 200 * 60
    send(service, {m: 100 + rng.normal(0, 3, 120) for m in metrics}, start=history_start)
    # All three move by 35 together: below each series' own threshold (a distance of 50),
    # far outside anything seen jointly.
    send(service, {m: [135.0] for m in metrics}, start=time.time() - 60)
    anomalies = list(Anomaly.objects.all())
    assert len(anomalies) == 3 and all(a.multivariate for a in anomalies)
    assert "multivariate" in anomalies[0].reasons[0]
    alert = Alert.objects.get()
    assert alert.fingerprint == f"anomaly:service:{service.pk}:multivariate"


def test_an_episode_resolves_after_enough_normal_points(make_service, send):
    from monitoring.services.anomalies import RESOLVE_AFTER_NORMAL

    service = make_service()
    send(service, "cpu", [100.0], start=time.time() - 7200)
    use_test_detector(service, "cpu")
    send(service, "cpu", [100, 400], start=time.time() - 3000)
    assert Alert.objects.get().status == "firing"
    send(service, "cpu", [100.0] * (RESOLVE_AFTER_NORMAL + 1), start=time.time() - 2000)
    assert Alert.objects.get().status == "resolved"
    assert MetricSeries.objects.get().open_direction == ""
