"""The default detector finds each named fault soon after it starts and stays quiet on healthy series."""

from __future__ import annotations

import numpy as np
import pytest

from monitoring.detection import get_detector, score_series

from . import synthetic

WARMUP_POINTS = 300  # a day of 5-minute points: the detector is still learning before that
MAX_DELAY = 15  # points (75 minutes) by which the fault must have been flagged

FAULTS = [
    "spike_in_seasonal_series",
    "level_shift",
    "seasonal_break",
    "flat_line_then_noise",
    "noise_then_flat_line",
    "drift",
    "irregular",
]
HEALTHY = ["noise_only", "seasonal"]


def _flags(case: str, seed: int):
    ts, vs, fault = getattr(synthetic, case)(seed)
    detector = get_detector()
    result, _ = score_series(
        detector=detector, state=detector.initial_state(), timestamps=ts, values=vs
    )
    flagged = np.flatnonzero(result.scores >= detector.default_threshold)
    return flagged[flagged >= WARMUP_POINTS], fault, result


@pytest.mark.parametrize("seed", [11, 12])
@pytest.mark.parametrize("case", FAULTS)
def test_it_flags_the_fault_promptly_and_nothing_before_it(case, seed):
    flagged, fault, _ = _flags(case, seed)
    assert flagged.size, f"{case}: fault at {fault} never flagged"
    assert flagged[0] >= fault, f"{case}: false alarm at {flagged[0]} before the fault at {fault}"
    assert flagged[0] <= fault + MAX_DELAY, (
        f"{case}: flagged only at {flagged[0]} (fault at {fault})"
    )


@pytest.mark.parametrize("seed", [11, 12, 13])
@pytest.mark.parametrize("case", HEALTHY)
def test_it_raises_no_anomaly_on_healthy_series_after_warm_up(case, seed):
    flagged, _, _ = _flags(case, seed)
    assert flagged.size == 0, f"{case}: false alarms at {flagged[:5]}"


@pytest.mark.parametrize("case", FAULTS + HEALTHY)
def test_scores_are_probabilities_and_the_band_brackets_the_expected_value(case):
    _, _, result = _flags(case, 21)
    assert np.all((result.scores >= 0.0) & (result.scores <= 1.0))
    assert np.all(result.lower <= result.expected) and np.all(result.expected <= result.upper)


def test_the_expected_value_follows_the_daily_cycle():
    ts, vs, _ = synthetic.seasonal(31)
    detector = get_detector()
    result, _ = score_series(
        detector=detector, state=detector.initial_state(), timestamps=ts, values=vs
    )
    late = slice(len(vs) - 288, len(vs))  # the last day, after a week of learning
    clean = 100.0 + 30.0 * np.sin(2 * np.pi * ts[late] / synthetic.DAY)
    assert np.mean(np.abs(result.expected[late] - clean)) < 6.0  # amplitude is 30, noise sigma 2
    inside = (vs[late] >= result.lower[late]) & (vs[late] <= result.upper[late])
    assert inside.mean() > 0.9


def test_one_incident_raises_one_alarm_not_a_burst():
    _, _, fault = synthetic.level_shift(41)
    flagged, _, _ = _flags("level_shift", 41)
    assert len(flagged[(flagged >= fault) & (flagged < fault + 100)]) == 1
