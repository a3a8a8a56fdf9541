"""Routes of the monitoring API (mounted under /api/v1/)."""
from __future__ import annotations

from django.urls import path
from rest_framework.routers import SimpleRouter

from . import series, telemetry

router = SimpleRouter()
router.register("series", series.MetricSeriesViewSet, basename="series")
router.register("anomalies", series.AnomalyViewSet, basename="anomaly")

urlpatterns: list = [
    path("telemetry", telemetry.TelemetryView.as_view(), name="telemetry"),
    *router.urls,
]
