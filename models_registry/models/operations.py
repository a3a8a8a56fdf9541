"""Model operations (issue #14): batch scoring jobs, the daily at-risk list, shadow predictions, weekly reports."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from ..choices import BatchJobSource, BatchJobStatus


class BatchScoringJob(models.Model):
    """Scoring a file or the open journeys with the champion: queued → running → succeeded / failed.

    The result set is a Parquet file under ARTIFACT_DIR written to a temporary name and renamed
    only when every chunk is scored; `result_path` is set in the same update that marks the job
    succeeded, so a half-written result is never reachable. A failed job keeps `rows_done` and `error`.
    """

    model = models.ForeignKey("models_registry.RegisteredModel", on_delete=models.CASCADE, related_name="batch_jobs")
    version = models.ForeignKey(
        "models_registry.ModelVersion", on_delete=models.SET_NULL, null=True, blank=True, related_name="batch_jobs",
        help_text="The champion that scored the job (fixed when it starts).",
    )
    source = models.CharField(max_length=20, choices=BatchJobSource.choices)
    status = models.CharField(max_length=20, choices=BatchJobStatus.choices, default=BatchJobStatus.QUEUED)
    input_path = models.CharField(max_length=500, blank=True, help_text="Uploaded file, relative to ARTIFACT_DIR.")
    input_format = models.CharField(max_length=10, blank=True)
    input_name = models.CharField(max_length=255, blank=True)
    as_of = models.DateTimeField(null=True, blank=True, help_text="Open journeys: the moment the list is drawn.")
    rows_total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0, help_text="Rows read and checked so far (progress).")
    rows_scored = models.PositiveIntegerField(default=0)
    bad_rows = models.JSONField(default=list, blank=True, help_text="[{row, field, error}] (1-based data rows).")
    bad_rows_count = models.PositiveIntegerField(default=0)
    result_path = models.CharField(max_length=500, blank=True)
    error = models.TextField(blank=True)
    seconds = models.FloatField(null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["model", "source", "status"], name="batchjob_model_source")]

    def __str__(self) -> str:
        return f"batch job {self.pk} {self.model_id} ({self.status})"

    @property
    def progress(self) -> float:
        return self.rows_done / self.rows_total if self.rows_total else 0.0


class AtRiskEntry(models.Model):
    """One open journey in one daily at-risk list (a succeeded open-journeys job), ranked by stuck probability."""

    job = models.ForeignKey(BatchScoringJob, on_delete=models.CASCADE, related_name="at_risk")
    version = models.ForeignKey("models_registry.ModelVersion", on_delete=models.CASCADE, related_name="+")
    forecast_version = models.ForeignKey(
        "models_registry.ModelVersion", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    journey_key = models.CharField(max_length=100)
    rank = models.PositiveIntegerField()
    origin = models.CharField(max_length=10)
    carrier = models.CharField(max_length=10)
    dest = models.CharField(max_length=10)
    scheduled_departure = models.DateTimeField()
    stuck_probability = models.FloatField()
    forecast_minutes = models.FloatField(null=True, blank=True, help_text="Forecast arrival delay (median).")
    forecast_low = models.FloatField(null=True, blank=True)
    forecast_high = models.FloatField(null=True, blank=True)
    top_features = models.JSONField(default=list, blank=True, help_text="[{feature, value, effect}] largest first.")
    scored_at = models.DateTimeField()
    actual = models.FloatField(null=True, blank=True, help_text="1 stuck / 0 not, once known.")
    actual_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["job", "rank"]
        constraints = [models.UniqueConstraint(fields=["job", "journey_key"], name="atrisk_one_per_list")]
        indexes = [models.Index(fields=["journey_key"], name="atrisk_journey")]

    def __str__(self) -> str:
        return f"{self.journey_key} #{self.rank} {self.stuck_probability:.2f}"


class JourneyHandled(models.Model):
    """A journey an operator has handled: carried over to every later list that still holds it."""

    journey_key = models.CharField(max_length=100, unique=True)
    handled_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    handled_at = models.DateTimeField(default=timezone.now)
    note = models.CharField(max_length=500, blank=True)

    def __str__(self) -> str:
        return f"{self.journey_key} handled"


class ShadowPredictionLog(models.Model):
    """A shadow version's prediction for a live request (never returned); compared with the champion by request id."""

    model = models.ForeignKey("models_registry.RegisteredModel", on_delete=models.CASCADE, related_name="+")
    version = models.ForeignKey("models_registry.ModelVersion", on_delete=models.CASCADE, related_name="shadow_logs")
    request_id = models.CharField(max_length=64)
    prediction = models.FloatField()
    latency_ms = models.FloatField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["version", "request_id"], name="shadowlog_one_per_request")
        ]
        indexes = [models.Index(fields=["model", "created_at"], name="shadowlog_model_created")]

    def __str__(self) -> str:
        return f"shadow {self.request_id} → {self.prediction:.3f}"


class WeeklyReportSubscription(models.Model):
    """People who receive the weekly model report by e-mail (and their other chosen channels)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"weekly report → {self.user_id}"
