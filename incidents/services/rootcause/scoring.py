"""Score raw metric windows against their normal behaviour: robust z in the harmful direction, and onset."""
from __future__ import annotations

import numpy as np

from .ranking import ABNORMAL_Z, MetricEvidence

# Normal spread is at least this share of the normal level: a change under 0.5% of a latency or a count
# is not an operational fault, and a metric that never moved (availability at 100) would otherwise turn
# any wiggle into an infinite z.
RELATIVE_SCALE_FLOOR = 0.005
ABSOLUTE_SCALE_FLOOR = 1e-9  # all-zero series
MAD_TO_SIGMA = 1.4826  # MAD of a normal distribution times this is its standard deviation
TAIL_QUANTILE = 0.98  # the 2nd-worst point of a window beyond the normal 98th percentile is rare
MAX_Z = 1000.0  # beyond this the number means nothing more; keeps reports and JSON finite
SUSTAIN_POINTS = 2  # a fault lasts: the window's 2nd-worst point counts, not one spike

# Which way is harmful, by words in the metric name; anything else counts both ways.
UP_WORDS = ("latency", "duration", "error", "fault", "throttle", "cpu", "memory", "disk", "queue", "lag", "time")
DOWN_WORDS = ("availability", "success", "uptime", "apdex", "hit")


def harmful_direction(metric: str) -> str:
    name = metric.lower()
    if any(w in name for w in DOWN_WORDS):
        return "down"
    if any(w in name for w in UP_WORDS):
        return "up"
    return "both"


def normal_profile(values: np.ndarray) -> tuple[float, float]:
    """Robust centre and spread of a metric's normal behaviour (median, MAD as a sigma, floored)."""
    v = values[np.isfinite(values)]
    if v.size == 0:
        return float("nan"), float("nan")
    centre = float(np.median(v))
    spread = MAD_TO_SIGMA * float(np.median(np.abs(v - centre)))
    # Heavy-tailed metrics (p99 of a few calls) spike in normal operation: the normal extremes set the
    # spread too, so that z > ABNORMAL_Z means "beyond what normal operation showed".
    if v.size >= 20:
        lo, hi = np.quantile(v, [1 - TAIL_QUANTILE, TAIL_QUANTILE])
        spread = max(spread, float(hi - centre) / ABNORMAL_Z, float(centre - lo) / ABNORMAL_Z)
    spread = max(spread, RELATIVE_SCALE_FLOOR * abs(centre), ABSOLUTE_SCALE_FLOOR)
    return centre, spread


def score_window(
    *, node: str, metric: str, times: np.ndarray, values: np.ndarray, centre: float, spread: float,
    direction: str | None = None,
) -> MetricEvidence | None:
    """The worst sustained point of `values` against (centre, spread) and when the metric first left normal."""
    if not np.isfinite(centre) or not np.isfinite(spread):
        return None
    ok = np.isfinite(values)
    if not ok.any():
        return None
    direction = direction or harmful_direction(metric)
    dev = (values - centre) / spread
    if direction == "up":
        z = dev
    elif direction == "down":
        z = -dev
    else:
        z = np.abs(dev)
    z = np.minimum(np.where(ok, z, -np.inf), MAX_Z)
    order = np.argsort(-z)
    worst = int(order[min(SUSTAIN_POINTS, int(ok.sum())) - 1])
    above = np.flatnonzero(z > ABNORMAL_Z)
    onset = float(times[above[0]]) if above.size else None
    return MetricEvidence(node=node, metric=metric, z=float(z[worst]), onset=onset,
                          value=float(values[worst]), expected=centre,
                          kind="load" if direction == "both" else "fault")
