"""Monitor runs and their results: drift, performance, bias and operational health per version and period."""
from __future__ import annotations

from django.db import models
from django.utils import timezone

from ..choices import MonitorKind, MonitorRunState, MonitorStatus, MonitorTrigger


class MonitorRun(models.Model):
    """One pass of every monitor over a model version's predictions in [period_start, period_end)."""

    model = models.ForeignKey("models_registry.RegisteredModel", on_delete=models.CASCADE, related_name="monitor_runs")
    version = models.ForeignKey("models_registry.ModelVersion", on_delete=models.CASCADE, related_name="monitor_runs")
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    trigger = models.CharField(max_length=20, choices=MonitorTrigger.choices, default=MonitorTrigger.SCHEDULE)
    state = models.CharField(max_length=20, choices=MonitorRunState.choices, default=MonitorRunState.QUEUED)
    # Worst status over the run's results (ok < warning < breach); no_data until it has run.
    status = models.CharField(max_length=20, choices=MonitorStatus.choices, default=MonitorStatus.NO_DATA)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-period_end", "-id"]
        indexes = [models.Index(fields=["model", "period_end"], name="monitorrun_model_period")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(period_end__gt=models.F("period_start")), name="monitorrun_period"
            )
        ]

    def __str__(self) -> str:
        return f"{self.version} monitors {self.period_start:%Y-%m-%d}..{self.period_end:%Y-%m-%d} ({self.status})"


class MonitorResult(models.Model):
    """One monitor's verdict; `metrics` are the headline figures, `details` per feature / segment."""

    run = models.ForeignKey(MonitorRun, on_delete=models.CASCADE, related_name="results")
    # Denormalised from the run so charts and the API filter without a join.
    model = models.ForeignKey(
        "models_registry.RegisteredModel", on_delete=models.CASCADE, related_name="monitor_results"
    )
    version = models.ForeignKey(
        "models_registry.ModelVersion", on_delete=models.CASCADE, related_name="monitor_results"
    )
    kind = models.CharField(max_length=30, choices=MonitorKind.choices)
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    status = models.CharField(max_length=20, choices=MonitorStatus.choices)
    sample_size = models.PositiveIntegerField(default=0, help_text="Rows the monitor looked at.")
    metrics = models.JSONField(default=dict)
    details = models.JSONField(default=dict, blank=True)
    reasons = models.JSONField(default=list, blank=True, help_text="Why the status is what it is, one line each.")
    # What the incident core did with the breach signal (or the recovery), if one was sent.
    signal_outcome = models.CharField(max_length=20, blank=True)
    # Plain ids, not foreign keys: incidents are archived on their own schedule and a monitor's
    # history must survive that (and this table must not depend on the incident core's migrations).
    alert_id = models.BigIntegerField(null=True, blank=True)
    incident_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-period_end", "kind", "-id"]
        indexes = [
            models.Index(fields=["model", "kind", "period_end"], name="monitorresult_model_kind"),
            models.Index(fields=["version", "kind", "period_end"], name="monitorresult_version_kind"),
        ]
        constraints = [models.UniqueConstraint(fields=["run", "kind"], name="monitorresult_one_per_kind")]

    def __str__(self) -> str:
        return f"{self.version} {self.kind} {self.status}"


class ServingErrorCount(models.Model):
    """Prediction requests refused or failed, per model, day and error code: the operational error rate."""

    model = models.ForeignKey(
        "models_registry.RegisteredModel", on_delete=models.CASCADE, related_name="serving_errors"
    )
    day = models.DateField()
    code = models.CharField(max_length=50)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-day", "code"]
        constraints = [models.UniqueConstraint(fields=["model", "day", "code"], name="servingerror_one_per_day")]

    def __str__(self) -> str:
        return f"{self.model_id} {self.day} {self.code}: {self.count}"
