"""Alerts: one row per distinct fault (fingerprint) while open; repeats only bump its counter."""
from __future__ import annotations

from django.db import models
from django.db.models import Q

from incidents.choices import AlertHold, AlertStatus, CorrelationRule, SeverityHint, SourceKind


class Alert(models.Model):
    fingerprint = models.CharField(max_length=255, db_index=True)
    source_kind = models.CharField(max_length=20, choices=SourceKind.choices)
    source_name = models.CharField(max_length=100, blank=True)
    service = models.ForeignKey("core.Service", on_delete=models.CASCADE, related_name="alerts")
    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.SET_NULL, null=True, blank=True, related_name="alerts"
    )
    title = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    labels = models.JSONField(default=dict, blank=True)
    severity_hint = models.CharField(max_length=10, choices=SeverityHint.choices, blank=True)
    status = models.CharField(max_length=10, choices=AlertStatus.choices, default=AlertStatus.FIRING)
    hold = models.CharField(
        max_length=10, choices=AlertHold.choices, blank=True, default=AlertHold.NONE,
        help_text="Why this firing alert is not (yet) part of an incident.",
    )
    silence = models.ForeignKey(
        "incidents.Silence", on_delete=models.SET_NULL, null=True, blank=True, related_name="alerts"
    )
    grouped_by = models.CharField(max_length=12, choices=CorrelationRule.choices, blank=True)
    grouping_rule = models.ForeignKey(
        "incidents.GroupingRule", on_delete=models.SET_NULL, null=True, blank=True, related_name="alerts"
    )
    # Why the rule matched, in words ("dependency of checkout-api", "rule disk-by-host"): a join across
    # services must say what joined it.
    grouped_detail = models.CharField(max_length=200, blank=True, default="")
    # Joined while someone was already working the incident (acknowledged, investigating, mitigated):
    # shown as "new since acknowledged" and told to the assignee.
    joined_after_ack = models.BooleanField(default=False)
    count = models.PositiveIntegerField(default=1, help_text="Signals received for this alert.")
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    # Epoch seconds of recent firing<->resolved flips, newest last, for flap detection.
    flips = models.JSONField(default=list, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    links = models.JSONField(default=list, blank=True)
    kpis = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-last_seen", "-id"]
        constraints = [
            # Dedup under concurrency: at most one firing alert per fingerprint.
            models.UniqueConstraint(
                fields=["fingerprint"], condition=Q(status="firing"), name="alert_one_firing_per_fingerprint"
            ),
        ]
        indexes = [
            models.Index(fields=["service", "first_seen"], name="alert_service_first_seen"),
            models.Index(fields=["incident", "status"], name="alert_incident_status"),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.get_status_display()})"

    @property
    def is_firing(self) -> bool:
        return self.status == AlertStatus.FIRING

    @property
    def join_explanation(self) -> str:
        """How it came into its incident, with the rule's detail: "Dependent service within window (dependency of
        checkout-api)"."""
        if not self.grouped_by:
            return ""
        label = self.get_grouped_by_display()
        return f"{label} ({self.grouped_detail})" if self.grouped_detail else label

    @property
    def is_muted(self) -> bool:
        return self.hold == AlertHold.SILENCED
