"""Models of the monitoring app; each module holds one area, re-exported here."""
from __future__ import annotations

from .drain import DrainLease  # noqa: F401  (drain partitions)
from .intake import AlertIntake  # noqa: F401  (alert intake)
from .series import (  # noqa: F401  (telemetry)
    Anomaly,
    CapacityForecast,
    DetectQueue,
    MetricSeries,
    Point,
    PointRollup,
)
from .telemetry import TelemetryBatch  # noqa: F401  (telemetry)
