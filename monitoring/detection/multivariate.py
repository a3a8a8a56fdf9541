"""Multivariate anomaly score across several series of one service at the same timestamps (pyod ECOD/COPOD).

One service's metrics often go wrong together (latency up, throughput down,
errors up). Scoring each series alone raises several signals; this scores the
*joint* row so the caller can raise ONE signal naming the series that drove it.

How to call it (e.g. from the telemetry detect task, once per service and batch)::

    from monitoring.detection.multivariate import (
        MULTIVARIATE_THRESHOLD, multivariate_score, series_align,
    )

    names, stamps, matrix = series_align(
        series={"latency_p99": (ts1, v1), "requests": (ts2, v2), "errors": (ts3, v3)},
        step=60.0,                      # bucket width in seconds (the scrape interval)
    )
    split = max(0, len(stamps) - 10)    # reference = everything before the newest rows
    result = multivariate_score(history=matrix[:split], recent=matrix[split:], names=names)
    for row in np.flatnonzero(result.scores >= MULTIVARIATE_THRESHOLD):
        culprits = result.contributors(row)   # [("latency_p99", 0.71), ("errors", 0.22)]
        ... raise one SignalIn(source_kind="anomaly", ..., labels={"series": ",".join(n for n, _ in culprits)})

The score is causal as long as ``history`` holds only rows older than ``recent``.
ECOD and COPOD are parameter-free and fit in O(n d log n), so a few thousand
reference rows score in milliseconds; ``recent`` rows are scored against the
reference only (not against each other).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

MULTIVARIATE_THRESHOLD = 0.95  # ~ "more outlying than every reference row" (see _calibrate)
MIN_HISTORY = 30  # fewer reference rows give empirical tails too coarse to call anything rare
CONTRIBUTOR_SHARE = (
    0.15  # a series counts as a contributor when it carries at least this share of the score
)
METHODS = ("ecod", "copod")


class MultivariateInputError(ValueError):
    """Inputs have the wrong shape, too few reference rows or non-finite values."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MultivariateResult:
    """Scores of the ``recent`` rows, in [0, 1], and each series' share of every row's outlyingness."""

    names: tuple[str, ...]
    scores: np.ndarray  # (m,) float64 in [0, 1]
    contributions: (
        np.ndarray
    )  # (m, d) shares per row, each row sums to 1 (0 for an all-typical row)

    def contributors(
        self, row: int = -1, *, min_share: float = CONTRIBUTOR_SHARE
    ) -> list[tuple[str, float]]:
        """Series that drove ``row``'s score, largest share first."""
        shares = self.contributions[row]
        order = np.argsort(-shares, kind="stable")
        return [(self.names[j], float(shares[j])) for j in order if shares[j] >= min_share]


