"""Models of the monitoring app; each module holds one area, re-exported here."""
from __future__ import annotations

from .drain import DrainLease  # noqa: F401  (drain partitions)
from .intake import AlertIntake  # noqa: F401  (alert intake)
from .series import Anomaly, DetectQueue, MetricSeries, Point, PointRollup  # noqa: F401  (telemetry)
from .telemetry import TelemetryBatch  # noqa: F401  (telemetry)
