"""Admin for teams, services and integrations (a new integration's token is shown once)."""
from __future__ import annotations

from django.contrib import admin, messages

from .audit import AuditedAdmin
from .models import Integration, Service, Team
from .permissions import integration_scope_forget
from .services import integration_create, integration_revoke


@admin.register(Team)
class TeamAdmin(AuditedAdmin):
    list_display = ["name", "email", "time_zone"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["members"]
    search_fields = ["name"]


@admin.register(Service)
class ServiceAdmin(AuditedAdmin):
    list_display = ["name", "team", "tier", "downtime_cost_per_minute", "owner_email"]
    list_filter = ["tier", "team"]
    search_fields = ["name"]
    filter_horizontal = ["depends_on"]


@admin.register(Integration)
class IntegrationAdmin(AuditedAdmin):
    list_display = ["name", "kind", "service", "token_prefix", "is_active", "last_received_at", "received_count"]
    list_filter = ["kind", "revoked_at"]
    search_fields = ["name"]
    readonly_fields = ["token_prefix", "created_at", "created_by", "revoked_at", "last_received_at", "received_count"]
    fields = ["name", "kind", "service", "extra_services", "secret", "rate_limit_per_minute", *readonly_fields]
    filter_horizontal = ["extra_services"]
    actions = ["revoke"]

    @admin.display(boolean=True)
    def is_active(self, obj: Integration) -> bool:
        return obj.is_active

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        created, token = integration_create(
            kind=obj.kind, name=obj.name, service=obj.service, created_by=request.user, secret=obj.secret
        )
        if obj.rate_limit_per_minute:
            created.rate_limit_per_minute = obj.rate_limit_per_minute
            created.save(update_fields=["rate_limit_per_minute"])
        obj.pk = created.pk
        obj.refresh_from_db()
        messages.warning(request, f"Token for {created.name} (shown only once): {token}")

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # This process files by the new services at once; the others within a few seconds.
        integration_scope_forget(integration=form.instance)

    @admin.action(description="Revoke selected integrations")
    def revoke(self, request, queryset):
        for integration in queryset:
            integration_revoke(integration=integration)
        messages.success(request, f"Revoked {queryset.count()} integration(s).")
