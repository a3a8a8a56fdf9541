"""What a monitor reads (one version's period) and what it concludes, shared by every monitor module."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True, slots=True, kw_only=True)
class MonitorVerdict:
    """One monitor's outcome before it is stored."""

    kind: str
    status: str
    sample_size: int = 0
    metrics: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class PeriodData:
    """What the monitors read for one version and period."""

    raw: pd.DataFrame  # raw records as logged
    predictions: np.ndarray
    actuals: np.ndarray  # NaN where the label has not arrived yet
    latencies_ms: np.ndarray
    errors: int
