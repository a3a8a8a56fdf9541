"""`blend`'s level-shift view: CUSUMs of the baseline residual accumulate a sustained shift point by point."""

from __future__ import annotations

import math

import numpy as np

from monitoring.detection.base import arrays_dump
from monitoring.detection.detectors.blend import STATE_KEYS, BlendDetector
from monitoring.detection.detectors.blend_params import P_CUSUM_K, P_HANDOVER, P_RZ_VIEW, PARAMS

N, SHIFT_AT = 3000, 2000


def _scores(cusum_k: float, shift: float, *, views: int) -> np.ndarray:
    params = PARAMS.copy()
    params[P_CUSUM_K] = cusum_k
    params[16] = views  # the adaptive views in use (bit mask): 0 isolates the CUSUMs
    if views == 0:
        params[P_RZ_VIEW] = 0.0  # and so does switching the robust view off
    params[P_HANDOVER] = 0.0  # the learnt surprise alone after warm-up
    det = BlendDetector(params=params)
    rng = np.random.default_rng(21)
    values = 50.0 + rng.normal(0.0, 1.0, N)
    values[SHIFT_AT:] += shift
    return det.update(det.initial_state(), 1.7e9 + 300.0 * np.arange(N), values)[0].scores


def test_a_sustained_shift_builds_the_cusum_up_beyond_anything_the_noise_did():
    # A 1.2 sigma step: the CUSUMs alone rise above their record on the noise within a few dozen points.
    cus = _scores(0.25, 1.2, views=0)
    record = cus[300:SHIFT_AT].max()
    after = cus[SHIFT_AT : SHIFT_AT + 40]
    assert after.max() > record + 0.3 / 6.0
    assert int(np.argmax(after >= after.max())) > 5  # accumulated over points, not one point's size
    # Off, the isolated detector has nothing left to score.
    assert _scores(math.inf, 1.2, views=0)[100:].max() == 0.0


def test_without_a_shift_the_cusum_adds_few_alerts():
    views = int(PARAMS[16])
    on, off = _scores(0.25, 0.0, views=views), _scores(math.inf, 0.0, views=views)
    alert = 4.5 / 6.0
    assert (on[300:] >= alert).sum() <= (off[300:] >= alert).sum() + 2


def test_the_cusum_state_persists_and_a_state_without_it_restarts_learning():
    det = BlendDetector()
    assert {"chist", "cusum"} <= set(STATE_KEYS)
    old = {k: v for k, v in det.initial_state().items() if k not in ("chist", "cusum")}
    restored = det.load_state(arrays_dump(version=102, arrays=old))  # the layout before the CUSUM view
    assert det.dump_state(restored) == det.dump_state(det.initial_state())
