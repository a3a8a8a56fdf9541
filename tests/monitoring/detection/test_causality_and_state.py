"""Scores depend only on earlier points, and persisted state lets any worker continue a series exactly."""

from __future__ import annotations

import numpy as np
import pytest

from monitoring.detection import StateFormatError, detector_names, get_detector, score_series
from monitoring.detection.registry import DEFAULT_DETECTOR, UnknownDetector

from . import synthetic

DETECTORS = detector_names()


def _series():
    return synthetic.spike_in_seasonal_series(51)[:2]


def _score(name, ts, vs, state=None):
    detector = get_detector(name)
    return score_series(
        detector=detector,
        state=state if state is not None else detector.initial_state(),
        timestamps=ts,
        values=vs,
    )


@pytest.mark.parametrize("name", DETECTORS)
def test_scores_of_a_prefix_do_not_change_when_later_points_arrive(name):
    ts, vs = _series()
    full, _ = _score(name, ts, vs)
    for cut in (150, 1000, 2401):
        prefix, _ = _score(name, ts[:cut], vs[:cut])
        np.testing.assert_array_equal(prefix.scores, full.scores[:cut])
        np.testing.assert_array_equal(prefix.expected, full.expected[:cut])


@pytest.mark.parametrize("name", DETECTORS)
@pytest.mark.parametrize("chunk", [1, 7, 1000])
def test_chunked_scoring_with_state_dumped_and_reloaded_matches_one_pass(name, chunk):
    ts, vs = _series()
    n = (
        400 if chunk == 1 else 1500
    )  # a point at a time is slow only because of the state round-trips
    ts, vs = ts[:n], vs[:n]
    whole, _ = _score(name, ts, vs)
    detector = get_detector(name)
    blob = b""
    parts = []
    for start in range(0, len(vs), chunk):
        worker = get_detector(name)  # a fresh instance: as if another worker picked the series up
        result, state = score_series(
            detector=worker,
            state=worker.load_state(blob),
            timestamps=ts[start : start + chunk],
            values=vs[start : start + chunk],
        )
        blob = detector.dump_state(state)
        parts.append(result)
    np.testing.assert_array_equal(np.concatenate([p.scores for p in parts]), whole.scores)
    np.testing.assert_array_equal(np.concatenate([p.upper for p in parts]), whole.upper)


def test_a_restart_mid_series_gives_identical_scores():
    ts, vs = _series()
    uninterrupted, _ = _score(None, ts, vs)
    _, state = _score(None, ts[:1234], vs[:1234])
    saved = get_detector().dump_state(state)
    assert len(saved) < 16_000  # compact enough for a per-series BinaryField
    resumed, _ = _score(None, ts[1234:], vs[1234:], state=get_detector().load_state(saved))
    np.testing.assert_array_equal(resumed.scores, uninterrupted.scores[1234:])


def test_update_leaves_the_callers_state_untouched():
    ts, vs = _series()
    detector = get_detector()
    _, state = _score(None, ts[:500], vs[:500])
    before = detector.dump_state(state)
    _score(None, ts[500:900], vs[500:900], state=state)
    assert detector.dump_state(state) == before


def test_an_out_of_order_batch_is_scored_in_time_order_and_answered_in_the_callers_order():
    ts, vs = _series()
    ts, vs = ts[:600], vs[:600]
    in_order, _ = _score(None, ts, vs)
    shuffle = np.random.default_rng(3).permutation(len(ts))
    shuffled, _ = _score(None, ts[shuffle], vs[shuffle])
    np.testing.assert_array_equal(shuffled.scores, in_order.scores[shuffle])


@pytest.mark.parametrize("name", DETECTORS)
def test_corrupt_or_foreign_state_is_refused_not_unpickled(name):
    detector = get_detector(name)
    with pytest.raises(StateFormatError):
        detector.load_state(b"\x80\x04\x95 definitely not state")
    assert detector.dump_state(detector.load_state(b"")) == detector.dump_state(
        detector.initial_state()
    )


def test_the_registry_serves_the_default_and_rejects_unknown_names():
    assert get_detector().name == DEFAULT_DETECTOR
    with pytest.raises(UnknownDetector):
        get_detector("no-such-detector")


def test_non_finite_values_are_refused():
    detector = get_detector()
    with pytest.raises(ValueError):
        score_series(
            detector=detector,
            state=detector.initial_state(),
            timestamps=np.array([1.0, 2.0]),
            values=np.array([1.0, np.nan]),
        )


def test_state_from_another_detector_version_restarts_learning_instead_of_failing():
    from monitoring.detection.base import arrays_dump

    detector = get_detector()
    old = arrays_dump(version=detector.STATE_VERSION - 1, arrays={"sc": np.zeros(3)})
    assert detector.dump_state(detector.load_state(old)) == detector.dump_state(
        detector.initial_state()
    )


def test_same_version_state_with_a_wrong_layout_is_refused():
    from monitoring.detection.base import arrays_dump

    detector = get_detector()
    state = detector.initial_state()
    state["sc"] = np.zeros(2)
    with pytest.raises(StateFormatError):
        detector.load_state(arrays_dump(version=detector.STATE_VERSION, arrays=state))
