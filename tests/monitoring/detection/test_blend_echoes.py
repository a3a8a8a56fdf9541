"""`blend`'s sub-episode echo damping."""

from __future__ import annotations

import math

import numpy as np

from monitoring.detection.base import arrays_dump
from monitoring.detection.detectors.adaptive_params import SUPPRESS_FACTOR, SUPPRESS_FROM
from monitoring.detection.detectors.blend import BlendDetector
from monitoring.detection.detectors.blend_params import (
    P_SOFT_FROM,
    PARAMS,
    SOFT_FROM,
)

STEP = 300.0


def _run(values: np.ndarray, step: float = STEP, **overrides: float) -> np.ndarray:
    params = PARAMS.copy()
    for index, value in overrides.items():
        params[int(index.removeprefix("p"))] = value
    det = BlendDetector(params=params)
    return det.update(det.initial_state(), 1.7e9 + step * np.arange(values.shape[0]), values)[0].scores


def _sub_episode_run() -> tuple[np.ndarray, int]:
    """A noisy series whose one sub-episode point (between SOFT_FROM and the episode level) is followed by a
    short stretch of smaller exceedances: its echoes."""
    rng = np.random.default_rng(3)
    values = 20.0 + rng.normal(0.0, 1.0, 2000)
    free = _run(values, **{f"p{P_SOFT_FROM}": math.inf})
    # Find a point where the free scores show a sub-episode peak; raise the next few points just under it.
    for at in range(400, 1900):
        if SOFT_FROM + 0.02 <= free[at] < SUPPRESS_FROM - 0.02:
            return values, at
    raise AssertionError("no sub-episode point in the series")


def test_echoes_of_a_sub_episode_point_are_damped_and_a_bigger_one_is_not():
    values, at = _sub_episode_run()
    free = _run(values, **{f"p{P_SOFT_FROM}": math.inf})
    peak = values[at]
    echo = values.copy()
    echo[at + 1 : at + 4] = 20.0 + 0.8 * (peak - 20.0)  # three echoes a little smaller than the peak
    f, d = _run(echo, **{f"p{P_SOFT_FROM}": math.inf}), _run(echo)
    assert np.all(d <= f)  # the damping only ever lowers a score (it is not learnt from)
    assert free[at] == f[at] == d[at]  # the first one scores in full
    echoes = [i for i in range(at + 1, at + 4) if f[i] <= f[at]]
    assert echoes, "the echoes should be no more surprising than the peak"
    for i in echoes:
        assert d[i] == f[i] * SUPPRESS_FACTOR
    # A clearly more surprising point soon after is news: scored in full.
    bigger = values.copy()
    bigger[at + 1] = 20.0 + 1.6 * (peak - 20.0)
    fb, db = _run(bigger, **{f"p{P_SOFT_FROM}": math.inf}), _run(bigger)
    assert fb[at + 1] > fb[at]
    assert db[at + 1] == fb[at + 1]


def test_echo_damping_lapses_once_the_series_has_been_calm():
    values, at = _sub_episode_run()
    later = values.copy()
    later[at + 40] = values[at]  # the same exceedance again, long after the series calmed down
    f, d = _run(later, **{f"p{P_SOFT_FROM}": math.inf}), _run(later)
    assert d[at + 40] == f[at + 40]


def test_a_state_before_the_echo_slots_restarts_learning():
    det = BlendDetector()
    old = det.initial_state()
    old["sc"] = old["sc"][:15]  # version 104: no sub-episode slots
    restored = det.load_state(arrays_dump(version=104, arrays=old))
    assert det.dump_state(restored) == det.dump_state(det.initial_state())
