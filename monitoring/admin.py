"""Admin of the monitoring app."""
from __future__ import annotations

from django.contrib import admin, messages
from django.forms.models import BaseInlineFormSet

from core.admin import IntegrationAdmin
from monitoring.models import AlertIntake
from monitoring.services import intake as intake_services

# --- alert intake -------------------------------------------------------------------------------

INTAKE_FIELDS = ["received_at", "kind", "status", "event_count", "dedup_key", "attempts", "processed_at", "error"]


@admin.register(AlertIntake)
class AlertIntakeAdmin(admin.ModelAdmin):
    """Raw agent requests as stored; failed rows can be replayed after fixing their cause."""

    list_display = ["id", "integration", "kind", "status", "event_count", "received_at", "processed_at", "attempts"]
    list_filter = ["kind", "status", "integration"]
    list_select_related = ["integration"]
    date_hierarchy = "received_at"
    search_fields = ["dedup_key", "idempotency_key"]
    readonly_fields = ["integration", "idempotency_key", "claimed_at", "outcomes", "body", *INTAKE_FIELDS]
    fields = tuple(readonly_fields)  # a tuple: the stubs' type of `fields` is covariant only as one
    actions = ["replay"]

    def has_add_permission(self, request) -> bool:
        return False  # rows come from agents only

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Process the selected intake rows again")
    def replay(self, request, queryset):
        count = intake_services.alert_intakes_replay(intake_ids=list(queryset.values_list("pk", flat=True)))
        messages.success(request, f"Queued {count} intake row(s) again.")


class _RecentFormSet(BaseInlineFormSet):
    # An integration receives thousands of requests; the page shows the latest few.
    RECENT = 10

    def get_queryset(self):
        return super().get_queryset().order_by("-received_at", "-id")[: self.RECENT]


class RecentAlertIntakeInline(admin.TabularInline):
    model = AlertIntake
    formset = _RecentFormSet
    verbose_name_plural = "recent alert intake (latest 10; all under Monitoring > Alert intakes)"
    fields = tuple(INTAKE_FIELDS)
    readonly_fields = INTAKE_FIELDS
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True


# The integration page (core) lists its recent alert requests; monitoring depends on core, not back.
IntegrationAdmin.inlines = [*IntegrationAdmin.inlines, RecentAlertIntakeInline]


# --- telemetry ------------------------------------------------------------------------------------
from monitoring.models import Anomaly, MetricSeries, TelemetryBatch  # noqa: E402


@admin.register(MetricSeries)
class MetricSeriesAdmin(admin.ModelAdmin):
    """Series are created by intake; admins tune their detector and threshold, and mark capacity series
    (kind + limit: time-to-exhaustion forecasts) here."""

    list_display = ["id", "service", "metric", "labels", "kind", "unit", "detector", "threshold", "last_scored_ts",
                    "points_scored"]
    list_filter = ["kind", "capacity_kind", "service", "detector"]
    list_select_related = ["service"]
    search_fields = ["metric"]
    fields = ["service", "metric", "labels", "kind", "unit", "detector", "threshold", "capacity_kind",
              "capacity_limit", "state_detector",
              "last_scored_ts", "points_scored", "open_direction", "normal_streak", "created_at"]
    readonly_fields = ["service", "metric", "labels", "state_detector", "last_scored_ts", "points_scored",
                       "open_direction", "normal_streak", "created_at"]

    def has_add_permission(self, request) -> bool:
        return False  # series come from telemetry


@admin.register(Anomaly)
class AnomalyAdmin(admin.ModelAdmin):
    list_display = ["id", "series", "ts", "value", "expected", "score", "direction", "detector", "multivariate",
                    "incident_id"]
    list_filter = ["direction", "detector", "multivariate"]
    list_select_related = ["series", "series__service"]
    date_hierarchy = "ts"
    readonly_fields = [f.name for f in Anomaly._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(TelemetryBatch)
class TelemetryBatchAdmin(admin.ModelAdmin):
    list_display = ["id", "integration", "source", "status", "point_count", "series_count", "stored_count",
                    "received_at", "processed_at", "attempts"]
    list_filter = ["source", "status"]
    list_select_related = ["integration"]
    date_hierarchy = "received_at"
    exclude = ["data"]  # packed binary columns; series_keys shows what the batch touched
    readonly_fields = ["integration", "source", "idempotency_key", "body_sha256", "status", "point_count",
                       "series_count", "stored_count", "series_keys", "received_at", "claimed_at",
                       "processed_at", "attempts", "error"]

    def has_add_permission(self, request) -> bool:
        return False