def multivariate_score(
    *, history: np.ndarray, recent: np.ndarray, names: Sequence[str], method: str = "copod"
) -> MultivariateResult:
    """Score ``recent`` rows (m, d) against the reference ``history`` rows (n, d) of the same d series."""
    hist = np.asarray(history, dtype=np.float64)
    rec = np.asarray(recent, dtype=np.float64)
    if rec.ndim == 1:
        rec = rec.reshape(1, -1)
    if (
        hist.ndim != 2
        or rec.ndim != 2
        or hist.shape[1] != rec.shape[1]
        or len(names) != hist.shape[1]
    ):
        raise MultivariateInputError("history and recent must be 2-D with one column per name")
    if hist.shape[1] < 2:
        raise MultivariateInputError("multivariate scoring needs at least two series")
    if hist.shape[0] < MIN_HISTORY:
        raise MultivariateInputError(
            f"need at least {MIN_HISTORY} reference rows, got {hist.shape[0]}"
        )
    if not (np.isfinite(hist).all() and np.isfinite(rec).all()):
        raise MultivariateInputError("values must be finite (align and fill gaps first)")
    if method not in METHODS:
        raise MultivariateInputError(f"method must be one of {', '.join(METHODS)}")
    if rec.shape[0] == 0:
        return MultivariateResult(
            names=tuple(names), scores=np.empty(0), contributions=np.empty((0, hist.shape[1]))
        )

    model = _model(method).fit(hist)
    reference = np.asarray(model.decision_scores_, dtype=np.float64)
    reference_dims = np.array(
        model.O, dtype=np.float64
    )  # per-series tail scores of the reference rows
    reference_peak = reference_dims.max(axis=1)
    # Score each recent row against the reference alone: pyod's ECOD/COPOD recompute
    # tails on reference+query, so rows are scored one at a time to keep them independent.
    raw = np.empty(rec.shape[0])
    per_dim = np.empty_like(rec)
    for i in range(rec.shape[0]):
        raw[i] = float(model.decision_function(rec[i : i + 1])[0])
        per_dim[i] = np.asarray(model.O)[-1]
    # A series' contribution is how much rarer its value is than that series usually is, so
    # series sitting at their typical level do not share the blame.
    excess = np.clip(per_dim - np.median(reference_dims, axis=0), 0.0, None)
    totals = excess.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = np.where(totals > 0, excess / totals, 0.0)
    # The sum over series finds rows odd in several series at once; the peak finds a row that is
    # extreme in one series while the others look normal (a sum would dilute it). Both are ranks
    # against the reference rows, so taking the larger keeps the scale.
    scores = np.maximum(_calibrate(raw, reference), _calibrate(per_dim.max(axis=1), reference_peak))
    return MultivariateResult(names=tuple(names), scores=scores, contributions=shares)


def series_align(
    *, series: Mapping[str, tuple[np.ndarray, np.ndarray]], step: float
) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """Align series with their own timestamps onto a common grid of ``step`` seconds.

    Each bucket takes the series' last value in it; gaps are forward-filled from
    the series' previous value (causal). Rows before every series has a value are
    dropped. Returns (names, bucket start timestamps, matrix of shape (rows, series)).
    """
    if step <= 0:
        raise MultivariateInputError("step must be positive")
    names = tuple(sorted(series))
    if not names:
        return names, np.empty(0), np.empty((0, 0))
    buckets = {}
    for name in names:
        ts, vs = (np.asarray(a, dtype=np.float64) for a in series[name])
        order = np.argsort(ts, kind="stable")
        buckets[name] = (np.floor(ts[order] / step) * step, vs[order])
    grid = np.unique(np.concatenate([b for b, _ in buckets.values()]))
    matrix = np.full((grid.shape[0], len(names)), np.nan)
    for j, name in enumerate(names):
        b, v = buckets[name]
        # The last value per bucket wins: searchsorted on the right edge of every grid bucket.
        idx = np.searchsorted(b, grid, side="right") - 1
        has = idx >= 0
        matrix[has, j] = v[
            idx[has]
        ]  # bucket without own point keeps the previous value: a forward fill
    complete = np.isfinite(matrix).all(axis=1)
    return names, grid[complete], matrix[complete]


def multivariate_warm() -> None:
    """Import pyod now (a worker starting up) rather than in the first scoring call."""
    for method in METHODS:
        _model(method)


def _model(method: str):
    # Imported lazily: pyod pulls in numba/scipy machinery the per-series path never needs.
    if method == "copod":
        from pyod.models.copod import COPOD

        return COPOD()
    from pyod.models.ecod import ECOD

    return ECOD()


def _calibrate(raw: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Map raw pyod scores to [0, 1] by their empirical tail among the reference rows' scores.

    score = -log10(p) / log10(n + 1) with p = (#reference >= raw + 1) / (n + 1): 1.0 means more
    outlying than every reference row, 0.5 means rarer than all but about sqrt(n) of them. Comparable
    across services of different sizes because it is a rank, not a raw ECOD sum.
    """
    ref = np.sort(reference)
    n = ref.shape[0]
    above = n - np.searchsorted(ref, raw, side="left")
    p = (above + 1.0) / (n + 1.0)
    return np.clip(-np.log10(p) / np.log10(n + 1.0), 0.0, 1.0)
