"""Serializers of the monitoring API: series and their anomalies (agents' intake bodies are parsed by
`monitoring.formats`, not by serializers)."""
from __future__ import annotations

from rest_framework import serializers

from monitoring.models import Anomaly, MetricSeries


class MetricSeriesSerializer(serializers.ModelSerializer):
    service = serializers.CharField(source="service.name", read_only=True)
    anomaly_count = serializers.IntegerField(read_only=True, help_text="Anomalies in the last 24 hours.")
    anomaly_total = serializers.IntegerField(read_only=True)

    class Meta:
        model = MetricSeries
        fields = ["id", "service", "metric", "labels", "kind", "unit", "detector", "threshold", "last_scored_ts",
                  "anomaly_count", "anomaly_total", "created_at"]


class AnomalySerializer(serializers.ModelSerializer):
    service = serializers.CharField(source="series.service.name", read_only=True)
    metric = serializers.CharField(source="series.metric", read_only=True)

    class Meta:
        model = Anomaly
        fields = ["id", "series", "service", "metric", "ts", "value", "score", "expected", "lower", "upper",
                  "direction", "detector", "reasons", "multivariate", "alert_id", "incident_id"]
