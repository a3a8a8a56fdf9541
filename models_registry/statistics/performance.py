"""Performance, bias-per-segment and operational statistics of logged predictions (pure numpy).

Overall business metrics come from `models_registry.evaluation` (the same functions the gate uses,
so a monitor and a gate decision can never disagree on what "MAE" or "recall at budget" means).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..evaluation import DEFAULT_ALERT_BUDGET, classification_metrics, regression_metrics

REGRESSION = "regression"
CLASSIFICATION = "classification"
MIN_SEGMENT_ROWS = 30  # below this a segment's MAE / recall is mostly noise: reported, not ranked


@dataclass(frozen=True, slots=True, kw_only=True)
class SegmentMetric:
    segment: str
    n: int
    value: float  # the segment's metric (MAE for regression, recall at the budget's cutoff)
    ratio: float  # oriented so that > 1 means served worse than overall
    ranked: bool  # False when the segment is too small to be compared


@dataclass(frozen=True, slots=True, kw_only=True)
class BiasReport:
    dimension: str  # "carrier", "origin", ...
    metric: str  # "mae" | "recall_at_budget"
    overall: float
    segments: tuple[SegmentMetric, ...]
    worst_segment: str
    worst_value: float
    disparity_ratio: float  # worst segment vs overall, > 1 = worse; 1.0 when nothing can be ranked

    def as_dict(self) -> dict:
        return {
            "dimension": self.dimension,
            "metric": self.metric,
            "overall": self.overall,
            "worst_segment": self.worst_segment,
            "worst_value": self.worst_value,
            "disparity_ratio": self.disparity_ratio,
            "segments": [
                {"segment": s.segment, "n": s.n, "value": s.value, "ratio": s.ratio, "ranked": s.ranked}
                for s in self.segments
            ],
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class OperationalStats:
    volume: int
    errors: int
    error_rate: float
    latency_p50_ms: float
    latency_p95_ms: float
    latency_p99_ms: float

    def as_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.__slots__}


def performance_metrics(
    *, task: str, actual: np.ndarray, predicted: np.ndarray, alert_budget: float = DEFAULT_ALERT_BUDGET
) -> dict[str, float]:
    """Business metrics on predictions that have an actual (late labels are simply not there yet)."""
    if task == CLASSIFICATION:
        return classification_metrics(actual=actual, scores=predicted, alert_budget=alert_budget)
    return regression_metrics(actual=actual, predicted=predicted)


def _score_cutoff(scores: np.ndarray, alert_budget: float) -> float:
    """Score of the last flagged prediction when the top `alert_budget` share is flagged."""
    flagged = max(1, math.ceil(alert_budget * scores.size))
    return float(np.sort(scores)[::-1][flagged - 1])


def segment_bias(
    *,
    task: str,
    dimension: str,
    segments: np.ndarray,
    actual: np.ndarray,
    predicted: np.ndarray,
    alert_budget: float = DEFAULT_ALERT_BUDGET,
    min_rows: int = MIN_SEGMENT_ROWS,
) -> BiasReport:
    """Per-segment metric and the disparity of the worst (big enough) segment against the overall one.

    Regression: MAE per segment, ratio = segment MAE / overall MAE.
    Classification: recall per segment at the *overall* alert cutoff (one budget for the whole
    team, as in production), ratio = overall recall / segment recall — a segment whose stuck
    journeys the alerts miss is the one treated unfairly.
    """
    segments = np.asarray(segments).astype(str)
    actual = np.asarray(actual, dtype=np.float64)
    predicted = np.asarray(predicted, dtype=np.float64)
    keep = np.isfinite(actual) & np.isfinite(predicted)
    segments, actual, predicted = segments[keep], actual[keep], predicted[keep]
    if task == CLASSIFICATION:
        metric = "recall_at_budget"
        positive = actual > 0.5
        flagged = predicted >= _score_cutoff(predicted, alert_budget) if predicted.size else predicted > 0
        overall = float(flagged[positive].mean()) if positive.any() else 0.0
    else:
        metric = "mae"
        error = np.abs(actual - predicted)
        overall = float(error.mean()) if error.size else 0.0
    names, inverse = np.unique(segments, return_inverse=True)
    rows: list[SegmentMetric] = []
    for index, name in enumerate(names):
        mask = inverse == index
        if task == CLASSIFICATION:
            seg_positive = positive & mask
            n = int(seg_positive.sum())  # recall is about the segment's positives
            value = float(flagged[seg_positive].mean()) if n else 0.0
            ratio = overall / value if value > 0 else (math.inf if overall > 0 else 1.0)
        else:
            n = int(mask.sum())
            value = float(error[mask].mean())
            ratio = value / overall if overall > 0 else 1.0
        rows.append(SegmentMetric(segment=str(name), n=n, value=value, ratio=ratio, ranked=n >= min_rows))
    ranked = [row for row in rows if row.ranked and math.isfinite(row.ratio)]
    worst = max(ranked, key=lambda row: row.ratio, default=None)
    return BiasReport(
        dimension=dimension,
        metric=metric,
        overall=overall,
        segments=tuple(sorted(rows, key=lambda row: -row.ratio if math.isfinite(row.ratio) else -1e18)),
        worst_segment=worst.segment if worst else "",
        worst_value=worst.value if worst else overall,
        disparity_ratio=worst.ratio if worst else 1.0,
    )


def operational_stats(*, latencies_ms: np.ndarray, errors: int = 0) -> OperationalStats:
    """Latency percentiles over served predictions, error rate over all requests (served + failed)."""
    latencies = np.asarray(latencies_ms, dtype=np.float64)
    latencies = latencies[np.isfinite(latencies)]
    volume = int(latencies.size)
    total = volume + int(errors)
    if volume:
        p50, p95, p99 = (float(v) for v in np.percentile(latencies, [50, 95, 99]))
    else:
        p50 = p95 = p99 = 0.0
    return OperationalStats(
        volume=volume,
        errors=int(errors),
        error_rate=float(errors / total) if total else 0.0,
        latency_p50_ms=p50,
        latency_p95_ms=p95,
        latency_p99_ms=p99,
    )
