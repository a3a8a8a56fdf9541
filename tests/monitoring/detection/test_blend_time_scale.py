"""`blend`'s per-time surprise option (off by default): an hourly series' surprise gains log10(12)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from monitoring.detection.base import arrays_dump
from monitoring.detection.detectors.adaptive_params import A_HIST, SUPPRESS_FROM
from monitoring.detection.detectors.blend import BlendDetector
from monitoring.detection.detectors.blend_params import (
    N_SCALARS,
    P_STEP_NORM,
    PARAMS,
    PRIOR_PER_Z,
    REF_STEP,
)
from monitoring.detection.detectors.robust_z import MAD_TO_SIGMA


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


CAP = 1.5  # the optional sample cap (off by default), as it was tried


def _capped_and_free(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from monitoring.detection.detectors.blend_params import P_HANDOVER, P_RZ_VIEW, P_SAMPLE_CAP

    out = []
    for cap in (CAP, math.inf):
        params = PARAMS.copy()
        params[P_SAMPLE_CAP] = cap
        params[P_HANDOVER] = 0.0  # the learnt surprise alone after warm-up
        params[P_RZ_VIEW] = 0.0
        det = BlendDetector(params=params)
        out.append(det.update(det.initial_state(), 1.7e9 + 300.0 * np.arange(values.shape[0]), values)[0].scores)
    return out[0], out[1]


def test_the_optional_sample_cap_bounds_a_young_learnt_tail_unless_the_robust_prior_is_as_sure():
    rng = np.random.default_rng(5)
    values = 10.0 + rng.normal(0.0, 1.0, 500)
    values[150] += 5.0  # far past the record of 120 learnt points, but a robust z the prior reads as p ~ 1e-3
    values[400] += 40.0  # beyond doubt for the prior too
    capped, free = _capped_and_free(values)
    # Histograms learn from the 30th point, with forgetting: 120 points weigh this much.
    learnt_from = float(np.sum((1.0 - A_HIST) ** np.arange(150 - 30)))
    bound = (math.log10(learnt_from + 1.0) + CAP) / 6.0
    prev = values[150 - 288 if 150 > 288 else 0 : 150]
    med = np.median(prev)
    sigma = MAD_TO_SIGMA * np.median(np.abs(prev - med))
    prior = min(PRIOR_PER_Z * abs(values[150] - med) / sigma, 6.0) / 6.0
    assert free[150] > max(bound, prior) + 0.05  # the uncapped tail is surer than 120 points allow
    assert bound > prior + 0.05  # here the sample, not the prior, sets the bound
    assert capped[150] == pytest.approx(bound, abs=1e-4)
    # A clear outlier is not held back: the prior vouches for it, and it pages at the live level.
    assert capped[400] == free[400] >= BlendDetector.default_threshold
    # Away from the outliers the cap only lowers scores.
    assert np.all(capped <= free + 1e-12)
