"""OTLP/HTTP routes, mounted at /otlp/ so OTEL_EXPORTER_OTLP_ENDPOINT=http://host:8000/otlp works."""
from __future__ import annotations

from django.urls import path

from .views import OtlpMetricsView

urlpatterns = [path("v1/metrics", OtlpMetricsView.as_view(), name="otlp-metrics")]
