"""Admin of the models_registry app: admins edit models; versions, runs and decisions are records, not forms."""
from __future__ import annotations

from django.contrib import admin

from .models import GateDecision, ModelVersion, PredictionLog, RegisteredModel, TrainingRun


class ReadOnlyAdmin(admin.ModelAdmin):
    """History is written by the training pipeline and the gate; editing it by hand would falsify lineage."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(RegisteredModel)
class RegisteredModelAdmin(admin.ModelAdmin):
    list_display = ["name", "task", "pipeline", "team", "service", "business_kpi"]
    list_filter = ["task", "team"]
    search_fields = ["name", "purpose", "business_kpi"]


@admin.register(ModelVersion)
class ModelVersionAdmin(ReadOnlyAdmin):
    list_display = ["model", "version", "status", "alias", "code_version", "created_at", "promoted_at"]
    list_filter = ["model", "status", "alias"]


@admin.register(TrainingRun)
class TrainingRunAdmin(ReadOnlyAdmin):
    list_display = ["id", "model", "status", "trigger", "as_of", "created_at", "started_at", "finished_at"]
    list_filter = ["model", "status", "trigger"]


@admin.register(GateDecision)
class GateDecisionAdmin(ReadOnlyAdmin):
    list_display = ["model", "decision", "challenger", "champion", "decided_by", "created_at"]
    list_filter = ["model", "decision"]


@admin.register(PredictionLog)
class PredictionLogAdmin(ReadOnlyAdmin):
    list_display = ["request_id", "model", "version", "prediction", "actual", "latency_ms", "created_at"]
    list_filter = ["model"]
    search_fields = ["request_id"]
    list_select_related = ["model", "version"]
