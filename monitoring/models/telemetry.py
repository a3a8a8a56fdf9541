"""Telemetry batches: the durable intake row (outbox) a batch is stored in before it is answered."""
from __future__ import annotations

from django.db import models
from django.db.models import Q

from monitoring.choices import BatchSource, BatchStatus


class TelemetryBatch(models.Model):
    """A validated, normalised batch of points waiting for (or done with) the ingest task."""

    integration = models.ForeignKey(
        "core.Integration", on_delete=models.SET_NULL, null=True, blank=True, related_name="telemetry_batches"
    )
    source = models.CharField(max_length=10, choices=BatchSource.choices, default=BatchSource.NATIVE)
    idempotency_key = models.CharField(max_length=200, blank=True)
    body_sha256 = models.CharField(max_length=64, blank=True, help_text="Detects a reused Idempotency-Key.")
    status = models.CharField(max_length=12, choices=BatchStatus.choices, default=BatchStatus.QUEUED)
    point_count = models.PositiveIntegerField(default=0)
    series_count = models.PositiveIntegerField(default=0)
    stored_count = models.PositiveIntegerField(default=0, help_text="New points; duplicates are not counted.")
    # Normalised payload: `series_keys` lists [service_id, metric, labels, kind, unit] once per
    # distinct series; `data` packs the points column-wise (see services.telemetry.pack_points),
    # a tenth of the size of the JSON and decoded without a per-point loop.
    series_keys = models.JSONField(default=list, blank=True)
    data = models.BinaryField(blank=True, default=b"")
    received_at = models.DateTimeField(auto_now_add=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    # integration id % DRAIN_PARTITIONS: one drain at a time per partition writes a sender's batches in order.
    partition = models.PositiveSmallIntegerField(default=0, db_default=0)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name_plural = "telemetry batches"
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="telemetry_batch_unique_idempotency_key",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "received_at"], name="telemetry_batch_status_idx"),
            models.Index(fields=["status", "partition", "id"], name="telemetry_batch_partition_idx"),
        ]

    def __str__(self) -> str:
        return f"batch {self.pk} ({self.point_count} points, {self.status})"
