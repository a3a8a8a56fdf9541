"""Serializers of the models_registry API."""
from __future__ import annotations

from rest_framework import serializers

from ..models import GateDecision, ModelVersion, RegisteredModel, TrainingRun
from ..pipelines import get_pipeline


class VersionBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = ModelVersion
        fields = ["version", "status", "alias", "metrics", "created_at", "promoted_at"]


class RegisteredModelSerializer(serializers.ModelSerializer):
    team = serializers.CharField(source="team.name")
    service = serializers.CharField(source="service.name", allow_null=True, default=None)
    champion = serializers.SerializerMethodField()
    challenger = serializers.SerializerMethodField()
    inputs = serializers.SerializerMethodField(help_text="Fields each record sent to /predict must carry.")

    class Meta:
        model = RegisteredModel
        fields = ["name", "purpose", "team", "service", "business_kpi", "task", "pipeline", "champion", "challenger",
                  "inputs", "created_at"]

    def _alias(self, obj: RegisteredModel, alias: str):
        version = next((v for v in obj.versions.all() if v.alias == alias), None)
        return VersionBriefSerializer(version).data if version else None

    def get_champion(self, obj: RegisteredModel) -> dict | None:
        return self._alias(obj, "champion")

    def get_challenger(self, obj: RegisteredModel) -> dict | None:
        return self._alias(obj, "challenger")

    def get_inputs(self, obj: RegisteredModel) -> list[dict]:
        pipeline = get_pipeline(obj.pipeline)
        return [{"name": f.name, "kind": f.kind, "nullable": f.nullable, "help": f.help} for f in pipeline.inputs]


class ModelVersionSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="model.name")
    training_run: serializers.PrimaryKeyRelatedField = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = ModelVersion
        fields = ["model", "version", "status", "alias", "training_run", "data_fingerprint", "train_start", "train_end",
                  "holdout_start", "holdout_end", "train_rows", "holdout_rows", "features", "params", "code_version",
                  "metrics", "artifact_path", "artifact_sha256", "created_at", "promoted_at"]


class TrainingRunSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="model.name")
    requested_by = serializers.CharField(source="requested_by.username", allow_null=True, default=None)
    version = serializers.SerializerMethodField()

    class Meta:
        model = TrainingRun
        fields = ["id", "model", "status", "trigger", "as_of", "params", "requested_by", "time_limit_seconds",
                  "logs", "error", "created_at", "started_at", "finished_at", "version"]

    def get_version(self, obj: TrainingRun) -> int | None:
        version = getattr(obj, "version", None)
        return version.version if version else None


class TrainingRunCreateSerializer(serializers.Serializer):
    as_of = serializers.DateTimeField(
        required=False, help_text="Train on data before this instant (default: now / end of data)."
    )
    params = serializers.DictField(
        required=False, default=dict, help_text="Overrides: estimator parameters, train_window_days, holdout_days."
    )

    def validate_params(self, value: dict) -> dict:
        for key in ("train_window_days", "holdout_days"):
            if key in value and (not isinstance(value[key], int) or isinstance(value[key], bool) or value[key] < 1):
                raise serializers.ValidationError(f"{key} must be a positive integer")
        return value


class GateDecisionSerializer(serializers.ModelSerializer):
    challenger = serializers.IntegerField(source="challenger.version")
    champion = serializers.IntegerField(source="champion.version", allow_null=True, default=None)

    class Meta:
        model = GateDecision
        fields = ["id", "decision", "challenger", "champion", "training_run", "reasons", "metrics", "decided_by",
                  "created_at"]


class RollbackSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class PredictRequestSerializer(serializers.Serializer):
    records = serializers.ListField(child=serializers.DictField(), help_text="Raw records; see the model's `inputs`.")


class PredictResponseSerializer(serializers.Serializer):
    model = serializers.CharField()
    version = serializers.IntegerField()
    latency_ms = serializers.FloatField()
    predictions = serializers.ListField(child=serializers.DictField())


class ActualsRequestSerializer(serializers.Serializer):
    actuals = serializers.ListField(child=serializers.DictField(), help_text='[{"request_id": "...", "actual": 12.0}]')
