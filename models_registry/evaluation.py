"""Business and statistical metrics of a model on labelled data (pure numpy, shared by gate and monitors)."""
from __future__ import annotations

import math

import numpy as np

# A journey later than its forecast by more than this floods the call centre ("too optimistic");
# earlier by more than this loses sales ("too conservative").
JOURNEY_TOLERANCE_MINUTES = 15.0
# The stuck-journey alerting team can look at this share of journeys: the model is judged on
# how many stuck journeys fall inside that budget, not on a threshold-free score alone.
DEFAULT_ALERT_BUDGET = 0.10


def regression_metrics(
    *, actual: np.ndarray, predicted: np.ndarray, tolerance: float = JOURNEY_TOLERANCE_MINUTES
) -> dict[str, float]:
    """MAE, signed bias and the shares of journeys later / earlier than forecast by more than `tolerance`."""
    actual = np.asarray(actual, dtype=np.float64)
    predicted = np.asarray(predicted, dtype=np.float64)
    keep = np.isfinite(actual) & np.isfinite(predicted)
    actual, predicted = actual[keep], predicted[keep]
    n = int(actual.size)
    if n == 0:
        return {"n": 0}
    error = actual - predicted  # > 0: the journey took longer than forecast
    return {
        "n": n,
        "mae": float(np.mean(np.abs(error))),
        "rmse": float(math.sqrt(np.mean(error**2))),
        "bias": float(np.mean(predicted - actual)),  # signed: < 0 means forecasts run optimistic
        "too_optimistic_share": float(np.mean(error > tolerance)),
        "too_conservative_share": float(np.mean(error < -tolerance)),
        # Quantiles of (actual - forecast): the forecast's 80 % interval is [forecast + p10, forecast + p90].
        "error_p10": float(np.quantile(error, 0.10)),
        "error_p90": float(np.quantile(error, 0.90)),
    }


def classification_metrics(
    *, actual: np.ndarray, scores: np.ndarray, alert_budget: float = DEFAULT_ALERT_BUDGET
) -> dict[str, float]:
    """Recall and precision when the top `alert_budget` share of scores is flagged, plus base rate and AUC."""
    actual = np.asarray(actual, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    keep = np.isfinite(actual) & np.isfinite(scores)
    actual, scores = actual[keep] > 0.5, scores[keep]
    n = int(actual.size)
    if n == 0:
        return {"n": 0}
    flagged = max(1, int(math.ceil(alert_budget * n)))
    # Stable sort so ties resolve the same way every time (reproducible metrics for the gate).
    top = np.argsort(-scores, kind="stable")[:flagged]
    positives = int(actual.sum())
    hits = int(actual[top].sum())
    return {
        "n": n,
        "alert_budget": float(alert_budget),
        "base_rate": float(positives / n),
        "recall_at_budget": float(hits / positives) if positives else 0.0,
        "precision_at_budget": float(hits / flagged),
        "auc": _auc(actual, scores),
        "mean_score": float(np.mean(scores)),
    }


def _auc(actual: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC via the rank statistic (ties get average ranks); 0.5 when only one class is present."""
    positives = int(actual.sum())
    negatives = int(actual.size - positives)
    if positives == 0 or negatives == 0:
        return 0.5
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(scores.size, dtype=np.float64)
    sorted_scores = scores[order]
    # Average ranks for ties.
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    average = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(average, counts)
    return float((ranks[actual].sum() - positives * (positives + 1) / 2.0) / (positives * negatives))
