"""Registered models, their versions with lineage, training runs, gate decisions and prediction logs."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from ..choices import (
    GateOutcome,
    ModelTask,
    TrainingRunStatus,
    TrainingTrigger,
    VersionAlias,
    VersionStatus,
)


class RegisteredModel(models.Model):
    """A forecasting model the business runs; `pipeline` names its feature pipeline (pipelines registry)."""

    name = models.SlugField(max_length=100, unique=True)
    purpose = models.TextField(blank=True)
    team = models.ForeignKey("core.Team", on_delete=models.PROTECT, related_name="registered_models")
    service = models.ForeignKey(
        "core.Service", on_delete=models.SET_NULL, null=True, blank=True, related_name="registered_models",
        help_text="Service that serves this model; signals about the model are raised against it.",
    )
    business_kpi = models.CharField(max_length=200, blank=True, help_text="Business KPI the model serves.")
    task = models.CharField(max_length=20, choices=ModelTask.choices)
    pipeline = models.CharField(max_length=100, help_text="Name of the feature pipeline (models_registry.pipelines).")
    shadow = models.ForeignKey(
        "models_registry.ModelVersion", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        help_text="A version scoring live requests in shadow (logged apart, never returned).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TrainingRun(models.Model):
    """One training attempt: queued → running → succeeded / failed, executed on the `training` queue."""

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="training_runs")
    status = models.CharField(max_length=20, choices=TrainingRunStatus.choices, default=TrainingRunStatus.QUEUED)
    trigger = models.CharField(max_length=20, choices=TrainingTrigger.choices, default=TrainingTrigger.MANUAL)
    as_of = models.DateTimeField(help_text="Train only on data available before this instant.")
    params = models.JSONField(default=dict, blank=True, help_text="Overrides of the pipeline's default parameters.")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    time_limit_seconds = models.PositiveIntegerField(help_text="The reaper fails the run once running past this.")
    logs = models.TextField(blank=True)
    error = models.TextField(blank=True)
    # What re-running needs and what it must reproduce: code version, data fingerprint, parameters,
    # seeds, library versions and the holdout metrics (`retrain --reproduce RUN_ID`).
    environment = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "started_at"], name="trainingrun_status_started")]

    def __str__(self) -> str:
        return f"{self.model.name} run {self.pk} ({self.status})"

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class ModelVersion(models.Model):
    """A trained artifact with its lineage, validation metrics and alias (champion / challenger)."""

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    status = models.CharField(max_length=20, choices=VersionStatus.choices, default=VersionStatus.CANDIDATE)
    alias = models.CharField(max_length=20, choices=VersionAlias.choices, default=VersionAlias.NONE, blank=True)
    training_run = models.OneToOneField(
        TrainingRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="version"
    )
    # Lineage: what data, which features, which parameters, which code.
    data_fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the training and holdout rows.")
    train_start = models.DateTimeField()
    train_end = models.DateTimeField()
    holdout_start = models.DateTimeField()
    holdout_end = models.DateTimeField()
    train_rows = models.PositiveIntegerField(default=0)
    holdout_rows = models.PositiveIntegerField(default=0)
    features = models.JSONField(default=list)
    params = models.JSONField(default=dict)
    code_version = models.CharField(max_length=100)
    metrics = models.JSONField(default=dict, help_text="Validation metrics on the holdout, incl. business metrics.")
    artifact_path = models.CharField(max_length=500, help_text="Relative to ARTIFACT_DIR.")
    artifact_sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    promoted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["model", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["model", "version"], name="modelversion_unique_number"),
            models.UniqueConstraint(
                fields=["model"], condition=Q(alias=VersionAlias.CHAMPION), name="modelversion_one_champion"
            ),
            models.UniqueConstraint(
                fields=["model"], condition=Q(alias=VersionAlias.CHALLENGER), name="modelversion_one_challenger"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model.name} v{self.version}"

    @property
    def is_champion(self) -> bool:
        return self.alias == VersionAlias.CHAMPION


class GateDecision(models.Model):
    """Promotion history: a challenger judged against the champion (or a rollback), with reasons."""

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="gate_decisions")
    challenger = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="gate_decisions")
    champion = models.ForeignKey(
        ModelVersion, on_delete=models.SET_NULL, null=True, blank=True, related_name="defended_decisions",
        help_text="Champion at decision time (none for a first version).",
    )
    training_run = models.ForeignKey(
        TrainingRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="gate_decisions"
    )
    decision = models.CharField(max_length=20, choices=GateOutcome.choices)
    reasons = models.JSONField(default=list)
    # {"challenger": {...}, "champion": {...} | None, "holdout": {...}, "thresholds": {...}}
    metrics = models.JSONField(default=dict)
    decided_by = models.CharField(max_length=150, blank=True, help_text="Person or process that caused it.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.model.name}: {self.decision} v{self.challenger.version}"


class PredictionLog(models.Model):
    """One served prediction; `actual` arrives later by request id. Monitors read it by version and period."""

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="predictions")
    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="predictions")
    request_id = models.CharField(max_length=64, unique=True)
    features = models.JSONField(help_text="The record as received (raw inputs of the pipeline).")
    prediction = models.FloatField(help_text="Regression value, or the positive-class score.")
    latency_ms = models.FloatField(help_text="Time to score the batch this record came in.")
    created_at = models.DateTimeField(default=timezone.now)
    actual = models.FloatField(null=True, blank=True)
    actual_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["version", "created_at"], name="predlog_version_created"),
            # Covers the ROI report's monthly aggregates (an index-only range scan, no row reads of the
            # wide `features` JSON); its (model, created_at) prefix serves the monitors' period reads.
            models.Index(fields=["model", "created_at", "prediction", "actual"], name="predlog_model_created_values"),
        ]

    def __str__(self) -> str:
        return f"{self.request_id} → {self.prediction:.3f}"
