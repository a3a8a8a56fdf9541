"""Serializers of the model-operations API (issue #14): batch jobs, the at-risk list, shadow, weekly report."""
from __future__ import annotations

from rest_framework import serializers

from ..models import BatchScoringJob
from ..pipelines.flights import LOCAL_TZ


class BatchJobSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="model.name")
    version = serializers.IntegerField(source="version.version", allow_null=True, default=None)
    progress = serializers.FloatField()
    result_url = serializers.SerializerMethodField()

    class Meta:
        model = BatchScoringJob
        fields = ["id", "model", "version", "source", "status", "input_name", "as_of", "rows_total", "rows_done",
                  "rows_scored", "bad_rows_count", "bad_rows", "progress", "error", "seconds", "created_at",
                  "started_at", "finished_at", "result_url"]

    def get_result_url(self, obj: BatchScoringJob) -> str | None:
        return f"/api/v1/batch-jobs/{obj.pk}/result" if obj.status == "succeeded" and obj.result_path else None


class BatchJobCreateSerializer(serializers.Serializer):
    file = serializers.FileField(required=False, help_text="CSV or Parquet with the pipeline's input columns.")
    # The metaclass moves declared fields off the class, so this does not shadow Field.source at run time.
    source = serializers.ChoiceField(choices=["file", "open_journeys"], default="file")  # type: ignore[assignment]
    as_of = serializers.DateTimeField(required=False, help_text="open_journeys: when the list is drawn.")


class AtRiskEntrySerializer(serializers.Serializer):
    rank = serializers.IntegerField(source="entry.rank")
    journey_key = serializers.CharField(source="entry.journey_key")
    origin = serializers.CharField(source="entry.origin")
    carrier = serializers.CharField(source="entry.carrier")
    dest = serializers.CharField(source="entry.dest")
    # In the journeys' local time, as the schedule is published (and as the date filter reads it).
    scheduled_departure = serializers.DateTimeField(source="entry.scheduled_departure", default_timezone=LOCAL_TZ)
    stuck_probability = serializers.FloatField(source="entry.stuck_probability")
    forecast_minutes = serializers.FloatField(source="entry.forecast_minutes", allow_null=True)
    forecast_low = serializers.FloatField(source="entry.forecast_low", allow_null=True)
    forecast_high = serializers.FloatField(source="entry.forecast_high", allow_null=True)
    top_features = serializers.JSONField(source="entry.top_features")
    model_version = serializers.IntegerField(source="entry.version.version")
    forecast_version = serializers.IntegerField(source="entry.forecast_version.version", allow_null=True,
                                                default=None)
    scored_at = serializers.DateTimeField(source="entry.scored_at")
    is_new = serializers.BooleanField()
    handled_by = serializers.CharField(source="handled.handled_by.username", allow_null=True, default=None)
    handled_at = serializers.DateTimeField(source="handled.handled_at", allow_null=True, default=None)


class HandledSerializer(serializers.Serializer):
    journey_key = serializers.CharField(max_length=100)
    handled = serializers.BooleanField(default=True)
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class ShadowSetSerializer(serializers.Serializer):
    version = serializers.IntegerField(allow_null=True, min_value=1, help_text="Version number; null stops shadowing.")
