"""Views of the monitoring API: telemetry intake (native and OTLP), alert intake by format, series reads."""
from __future__ import annotations

from .integrations import AlertmanagerWebhookView, GrafanaWebhookView, PagerDutyEnqueueView
from .series import AnomalyViewSet, MetricSeriesViewSet
from .telemetry import OtlpMetricsView, TelemetryView

__all__ = [
    "AlertmanagerWebhookView",
    "AnomalyViewSet",
    "GrafanaWebhookView",
    "MetricSeriesViewSet",
    "OtlpMetricsView",
    "PagerDutyEnqueueView",
    "TelemetryView",
]
