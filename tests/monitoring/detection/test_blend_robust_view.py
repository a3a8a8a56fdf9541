"""`blend`'s robust view: the robust z calibrated by the series' own exceedances, not by a fixed tail."""

from __future__ import annotations

import math

import numpy as np

from monitoring.detection.base import arrays_dump
from monitoring.detection.detectors.blend import BlendDetector
from monitoring.detection.detectors.blend_params import P_CUSUM_K, P_HANDOVER, P_RZ_VIEW, PARAMS

N, EVERY = 3000, 50


def _isolated(values: np.ndarray) -> np.ndarray:
    params = PARAMS.copy()
    params[16] = 0  # no adaptive view
    params[P_CUSUM_K] = math.inf  # no CUSUM
    params[P_HANDOVER] = 0.0  # and no Laplace prior after warm-up: the robust view alone
    params[P_RZ_VIEW] = 1.0
    det = BlendDetector(params=params)
    return det.update(det.initial_state(), 1.7e9 + 300.0 * np.arange(values.shape[0]), values)[0].scores


def test_a_lone_outlier_stands_out_and_regular_spikes_of_its_size_stop_paging():
    rng = np.random.default_rng(5)
    values = 50.0 + rng.normal(0.0, 1.0, N)
    lone = values.copy()
    lone[2500] += 12.0
    assert _isolated(lone)[2500] >= BlendDetector.default_threshold  # nothing like it in the series' history
    spiky = values.copy()
    spiky[200::EVERY] += 12.0
    scores = _isolated(spiky)[200::EVERY]
    assert scores[-10:].max() < scores[:3].min()  # the series' own history says these spikes are routine
    assert scores[-10:].max() < 3.0 / 6.0


def test_a_state_before_the_robust_view_restarts_learning():
    det = BlendDetector()
    old = det.initial_state()
    old["chist"] = old["chist"][:2]  # version 103: CUSUM histograms only
    restored = det.load_state(arrays_dump(version=103, arrays=old))
    assert det.dump_state(restored) == det.dump_state(det.initial_state())


def test_a_young_series_pages_on_a_clear_outlier_at_the_live_threshold():
    """The default detector, from its first day: a 20-sigma spike on point 300 of a 5-minute series (a day)
    and on point 200 of an hourly one (eight days) reaches the live threshold."""
    rng = np.random.default_rng(11)
    for step, at in ((300.0, 300), (3600.0, 200)):
        values = 100.0 + rng.normal(0.0, 2.0, at + 20)
        values[at] += 40.0
        det = BlendDetector()
        scores = det.update(det.initial_state(), 1.7e9 + step * np.arange(values.shape[0]), values)[0].scores
        assert scores[at] >= BlendDetector.default_threshold, (step, scores[at])
        assert scores[:at].max() < BlendDetector.default_threshold, (step, scores[:at].max())
