"""Admin of the incidents app."""
from __future__ import annotations

from django import forms
from django.contrib import admin, messages

from core.audit import AuditedAdmin
from core.exceptions import InvalidInput
from incidents.choices import ChannelKind, StepKind
from incidents.models import (
    ActionItem,
    Alert,
    BulkOperation,
    ChannelEndpoint,
    CostLine,
    Delivery,
    Escalation,
    EscalationStep,
    GroupingRule,
    Incident,
    IncidentCost,
    NotificationPolicy,
    NotificationPreference,
    Playbook,
    PlaybookRun,
    PlaybookStep,
    PlaybookStepRun,
    PostIncidentReview,
    ReportSubscription,
    ServiceIncidentSettings,
    SeverityClassifier,
    SeverityOverride,
    Silence,
    TimelineEvent,
    UserNotification,
)
from incidents.playbooks.actions import action_names
from incidents.playbooks.admin_forms import PlaybookForm, preview_html
from incidents.services.deliveries import deliveries_requeue_failed
from incidents.services.silences import matchers_clean, silence_create, silence_expire

# --- Response: playbooks, notification policies, channels, deliveries -------------------------------


STEP_FIELDS = ("position", "phase", "title", "kind", "owner_role", "expected_minutes", "ticks_on", "action_name",
               "params", "webhook_url", "webhook_secret", "auto_run", "description")


class PlaybookStepForm(forms.ModelForm):
    class Meta:
        model = PlaybookStep
        fields = STEP_FIELDS

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if kind == StepKind.ACTION and not data.get("action_name"):
            registered = ", ".join(action_names()) or "none registered"
            self.add_error("action_name", f"Name a registered action: {registered}.")
        if kind == StepKind.WEBHOOK and not data.get("webhook_url"):
            self.add_error("webhook_url", "A webhook step needs a URL.")
        if kind == StepKind.CHECKLIST and data.get("auto_run"):
            self.add_error("auto_run", "Checklist items are ticked by people, not run.")
        return data


class PlaybookStepInline(admin.StackedInline):
    """One readable block per step (issue 12): what and who on one line, the title in full, automation below."""

    model = PlaybookStep
    form = PlaybookStepForm
    extra = 1
    ordering = ["position", "id"]
    fieldsets = [
        (None, {"fields": [("position", "phase", "kind", "owner_role", "expected_minutes", "ticks_on"), "title",
                           "description"]}),
        ("Automation (action and webhook steps)", {"classes": ["collapse"], "fields": [
            ("action_name", "auto_run"), "params", ("webhook_url", "webhook_secret")]}),
    ]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "action_name":
            names = [("", "—")] + [(n, n) for n in action_names()]
            return forms.ChoiceField(choices=names, required=False, label="Action",
                                     help_text="A registered action (kind = action).")
        if db_field.name == "title":
            kwargs["widget"] = forms.TextInput(attrs={"style": "width:100%;max-width:60em"})
        if db_field.name == "description":
            kwargs["widget"] = forms.Textarea(attrs={"rows": 2, "style": "width:100%;max-width:60em"})
        if db_field.name == "params":
            kwargs["widget"] = forms.Textarea(attrs={"rows": 2, "cols": 60})
        return super().formfield_for_dbfield(db_field, request, **kwargs)


@admin.register(Playbook)
class PlaybookAdmin(AuditedAdmin):
    audit_children = ("steps",)
    form = PlaybookForm
    list_display = ["name", "enabled", "priority", "severities", "source_kinds", "keywords", "step_count"]
    list_filter = ["enabled"]
    search_fields = ["name", "description", "keywords"]
    filter_horizontal = ["services"]
    inlines = [PlaybookStepInline]
    readonly_fields = ["match_preview"]
    fieldsets = [
        (None, {"fields": ["name", "description", ("enabled", "priority")]}),
        ("Which incidents it matches (empty: any)", {"fields": ["severities", "source_kinds", "labels", "keywords",
                                                                "services"]}),
        ("Preview", {"fields": ["match_preview"]}),
    ]

    @admin.display(description="Would match")
    def match_preview(self, obj: Playbook) -> str:
        return preview_html(obj)

    @admin.display(description="steps")
    def step_count(self, obj: Playbook) -> int:
        return obj.steps.count()


class PlaybookStepRunInline(admin.TabularInline):
    model = PlaybookStepRun
    extra = 0
    can_delete = False
    fields = readonly_fields = ("position", "phase", "title", "kind", "status", "done_by", "finished_at", "error")


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
        fields = ["notify_executives", "notify_managers", "notify_team", "severity", "enabled", "digest_only",
                  "channels", "users", "endpoints", "ack_timeout_minutes", "escalation_limit"]

    def clean_channels(self):
        channels = self.cleaned_data.get("channels") or []
        unknown = [c for c in channels if c not in ChannelKind.values]
        if not isinstance(channels, list) or unknown:
            raise forms.ValidationError(f"Use a list of {', '.join(ChannelKind.values)}; unknown: {unknown}.")
        return channels


@admin.register(NotificationPolicy)
class NotificationPolicyAdmin(AuditedAdmin):
    audit_children = ("escalation_steps",)
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
        count = deliveries_requeue_failed(ids=list(queryset.values_list("pk", flat=True)))
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


# --- Incident core: incidents, alerts, grouping rules, silences, per-service settings -----------------



class AlertInline(admin.TabularInline):
    model = Alert
    extra = 0
    can_delete = False
    show_change_link = True
    fields = readonly_fields = ("title", "service", "status", "hold", "grouped_by", "grouping_rule", "count",
                                "first_seen", "last_seen")

    def has_add_permission(self, request, obj=None):
        return False


