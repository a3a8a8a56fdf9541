"""Incidents: what people work on, with severity, lifecycle, assignment and grouping key."""
from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from incidents.choices import (
    INCIDENT_TRANSITIONS,
    OPEN_INCIDENT_STATUSES,
    IncidentStatus,
    Severity,
    SeveritySource,
)


class Incident(models.Model):
    title = models.CharField(max_length=300)
    service = models.ForeignKey("core.Service", on_delete=models.PROTECT, related_name="incidents")
    team = models.ForeignKey(
        "core.Team", on_delete=models.SET_NULL, null=True, blank=True, related_name="incidents"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="assigned_incidents",
    )
    severity = models.PositiveSmallIntegerField(choices=Severity.choices, default=Severity.LOW)
    severity_source = models.CharField(max_length=10, choices=SeveritySource.choices, default=SeveritySource.RULES)
    severity_reasons = models.JSONField(default=list, blank=True, help_text="Why the level is what it is.")
    severity_features = models.JSONField(default=dict, blank=True, help_text="Inputs the level was computed from.")
    rules_severity = models.PositiveSmallIntegerField(
        choices=Severity.choices, null=True, blank=True, help_text="What the rules say, even when overridden."
    )
    proposed_severity = models.PositiveSmallIntegerField(
        choices=Severity.choices, null=True, blank=True, help_text="The classifier's proposal, when it is on."
    )
    proposed_confidence = models.FloatField(null=True, blank=True)
    status = models.CharField(max_length=15, choices=IncidentStatus.choices, default=IncidentStatus.TRIGGERED)
    grouping_key = models.CharField(max_length=255, blank=True)
    opened_at = models.DateTimeField(default=timezone.now)
    last_alert_at = models.DateTimeField(default=timezone.now)
    # When its last alert arrived here (our clock): correlation windows run on arrival, since a
    # source's own timestamps may be old (Alertmanager's startsAt) and must not split a service.
    last_received_at = models.DateTimeField(default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    investigating_at = models.DateTimeField(null=True, blank=True)
    mitigated_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    reopened_count = models.PositiveSmallIntegerField(default=0)
    alert_count = models.PositiveIntegerField(default=0, help_text="Distinct alerts grouped here.")
    new_since_ack_count = models.PositiveIntegerField(
        default=0, help_text="Alerts that joined after it was acknowledged (flagged `joined_after_ack`)."
    )
    resolution = models.TextField(blank=True)
    # A rehearsal (manage.py drill, /drills/): paged and escalated for real, left out of every report.
    is_drill = models.BooleanField(default=False, help_text="A drill: paged for real, excluded from reports.")

    class Meta:
        ordering = ["severity", "opened_at"]
        constraints = [
            # One open incident per grouping key, enforced by the database so that concurrent
            # workers cannot both open one; the loser gets IntegrityError and joins the winner.
            models.UniqueConstraint(
                fields=["grouping_key"],
                condition=Q(status__in=[s.value for s in OPEN_INCIDENT_STATUSES]) & ~Q(grouping_key=""),
                name="incident_one_open_per_grouping_key",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "severity", "opened_at"], name="incident_queue"),
            # Not last_alert_at: every joining alert moves it, and an indexed column changing makes
            # each of those updates write a new entry in every index (no HOT update).
            models.Index(fields=["service", "status"], name="incident_service_status"),
            models.Index(fields=["opened_at"], name="incident_opened_at"),
            # The console's queue order over open incidents: its first page is read off this index
            # instead of sorting every open row (10,000 in bench_queue).
            models.Index(fields=["severity", "opened_at", "id"], name="incident_open_queue",
                         condition=Q(status__in=[s.value for s in OPEN_INCIDENT_STATUSES])),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} L{self.severity} {self.title}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_INCIDENT_STATUSES

    @property
    def severity_level(self) -> Severity:
        return Severity(self.severity)

    def transition_block_reason(
        self, target: str, *, now: datetime | None = None, reopen_window: timedelta | None = None
    ) -> str:
        """Why this incident may not move to `target` now; "" when it may."""
        if target == self.status:
            return f"The incident is already {self.get_status_display().lower()}."
        allowed = INCIDENT_TRANSITIONS.get(self.status, frozenset())
        if target not in allowed:
            label = IncidentStatus(target).label.lower() if target in IncidentStatus.values else target
            return f"A {self.get_status_display().lower()} incident cannot become {label}."
        if target == IncidentStatus.TRIGGERED and reopen_window is not None and self.resolved_at:
            now = now or timezone.now()
            if now - self.resolved_at > reopen_window:
                minutes = int(reopen_window.total_seconds() // 60)
                return f"Resolved more than {minutes} minutes ago; open a new incident instead."
        return ""

    def can_transition_to(
        self, target: str, *, now: datetime | None = None, reopen_window: timedelta | None = None
    ) -> bool:
        return not self.transition_block_reason(target, now=now, reopen_window=reopen_window)

    @property
    def time_to_acknowledge(self) -> timedelta | None:
        return self.acknowledged_at - self.opened_at if self.acknowledged_at else None

    @property
    def time_to_resolve(self) -> timedelta | None:
        return self.resolved_at - self.opened_at if self.resolved_at else None
