"""Serializers of the monitors API (results per model version, kind and period; on-demand runs)."""
from __future__ import annotations

from rest_framework import serializers

from ..models import MonitorResult, MonitorRun


class MonitorResultSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="model.name", read_only=True)
    version = serializers.IntegerField(source="version.version", read_only=True)

    class Meta:
        model = MonitorResult
        fields = (
            "id", "run", "model", "version", "kind", "period_start", "period_end", "status", "sample_size",
            "metrics", "details", "reasons", "signal_outcome", "alert_id", "incident_id", "created_at",
        )
        read_only_fields = fields


class MonitorRunSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="model.name", read_only=True)
    version = serializers.IntegerField(source="version.version", read_only=True)

    class Meta:
        model = MonitorRun
        fields = (
            "id", "model", "version", "period_start", "period_end", "trigger", "state", "status", "error",
            "created_at", "started_at", "finished_at",
        )
        read_only_fields = fields


class MonitorRunRequestSerializer(serializers.Serializer):
    model = serializers.SlugField(help_text="Registered model name.")
    period_start = serializers.DateTimeField(required=False, help_text="Default: period_end minus MONITOR_PERIOD_DAYS.")
    period_end = serializers.DateTimeField(required=False, help_text="Default: now.")