class TimelineInline(admin.TabularInline):
    model = TimelineEvent
    extra = 0
    can_delete = False
    fields = readonly_fields = ("at", "kind", "actor_name", "message")
    ordering = ["at", "id"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    list_display = ["id", "title", "service", "severity", "status", "assignee", "team", "opened_at", "alert_count"]
    list_filter = ["status", "severity", "severity_source", "service", "team"]
    search_fields = ["title", "grouping_key"]
    date_hierarchy = "opened_at"
    list_select_related = ["service", "assignee", "team"]
    inlines = [AlertInline, TimelineInline]
    # Status, level and assignment change through the services (page or API) so the timeline
    # stays complete.
    readonly_fields = ["assignee", "team", "status", "severity", "severity_source", "severity_reasons",
                       "severity_features", "rules_severity", "proposed_severity", "proposed_confidence",
                       "grouping_key", "opened_at", "last_alert_at", "acknowledged_at", "acknowledged_by",
                       "investigating_at", "mitigated_at", "resolved_at", "resolved_by", "closed_at", "reopened_count",
                       "alert_count"]


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ["id", "title", "service", "status", "hold", "incident", "grouped_by", "count", "last_seen"]
    list_filter = ["status", "hold", "grouped_by", "source_kind", "service"]
    search_fields = ["title", "fingerprint"]
    list_select_related = ["service", "incident"]
    readonly_fields = [f.name for f in Alert._meta.fields]

    def has_add_permission(self, request):
        return False  # alerts come from signals only


@admin.register(GroupingRule)
class GroupingRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "labels", "service", "window_minutes", "priority", "enabled"]
    list_filter = ["enabled", "service"]
    list_editable = ["priority", "enabled"]


class SilenceForm(forms.ModelForm):
    class Meta:
        model = Silence
        fields = ["comment", "matchers", "starts_at", "ends_at"]
        help_texts = {"matchers": 'e.g. [{"label": "service", "op": "=", "value": "postgres-main"}, '
                                  '{"label": "env", "op": "=~", "value": "prod|stage"}]'}

    def clean_matchers(self):
        try:
            return matchers_clean(self.cleaned_data["matchers"])
        except InvalidInput as exc:
            raise forms.ValidationError(exc.message) from exc


@admin.register(Silence)
class SilenceAdmin(admin.ModelAdmin):
    form = SilenceForm
    list_display = ["comment", "starts_at", "ends_at", "expired_early_at", "created_by"]
    actions = ["expire_now"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        try:
            created = silence_create(matchers=obj.matchers, starts_at=obj.starts_at, ends_at=obj.ends_at,
                                     comment=obj.comment, user=request.user)
        except InvalidInput as exc:
            messages.error(request, exc.message)
            return
        obj.pk = created.pk

    @admin.action(description="End the selected silences now")
    def expire_now(self, request, queryset):
        for silence in queryset:
            silence_expire(silence=silence, user=request.user)


@admin.register(ServiceIncidentSettings)
class ServiceIncidentSettingsAdmin(admin.ModelAdmin):
    list_display = ["service", "min_persistence_seconds", "min_repeat_count", "flap_threshold",
                    "correlation_window_minutes", "auto_resolve", "reopen_window_minutes"]
    list_select_related = ["service"]


@admin.register(SeverityOverride)
class SeverityOverrideAdmin(admin.ModelAdmin):
    list_display = ["incident", "old_severity", "new_severity", "rules_severity", "user", "created_at"]
    readonly_fields = [f.name for f in SeverityOverride._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(SeverityClassifier)
class SeverityClassifierAdmin(admin.ModelAdmin):
    list_display = ["trained_at", "samples", "accuracy", "enabled"]
    list_editable = ["enabled"]
    readonly_fields = ["trained_at", "samples", "accuracy", "artifact", "feature_names"]


# --- Learning: reviews, action items, cost (issue 11) -------------------------------------------


class ActionItemInline(admin.TabularInline):
    model = ActionItem
    extra = 0
    fields = ["title", "owner", "due_date", "priority", "status", "effectiveness", "recurrence"]
    readonly_fields = ["effectiveness", "recurrence"]
    raw_id_fields = ["owner"]


@admin.register(PostIncidentReview)
class PostIncidentReviewAdmin(admin.ModelAdmin):
    list_display = ["incident", "status", "owner", "due_date", "published_at"]
    list_filter = ["status"]
    raw_id_fields = ["incident", "owner"]
    readonly_fields = ["submitted_at", "submitted_by", "published_at", "published_by", "model_section"]
    inlines = [ActionItemInline]


@admin.register(CostLine)
class CostLineAdmin(admin.ModelAdmin):
    list_display = ["incident", "category", "description", "amount", "currency", "created_at"]
    raw_id_fields = ["incident"]


@admin.register(IncidentCost)
class IncidentCostAdmin(admin.ModelAdmin):
    list_display = ["incident", "total", "currency", "computed_at", "frozen_at"]
    readonly_fields = [f.name for f in IncidentCost._meta.fields]


@admin.register(ReportSubscription)
class ReportSubscriptionAdmin(admin.ModelAdmin):
    list_display = ["user", "report", "created_at"]
@admin.register(BulkOperation)
class BulkOperationAdmin(admin.ModelAdmin):
    """The console's audit trail of bulk actions and storm-mode acknowledgements (read only)."""

    list_display = ["id", "action", "user", "at", "query", "undone_at"]
    list_filter = ["action"]
    list_select_related = ["user"]
    readonly_fields = [f.name for f in BulkOperation._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # an audit entry stays
