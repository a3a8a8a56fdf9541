"""Metric series, their raw points, hourly rollups and the anomalies detection found in them."""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models

from monitoring.choices import CapacityKind, Direction, SeriesKind
from monitoring.detection.registry import detector_names


class MetricSeries(models.Model):
    """One metric of one service with one label set; carries its detector's state."""

    service = models.ForeignKey("core.Service", on_delete=models.CASCADE, related_name="metric_series")
    metric = models.CharField(max_length=200)
    labels = models.JSONField(default=dict, blank=True)
    # sha256 of the canonical (sorted-key) JSON of `labels`: JSON is not indexable portably,
    # so uniqueness of (service, metric, labels) is enforced through this column.
    labels_hash = models.CharField(max_length=64, editable=False)
    kind = models.CharField(max_length=10, choices=SeriesKind.choices, default=SeriesKind.SYSTEM)
    unit = models.CharField(max_length=32, blank=True)
    detector = models.CharField(max_length=64, blank=True, help_text="Empty uses the default detector.")
    threshold = models.FloatField(
        null=True, blank=True,
        help_text="Score in [0, 1] above which a point is an anomaly; empty uses the detector's default.",
    )
    # Detector state as of `state_ts` (the event time of the last point it has seen, epoch seconds;
    # empty: no point yet). Written when a detect drain hands the series over, and at least every
    # DETECT_STATE_PERSIST_SECONDS; a worker that finds it behind `last_scored_ts` replays the
    # points in between (scoring is deterministic), so nothing is scored from a wrong state.
    detector_state = models.BinaryField(null=True, blank=True, editable=False)
    state_detector = models.CharField(
        max_length=64, blank=True, editable=False, help_text="Detector that wrote detector_state."
    )
    state_ts = models.FloatField(null=True, blank=True, editable=False)
    state_scored = models.PositiveBigIntegerField(default=0, editable=False)  # points_scored at state_ts
    last_scored_ts = models.DateTimeField(null=True, blank=True, editable=False)
    # Random, new at every detection run: a worker's in-memory state is used only while this matches.
    scored_token = models.BigIntegerField(default=0, editable=False)
    # Points that went through the detector; stored minus scored = points that arrived later than
    # the allowed lateness (stored, never scored). bench_ingest reports it.
    points_scored = models.PositiveBigIntegerField(default=0, editable=False)
    # Two older states, to rescore from when points arrive late (behind last_scored_ts): A lies at
    # least TELEMETRY_ALLOWED_LATENESS_SECONDS behind the watermark, B is the next candidate for A.
    # `*_ts` is the event time the state covers (0: before the first point; NULL: no checkpoint).
    ckpt_a_state = models.BinaryField(null=True, blank=True, editable=False)
    ckpt_a_ts = models.FloatField(null=True, blank=True, editable=False)
    ckpt_a_scored = models.PositiveBigIntegerField(default=0, editable=False)
    ckpt_b_state = models.BinaryField(null=True, blank=True, editable=False)
    ckpt_b_ts = models.FloatField(null=True, blank=True, editable=False)
    ckpt_b_scored = models.PositiveBigIntegerField(default=0, editable=False)
    # Open anomaly episode ("up"/"down"/"") and the run of normal points since, so one
    # episode raises one firing signal and one resolution.
    open_direction = models.CharField(max_length=4, choices=Direction.choices, blank=True, editable=False)
    normal_streak = models.PositiveIntegerField(default=0, editable=False)
    # OTLP cumulative sums arrive as running totals; the previous total turns them into rates.
    counter_value = models.FloatField(null=True, blank=True, editable=False)
    counter_ts = models.DateTimeField(null=True, blank=True, editable=False)
    counter_start_ts = models.DateTimeField(null=True, blank=True, editable=False)
    # Capacity (issue 13): a series with a kind and a limit gets a time-to-exhaustion forecast.
    capacity_kind = models.CharField(max_length=20, choices=CapacityKind.choices, blank=True)
    capacity_limit = models.FloatField(
        null=True, blank=True, help_text="The value at which the resource is exhausted (same unit as the series).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["service__name", "metric", "id"]
        verbose_name_plural = "metric series"
        constraints = [
            models.UniqueConstraint(fields=["service", "metric", "labels_hash"], name="series_unique_identity"),
        ]

    def __str__(self) -> str:
        labels = ",".join(f"{k}={v}" for k, v in sorted(self.labels.items()))
        return f"{self.service_id}:{self.metric}{{{labels}}}"

    def clean(self) -> None:
        if self.detector and self.detector not in detector_names():
            raise ValidationError({"detector": f"Unknown detector; one of {', '.join(detector_names())}."})
        if self.threshold is not None and not 0.0 < self.threshold <= 1.0:
            raise ValidationError({"threshold": "A score threshold lies in (0, 1]."})
        if bool(self.capacity_kind) != (self.capacity_limit is not None):
            raise ValidationError({"capacity_limit": "A capacity series needs both a kind and a limit."})


class DetectQueue(models.Model):
    """Points of a series stored and not scored yet: one row per series per ingest step, deleted by
    the detect drain in the transaction that scores them (so a failed run leaves them queued).
    `first_ts`/`last_ts` bound the new points' event times (epoch seconds): a `first_ts` behind
    the series' watermark means late points, rescored from a checkpoint. NULL: unknown (score all)."""

    series = models.ForeignKey(MetricSeries, on_delete=models.CASCADE, related_name="+", db_index=False)
    first_ts = models.FloatField(null=True)
    last_ts = models.FloatField(null=True)
    points = models.PositiveIntegerField(default=0)
    # service id % DRAIN_PARTITIONS: a service's series are scored by one drain at a time, together
    # (the multivariate score groups a service's series scored in one step).
    partition = models.PositiveSmallIntegerField(default=0, db_default=0)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["partition", "id"], name="detect_queue_partition_idx")]

    def __str__(self) -> str:
        return f"series {self.series_id}: {self.points} points queued"


