"""The one code path that scores points of a series, shared by live ingestion and the backtest command."""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import DetectionResult, Detector


def score_series(
    *, detector: Detector, state: Any, timestamps: np.ndarray, values: np.ndarray
) -> tuple[DetectionResult, Any]:
    """Score a batch of new points of one series, in time order, and return the advanced state.

    ``timestamps`` are epoch seconds. Points are sorted by time (stable) before
    scoring and results are returned in the caller's order, so out-of-order
    batches are scored as if they had arrived in order. Non-finite values are
    the caller's bug (the API rejects them) and raise ``ValueError``.
    """
    ts = np.asarray(timestamps, dtype=np.float64).reshape(-1)
    vs = np.asarray(values, dtype=np.float64).reshape(-1)
    if ts.shape != vs.shape:
        raise ValueError(f"timestamps ({ts.shape[0]}) and values ({vs.shape[0]}) differ in length")
    if ts.shape[0] == 0:
        return DetectionResult.empty(), state
    if not (np.isfinite(ts).all() and np.isfinite(vs).all()):
        raise ValueError("timestamps and values must be finite")
    if state is None:
        state = detector.initial_state()
    order = None
    if ts.shape[0] > 1 and np.any(np.diff(ts) < 0):
        order = np.argsort(ts, kind="stable")
        ts, vs = ts[order], vs[order]
    result, state = detector.update(state, ts, vs)
    if order is not None:
        back = np.empty_like(order)
        back[order] = np.arange(order.shape[0])
        result = DetectionResult(
            scores=result.scores[back],
            expected=result.expected[back],
            lower=result.lower[back],
            upper=result.upper[back],
        )
    return result, state
