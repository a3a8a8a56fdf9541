"""`blend`'s per-time surprise option (off by default): an hourly series' surprise gains log10(12)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from monitoring.detection.base import arrays_dump
from monitoring.detection.detectors.adaptive_params import SUPPRESS_FROM
from monitoring.detection.detectors.blend import BlendDetector
from monitoring.detection.detectors.blend_params import N_SCALARS, P_STEP_NORM, PARAMS, REF_STEP


def _scores(step_norm: float, step: float) -> np.ndarray:
    params = PARAMS.copy()
    params[P_STEP_NORM] = step_norm
    det = BlendDetector(params=params)
    rng = np.random.default_rng(11)
    values = 10.0 + rng.normal(0.0, 1.0, 400)
    values[300] += 6.0
    ts = 1.7e9 + step * np.arange(400)
    return det.update(det.initial_state(), ts, values)[0].scores


def test_an_hourly_series_surprise_gains_log10_of_its_sampling_interval_over_five_minutes():
    off, on = _scores(0.0, 3600.0), _scores(1.0, 3600.0)
    # Up to the first point that could open a damping episode the two differ only by the shift.
    stop = int(np.argmax((off >= SUPPRESS_FROM) | (on >= SUPPRESS_FROM)))
    live = (off[:stop] > 0.0) & (on[:stop] < 1.0)
    assert live.sum() > 100
    np.testing.assert_allclose(on[:stop][live] - off[:stop][live], math.log10(3600.0 / REF_STEP) / 6.0, atol=1e-9)
    # At the reference interval nothing moves.
    np.testing.assert_allclose(_scores(1.0, REF_STEP), _scores(0.0, REF_STEP), rtol=0.0, atol=1e-12)


def test_a_state_written_before_the_time_scale_was_stored_restarts_learning():
    det = BlendDetector()
    old = det.initial_state()
    old["sc"] = np.zeros(N_SCALARS - 2)  # version 101 had no sampling-interval slots
    restored = det.load_state(arrays_dump(version=101, arrays=old))
    assert det.dump_state(restored) == det.dump_state(det.initial_state())


def test_the_optional_sample_cap_bounds_the_learnt_surprise_by_the_points_learnt_from():
    from monitoring.detection.detectors.blend_params import P_HANDOVER, P_SAMPLE_CAP

    params = PARAMS.copy()
    params[P_SAMPLE_CAP] = 0.5
    params[P_HANDOVER] = 0.0  # the learnt surprise alone after warm-up
    det = BlendDetector(params=params)
    rng = np.random.default_rng(5)
    values = 10.0 + rng.normal(0.0, 1.0, 600)
    values[[150, 400]] += 40.0
    scores = det.update(det.initial_state(), 1.7e9 + 300.0 * np.arange(600), values)[0].scores
    learnt_from = np.arange(600) - 30 + 1.0  # histograms learn from the 30th point
    bound = (np.log10(np.maximum(learnt_from, 1.0) + 1.0) + 0.5) / 6.0
    assert np.all(scores[100:] <= bound[100:] + 1e-12)
    assert scores[150] == pytest.approx(bound[150], rel=0.05)