class Point(models.Model):
    """A raw sample. The composite key (series, ts) is the only index: it serves "last N points
    of a series" and time ranges, and makes a duplicate (same series and ts) a no-op."""

    pk = models.CompositePrimaryKey("series", "ts")
    series = models.ForeignKey(MetricSeries, on_delete=models.CASCADE, related_name="points", db_index=False)
    ts = models.DateTimeField()
    value = models.FloatField()

    class Meta:
        ordering = ["series", "ts"]

    def __str__(self) -> str:
        return f"{self.series_id}@{self.ts:%Y-%m-%d %H:%M:%S}={self.value}"


class PointRollup(models.Model):
    """Hourly summary of a series, kept after raw points pass the retention age."""

    pk = models.CompositePrimaryKey("series", "hour")
    series = models.ForeignKey(MetricSeries, on_delete=models.CASCADE, related_name="rollups", db_index=False)
    hour = models.DateTimeField()
    min = models.FloatField()
    max = models.FloatField()
    mean = models.FloatField()
    count = models.PositiveIntegerField()

    class Meta:
        ordering = ["series", "hour"]

    def __str__(self) -> str:
        return f"{self.series_id}@{self.hour:%Y-%m-%d %H}:00 ({self.count} points)"


class Anomaly(models.Model):
    """A point whose score passed its series' threshold."""

    series = models.ForeignKey(MetricSeries, on_delete=models.CASCADE, related_name="anomalies")
    ts = models.DateTimeField()
    value = models.FloatField()
    score = models.FloatField()
    expected = models.FloatField()
    lower = models.FloatField()
    upper = models.FloatField()
    direction = models.CharField(max_length=4, choices=Direction.choices)
    detector = models.CharField(max_length=64)
    reasons = models.JSONField(default=list, blank=True)
    multivariate = models.BooleanField(
        default=False, help_text="Part of an anomaly across several series of the service."
    )
    # Ids in the incidents app, kept as plain integers: monitoring only links to them.
    alert_id = models.BigIntegerField(null=True, blank=True)
    incident_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-ts", "-id"]
        verbose_name_plural = "anomalies"
        constraints = [models.UniqueConstraint(fields=["series", "ts"], name="anomaly_unique_point")]
        indexes = [models.Index(fields=["-ts"], name="anomaly_ts_idx")]

    def __str__(self) -> str:
        return f"{self.series} {self.direction} at {self.ts:%Y-%m-%d %H:%M:%S} (score {self.score:.2f})"


class CapacityForecast(models.Model):
    """The latest time-to-exhaustion forecast of a capacity series, and whether its signal is open."""

    series = models.OneToOneField(MetricSeries, on_delete=models.CASCADE, related_name="capacity_forecast")
    computed_at = models.DateTimeField()
    limit = models.FloatField()
    level = models.FloatField(help_text="Fitted value at computation time.")
    slope_per_hour = models.FloatField()
    expected_at = models.DateTimeField(null=True, blank=True, help_text="When the trend reaches the limit.")
    earliest_at = models.DateTimeField(null=True, blank=True, help_text="When the interval's upper bound does.")
    latest_at = models.DateTimeField(null=True, blank=True, help_text="When the interval's lower bound does.")
    horizon_hours = models.FloatField()
    projection = models.JSONField(default=dict, blank=True, help_text="{hours, mean, upper} from computed_at.")
    signal_open = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"capacity forecast of series {self.series_id}"
