"""Admin of the models_registry app: admins edit models; versions, runs and decisions are records, not forms."""
from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin

from .choices import CostSource
from .models import (
    CostEntry,
    CostImport,
    GateDecision,
    ModelEconomics,
    ModelVersion,
    PredictionLog,
    RegisteredModel,
    ServiceBudget,
    TrainingRun,
)


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


# --- cost ledger (issue 11) ---------------------------------------------------------------------


class CostEntryForm(forms.ModelForm):
    class Meta:
        model = CostEntry
        fields = ["model", "service", "category", "period_start", "period_end", "amount", "billed_amount",
                  "currency", "source", "provider_service", "resource_id", "description"]

    def clean(self):
        data = super().clean()
        if bool(data.get("model")) == bool(data.get("service")):
            raise forms.ValidationError("A cost belongs to exactly one model or one service.")
        if (data.get("currency") or "").upper() != settings.COST_CURRENCY:
            self.add_error("currency", f"Costs are kept in {settings.COST_CURRENCY}.")
        start, end = data.get("period_start"), data.get("period_end")
        if start and end and end <= start:
            self.add_error("period_end", "period_end must be after period_start.")
        return data


@admin.register(CostEntry)
class CostEntryAdmin(admin.ModelAdmin):
    """Entries typed here are checked like the API's: one owner, a known category, the configured currency."""

    list_display = ["period_start", "period_end", "model", "service", "category", "amount", "currency", "source"]
    list_filter = ["category", "source", "model", "service"]
    search_fields = ["resource_id", "provider_service", "description"]
    list_select_related = ["model", "service"]
    readonly_fields = ["cost_import", "created_at"]
    form = CostEntryForm

    def get_changeform_initial_data(self, request):
        return {"currency": settings.COST_CURRENCY, "source": CostSource.ADMIN}

    def save_model(self, request, obj, form, change) -> None:
        if not change:
            obj.source = CostSource.ADMIN
        super().save_model(request, obj, form, change)


@admin.register(CostImport)
class CostImportAdmin(ReadOnlyAdmin):
    list_display = ["filename", "rows", "entries", "skipped", "total", "currency", "imported_by", "created_at"]


@admin.register(ModelEconomics)
class ModelEconomicsAdmin(admin.ModelAdmin):
    list_display = ["model", "roi_target", "monthly_budget", "value_accurate", "cost_optimistic", "cost_conservative"]


@admin.register(ServiceBudget)
class ServiceBudgetAdmin(admin.ModelAdmin):
    list_display = ["service", "monthly_budget"]
