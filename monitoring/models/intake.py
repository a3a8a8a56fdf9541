"""Alert intake rows: the raw request of an alerting agent, stored before it is answered."""
from __future__ import annotations

from django.db import models
from django.utils import timezone

from monitoring.choices import AlertIntakeKind, AlertIntakeStatus


class AlertIntake(models.Model):
    """One Alertmanager/Grafana notification or PagerDuty event, kept verbatim for the ingest task.

    The body is stored as received (re-parsed by the task with the same parser that validated
    it), so what we acknowledged is exactly what we process, and a bad mapping can be replayed.
    """

    integration = models.ForeignKey("core.Integration", on_delete=models.CASCADE, related_name="alert_intakes")
    kind = models.CharField(max_length=20, choices=AlertIntakeKind.choices)
    body = models.TextField(help_text="Request body as received (UTF-8 JSON).")
    # sha256 of the sender's notification content and a time bucket; see monitoring.intake.base.
    idempotency_key = models.CharField(max_length=64)
    dedup_key = models.CharField(max_length=255, blank=True, help_text="PagerDuty dedup_key answered to the sender.")
    event_count = models.PositiveIntegerField(default=0, help_text="Alerts/events in the request.")
    status = models.CharField(max_length=12, choices=AlertIntakeStatus.choices, default=AlertIntakeStatus.QUEUED)
    received_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # The claim's holder (host:pid:nonce, the nonce fences a claim taken over from a dead worker)
    # and its lease: a PROCESSING row past its lease that no transaction holds lost its worker.
    claimed_by = models.CharField(max_length=200, blank=True, db_default="")
    lease_until = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    # [{"alert_id": .., "incident_id": .., "outcome": ..}] per signal, from the incident core.
    outcomes = models.JSONField(default=list, blank=True)
    # integration id % DRAIN_PARTITIONS: one drain at a time per partition keeps a sender's rows in order.
    partition = models.PositiveSmallIntegerField(default=0, db_default=0)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "idempotency_key"], name="alert_intake_unique_idempotency_key"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "received_at"], name="alert_intake_status_idx"),
            models.Index(fields=["integration", "-received_at"], name="alert_intake_recent_idx"),
            models.Index(fields=["status", "partition", "received_at"], name="alert_intake_partition_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} intake {self.pk} ({self.event_count} events, {self.status})"
