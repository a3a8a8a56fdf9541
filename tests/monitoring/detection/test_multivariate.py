"""One joint score across a service's series, naming the series that made a row unusual."""

from __future__ import annotations

import numpy as np
import pytest

from monitoring.detection.multivariate import (
    MULTIVARIATE_THRESHOLD,
    MultivariateInputError,
    multivariate_score,
    series_align,
)

NAMES = ["latency", "requests", "errors", "cpu"]


def _history(seed=1, n=600):
    rng = np.random.default_rng(seed)
    load = rng.normal(0.0, 1.0, n)
    # Correlated like a real service: latency, errors and cpu follow the request load.
    return np.column_stack(
        [
            load + rng.normal(0, 0.3, n),
            load,
            0.5 * load + rng.normal(0, 0.3, n),
            load + rng.normal(0, 0.3, n),
        ]
    )


@pytest.mark.parametrize("method", ["copod", "ecod"])
def test_a_row_extreme_in_some_series_scores_high_and_names_them(method):
    hist = _history()
    recent = np.array([[0.1, 0.0, 0.1, 0.2], [6.0, 0.0, 5.0, 0.1]])
    result = multivariate_score(history=hist, recent=recent, names=NAMES, method=method)
    assert result.scores[0] < MULTIVARIATE_THRESHOLD <= result.scores[1]
    assert {name for name, _ in result.contributors(1)} == {"latency", "errors"}


def test_typical_rows_stay_below_the_threshold():
    hist = _history(2)
    recent = _history(3, n=50)
    result = multivariate_score(history=hist, recent=recent, names=NAMES)
    assert (result.scores < MULTIVARIATE_THRESHOLD).mean() > 0.9
    assert np.all((result.scores >= 0) & (result.scores <= 1))


@pytest.mark.parametrize(
    ("history", "recent", "names"),
    [
        (np.zeros((10, 2)), np.zeros((1, 2)), ["a", "b"]),  # too little history
        (np.zeros((100, 1)), np.zeros((1, 1)), ["a"]),  # one series is not multivariate
        (np.zeros((100, 2)), np.zeros((1, 3)), ["a", "b"]),  # widths differ
        (np.zeros((100, 2)), np.array([[np.nan, 1.0]]), ["a", "b"]),  # gaps must be filled first
    ],
    ids=["short_history", "single_series", "width_mismatch", "non_finite"],
)
def test_bad_input_is_refused(history, recent, names):
    with pytest.raises(MultivariateInputError):
        multivariate_score(history=history, recent=recent, names=names)


def test_series_with_their_own_timestamps_are_aligned_with_a_causal_forward_fill():
    names, stamps, matrix = series_align(
        series={
            "b": (np.array([10.0, 20.0, 200.0]), np.array([5.0, 6.0, 7.0])),
            "a": (np.array([0.0, 65.0, 130.0]), np.array([1.0, 2.0, 3.0])),
        },
        step=60.0,
    )
    assert names == ("a", "b")
    np.testing.assert_array_equal(stamps, [0.0, 60.0, 120.0, 180.0])
    np.testing.assert_array_equal(matrix, [[1, 6], [2, 6], [3, 6], [3, 7]])
