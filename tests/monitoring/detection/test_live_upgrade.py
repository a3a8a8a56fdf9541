"""The live path scores with the registry's default (`blend`); a series stored by the old default restarts cleanly."""

from __future__ import annotations

import time

import numpy as np
import orjson
import pytest

from monitoring.detection import get_detector, score_series
from monitoring.models import MetricSeries
from monitoring.services import telemetry as telemetry_services


@pytest.fixture
def send(make_integration, django_capture_on_commit_callbacks):
    integration, _ = make_integration()

    def send(ts, values):
        points = [
            {"service": integration.service.name, "metric": "crash_rate", "timestamp": float(t), "value": float(v)}
            for t, v in zip(ts, values, strict=True)
        ]
        with django_capture_on_commit_callbacks(execute=True):
            telemetry_services.telemetry_receive(integration=integration, body=orjson.dumps({"points": points}))
        return MetricSeries.objects.get(service=integration.service, metric="crash_rate")

    return send


def test_a_series_whose_state_the_old_default_wrote_restarts_under_the_new_one(send):
    rng = np.random.default_rng(3)
    ts = time.time() - 3 * 86400 + 3600.0 * np.arange(60)  # hourly, as crash rates often are
    values = 5.0 + rng.normal(0.0, 0.5, 60)
    series = send(ts[:30], values[:30])
    assert series.state_detector == "blend"
    # As stored before the upgrade: the adaptive detector's state of the first 30 points.
    adaptive = get_detector("adaptive")
    _, old = score_series(detector=adaptive, state=adaptive.initial_state(), timestamps=ts[:30], values=values[:30])
    MetricSeries.objects.filter(pk=series.pk).update(
        state_detector="adaptive", detector_state=adaptive.dump_state(old), ckpt_a_state=None, ckpt_b_state=None
    )
    from monitoring.services.anomalies.state import state_cache_clear

    state_cache_clear()
    series = send(ts[30:], values[30:])
    assert series.state_detector == "blend"
    blend = get_detector()
    _, fresh = score_series(detector=blend, state=blend.initial_state(), timestamps=ts[30:], values=values[30:])
    stored = blend.load_state(bytes(series.detector_state))
    for key, value in fresh.items():
        # Timestamps come back from the database at microsecond precision.
        np.testing.assert_allclose(stored[key], value, rtol=1e-13, atol=0.0, err_msg=key)
