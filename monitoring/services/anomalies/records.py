"""What the detection modules hand each other: claims, anomalies found in a run, a step's outcome."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from monitoring.choices import Direction
from monitoring.detection.base import DetectionResult, Detector
from monitoring.models import Anomaly, MetricSeries


@dataclass(frozen=True, slots=True, kw_only=True)
class DetectOutcome:
    series: int
    scored: int  # points that went through a detector (replayed ones included)
    anomalies: int
    signals: int
    outcomes: tuple[str, ...] = ()
    claimed: int = 0  # queue rows taken
    rescored: int = 0  # series rescored from a checkpoint because points arrived late


@dataclass(slots=True, kw_only=True)
class Found:
    """Anomalies of one series in one run, to become signals."""

    series: MetricSeries
    rows: list[Anomaly] = field(default_factory=list)
    ts: np.ndarray | None = None  # the points scored in this run and their univariate result
    values: np.ndarray | None = None
    result: DetectionResult | None = None
    threshold: float = 1.0


@dataclass(frozen=True, slots=True)
class Claim:
    first: float | None  # earliest new point (None: unknown, score whatever lies past the watermark)
    last: float | None  # latest new point (None: no upper bound)
    rows: int


def anomaly_row(series: MetricSeries, detector: Detector, result: DetectionResult, i: int, ts: float, value: float,
                threshold: float) -> Anomaly:
    """The anomaly at position `i` of a scored run, with its reasons."""
    expected, lower, upper = float(result.expected[i]), float(result.lower[i]), float(result.upper[i])
    direction = Direction.UP if value >= expected else Direction.DOWN
    reasons = [f"score {result.scores[i]:.2f} above threshold {threshold:.2f} ({detector.name})"]
    if value > upper:
        reasons.append(f"value {value:.4g} above the expected band [{lower:.4g}, {upper:.4g}]")
    elif value < lower:
        reasons.append(f"value {value:.4g} below the expected band [{lower:.4g}, {upper:.4g}]")
    else:
        reasons.append(f"value {value:.4g} inside the band but its pattern is unusual (expected {expected:.4g})")
    return Anomaly(
        series=series, ts=datetime.fromtimestamp(ts, tz=UTC), value=value,
        score=float(result.scores[i]), expected=expected, lower=lower, upper=upper, direction=direction,
        detector=detector.name, reasons=reasons,
    )

