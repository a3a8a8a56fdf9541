"""Severity training data (operator overrides) and trained classifier versions."""
from __future__ import annotations

from django.conf import settings
from django.db import models

from incidents.choices import Severity


class SeverityOverride(models.Model):
    """An operator's correction of a level; kept as a labelled example for the classifier."""

    incident = models.ForeignKey("incidents.Incident", on_delete=models.CASCADE, related_name="severity_overrides")
    old_severity = models.PositiveSmallIntegerField(choices=Severity.choices)
    new_severity = models.PositiveSmallIntegerField(choices=Severity.choices)
    rules_severity = models.PositiveSmallIntegerField(choices=Severity.choices, null=True, blank=True)
    reason = models.TextField()
    features = models.JSONField(default=dict)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"incident {self.incident_id}: level {self.old_severity} -> {self.new_severity}"


class SeverityClassifier(models.Model):
    """One trained model; the newest `enabled` one proposes levels (if the setting allows)."""

    trained_at = models.DateTimeField(auto_now_add=True)
    samples = models.PositiveIntegerField()
    accuracy = models.FloatField(help_text="Held-out accuracy.")
    artifact = models.CharField(max_length=500, help_text="Path of the joblib file.")
    feature_names = models.JSONField(default=list)
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["-trained_at", "-id"]

    def __str__(self) -> str:
        return f"Severity classifier {self.trained_at:%Y-%m-%d %H:%M} ({self.samples} samples)"
