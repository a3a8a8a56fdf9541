"""Enumerations of the organisation model: roles, service tiers and integration kinds."""
from __future__ import annotations

from django.db import models


class Role(models.TextChoices):
    """Django auth groups; a person may hold several."""

    OPERATOR = "operator", "Operator"  # works the incident queue: acknowledges, resolves
    MANAGER = "manager", "Manager"  # reads everything, notified for Level 1-2
    EXECUTIVE = "executive", "Executive"  # notified for Level 1
    ADMIN = "admin", "Admin"  # edits playbooks, policies, services, models


class Tier(models.IntegerChoices):
    """How critical a service is to the business (tier 1 is the most critical)."""

    TIER_1 = 1, "Tier 1 (business critical)"
    TIER_2 = 2, "Tier 2 (important)"
    TIER_3 = 3, "Tier 3 (supporting)"
    TIER_4 = 4, "Tier 4 (internal / best effort)"


class IntegrationKind(models.TextChoices):
    ALERTMANAGER = "alertmanager", "Prometheus Alertmanager"
    GRAFANA = "grafana", "Grafana alerting"
    PAGERDUTY = "pagerduty", "PagerDuty Events v2"
    GENERIC = "generic", "Generic signals / telemetry"
    OTLP = "otlp", "OpenTelemetry OTLP"
    MODEL = "model", "Model serving"
