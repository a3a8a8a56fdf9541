"""Choices of the monitoring app."""
from __future__ import annotations

from django.db import models


class SeriesKind(models.TextChoices):
    """What a metric series measures; business and model series feed severity as KPIs."""

    SYSTEM = "system", "System"
    MODEL = "model", "Model"
    BUSINESS = "business", "Business"


class BatchStatus(models.TextChoices):
    """Lifecycle of a stored telemetry batch (the intake outbox row)."""

    QUEUED = "queued", "Queued"
    PROCESSING = "processing", "Processing"
    STORED = "stored", "Stored"
    FAILED = "failed", "Failed"


class BatchSource(models.TextChoices):
    NATIVE = "native", "Native telemetry API"
    OTLP = "otlp", "OpenTelemetry OTLP"


class Direction(models.TextChoices):
    """Which side of the expected band an anomaly lies on; part of the signal fingerprint."""

    UP = "up", "Above expected"
    DOWN = "down", "Below expected"


class AlertIntakeKind(models.TextChoices):
    """Alert formats accepted unchanged from monitoring agents (values match core IntegrationKind)."""

    ALERTMANAGER = "alertmanager", "Prometheus Alertmanager webhook"
    GRAFANA = "grafana", "Grafana alerting webhook"
    PAGERDUTY = "pagerduty", "PagerDuty Events API v2"


class AlertIntakeStatus(models.TextChoices):
    """Lifecycle of a stored alert request (the intake outbox row)."""

    QUEUED = "queued", "Queued"
    PROCESSING = "processing", "Processing"
    PROCESSED = "processed", "Processed"
    FAILED = "failed", "Failed"


class CapacityKind(models.TextChoices):
    """What a capacity series measures against its limit (time-to-exhaustion forecasts, issue 13)."""

    DISK = "disk", "Disk"
    MEMORY = "memory", "Memory"
    QUOTA = "quota", "Quota"
    CONNECTION_POOL = "connection_pool", "Connection pool"
    BUDGET = "budget", "Budget"
