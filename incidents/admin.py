"""Admin of the incidents app."""
from __future__ import annotations

from django import forms
from django.contrib import admin, messages

from incidents.choices import ChannelKind, StepKind
from incidents.models import (
    ChannelEndpoint,
    Delivery,
    Escalation,
    EscalationStep,
    NotificationPolicy,
    NotificationPreference,
    Playbook,
    PlaybookRun,
    PlaybookStep,
    PlaybookStepRun,
    UserNotification,
)
from incidents.playbooks.actions import action_names
from incidents.services import notifications as notification_services

# --- Response: playbooks, notification policies, channels, deliveries (notify-eng) -------------------


class PlaybookStepForm(forms.ModelForm):
    class Meta:
        model = PlaybookStep
        fields = "__all__"

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if kind == StepKind.ACTION and not data.get("action_name"):
            self.add_error("action_name", f"Name a registered action: {', '.join(action_names()) or 'none registered'}.")
        if kind == StepKind.WEBHOOK and not data.get("webhook_url"):
            self.add_error("webhook_url", "A webhook step needs a URL.")
        if kind == StepKind.CHECKLIST and data.get("auto_run"):
            self.add_error("auto_run", "Checklist items are ticked by people, not run.")
        return data


class PlaybookStepInline(admin.TabularInline):
    model = PlaybookStep
    form = PlaybookStepForm
    extra = 1
    ordering = ["position", "id"]
    fields = ["position", "phase", "title", "kind", "owner_role", "expected_minutes", "action_name", "params",
              "webhook_url", "webhook_secret", "auto_run", "description"]


@admin.register(Playbook)
class PlaybookAdmin(admin.ModelAdmin):
    list_display = ["name", "enabled", "priority", "severities", "source_kinds", "keywords", "step_count"]
    list_filter = ["enabled"]
    search_fields = ["name", "description", "keywords"]
    filter_horizontal = ["services"]
    inlines = [PlaybookStepInline]

    @admin.display(description="steps")
    def step_count(self, obj: Playbook) -> int:
        return obj.steps.count()


class PlaybookStepRunInline(admin.TabularInline):
    model = PlaybookStepRun
    extra = 0
    can_delete = False
    fields = ["position", "phase", "title", "kind", "status", "done_by", "finished_at", "error"]
    readonly_fields = fields


@admin.register(PlaybookRun)
class PlaybookRunAdmin(admin.ModelAdmin):
    list_display = ["incident", "playbook_name", "started_at", "completed_at"]
    search_fields = ["playbook_name", "incident__title"]
    readonly_fields = ["incident", "playbook", "playbook_name", "match_reason", "started_at", "completed_at"]
    inlines = [PlaybookStepRunInline]


class EscalationStepInline(admin.TabularInline):
    model = EscalationStep
    extra = 0
    ordering = ["position", "id"]
    fields = ["position", "notify_executives", "notify_managers", "notify_team", "users"]


class PolicyForm(forms.ModelForm):
    class Meta:
        model = NotificationPolicy
        fields = "__all__"

    def clean_channels(self):
        channels = self.cleaned_data.get("channels") or []
        unknown = [c for c in channels if c not in ChannelKind.values]
        if not isinstance(channels, list) or unknown:
            raise forms.ValidationError(f"Use a list of {', '.join(ChannelKind.values)}; unknown: {unknown}.")
        return channels


@admin.register(NotificationPolicy)
class NotificationPolicyAdmin(admin.ModelAdmin):
    form = PolicyForm
    list_display = ["__str__", "enabled", "notify_executives", "notify_managers", "notify_team", "digest_only",
                    "channels", "ack_timeout_minutes", "escalation_limit"]
    filter_horizontal = ["users", "endpoints"]
    inlines = [EscalationStepInline]


@admin.register(ChannelEndpoint)
class ChannelEndpointAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "url", "enabled", "healthy", "unhealthy_since"]
    list_filter = ["kind", "enabled", "healthy"]
    readonly_fields = ["healthy", "last_error", "unhealthy_since"]
    actions = ["mark_healthy"]

    @admin.action(description="Mark healthy again (after fixing the endpoint)")
    def mark_healthy(self, request, queryset):
        count = queryset.update(healthy=True, last_error="", unhealthy_since=None)
        messages.success(request, f"{count} endpoint(s) marked healthy.")


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    list_display = ["user", "channels", "slack_endpoint", "webhook_endpoint"]
    search_fields = ["user__username", "user__email"]
    raw_id_fields = ["user"]


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "channel", "recipient", "endpoint", "incident", "level", "step", "status",
                    "attempts", "created_at", "sent_at"]
    list_filter = ["status", "kind", "channel", "level"]
    search_fields = ["key", "address", "recipient__username", "incident__title"]
    readonly_fields = [f.name for f in Delivery._meta.fields]
    actions = ["requeue"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Send failed deliveries again")
    def requeue(self, request, queryset):
        count = notification_services.deliveries_requeue_failed(ids=list(queryset.values_list("pk", flat=True)))
        messages.success(request, f"{count} failed delivery(ies) queued again.")


@admin.register(Escalation)
class EscalationAdmin(admin.ModelAdmin):
    list_display = ["incident", "status", "level", "step", "next_at", "last_escalated_at", "repairs"]
    list_filter = ["status", "level"]
    readonly_fields = [f.name for f in Escalation._meta.fields]


@admin.register(UserNotification)
class UserNotificationAdmin(admin.ModelAdmin):
    list_display = ["user", "kind", "level", "title", "created_at", "read_at"]
    list_filter = ["kind", "level"]
    search_fields = ["title", "user__username"]
