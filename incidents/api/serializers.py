"""Serializers of the incidents API: incidents (list/detail), actions, silences, generic signals, and the
response side (playbook runs and steps, a person's notifications and channels, deliveries)."""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.utils import timezone
from drf_spectacular.utils import inline_serializer
from rest_framework import serializers

from core.models import Team
from incidents.choices import (
    SEVERITY_HINT_ALIASES,
    IncidentStatus,
    Severity,
    SignalStatus,
    SourceKind,
)
from incidents.contracts import MAX_LABEL_CHARS, MAX_TITLE_CHARS
from incidents.models import (
    Alert,
    ChannelEndpoint,
    Delivery,
    Incident,
    PlaybookRun,
    PlaybookStepRun,
    Silence,
    TimelineEvent,
    UserNotification,
)


class IncidentListSerializer(serializers.ModelSerializer):
    service = serializers.CharField(source="service.name", read_only=True)
    team = serializers.CharField(source="team.slug", read_only=True, default=None)
    assignee = serializers.CharField(source="assignee.username", read_only=True, default=None)
    severity_label = serializers.CharField(source="get_severity_display", read_only=True)
    age_seconds = serializers.SerializerMethodField()

    class Meta:
        model = Incident
        fields = ["id", "title", "service", "team", "assignee", "severity", "severity_label", "severity_source",
                  "status", "opened_at", "last_alert_at", "acknowledged_at", "resolved_at", "alert_count",
                  "age_seconds", "is_drill"]

    def get_age_seconds(self, obj: Incident) -> int:
        end = obj.resolved_at or timezone.now()
        return int((end - obj.opened_at).total_seconds())


class AlertSerializer(serializers.ModelSerializer):
    service = serializers.CharField(source="service.name", read_only=True)
    grouping_rule = serializers.CharField(source="grouping_rule.name", read_only=True, default=None)

    class Meta:
        model = Alert
        fields = ["id", "fingerprint", "source_kind", "source_name", "service", "title", "description", "labels",
                  "severity_hint", "status", "hold", "silence", "grouped_by", "grouping_rule", "count",
                  "first_seen", "last_seen", "resolved_at", "links", "kpis"]


class TimelineEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = TimelineEvent
        fields = ["id", "kind", "at", "actor_name", "message", "data"]


class IncidentDetailSerializer(IncidentListSerializer):
    alerts = AlertSerializer(many=True, read_only=True)
    timeline = TimelineEventSerializer(many=True, read_only=True)

    class Meta(IncidentListSerializer.Meta):
        fields = [*IncidentListSerializer.Meta.fields, "severity_reasons", "rules_severity", "proposed_severity",
                  "proposed_confidence", "investigating_at", "mitigated_at", "closed_at", "reopened_count",
                  "resolution", "alerts", "timeline"]


class IncidentFilterSerializer(serializers.Serializer):
    status = serializers.MultipleChoiceField(choices=IncidentStatus.choices, required=False)
    severity = serializers.MultipleChoiceField(choices=Severity.values, required=False)
    service = serializers.CharField(required=False)
    team = serializers.CharField(required=False)
    assignee = serializers.CharField(required=False)
    since = serializers.DateTimeField(required=False)


class NoteSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=10_000)


class ResolveSerializer(NoteSerializer):
    open_steps = serializers.ChoiceField(choices=["skip", "keep"], required=False, allow_blank=True, default="",
                                         help_text="Playbook steps still open: skip them (with skip_reason) or keep "
                                                   "them open; omitted leaves them as they are.")
    skip_reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class TextSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=10_000)


class SeverityOverrideSerializer(serializers.Serializer):
    severity = serializers.ChoiceField(choices=Severity.choices)
    reason = serializers.CharField(max_length=2000)


class AssignSerializer(serializers.Serializer):
    assignee = serializers.SlugRelatedField(slug_field="username", queryset=get_user_model().objects.all(),
                                            required=False, allow_null=True)
    team = serializers.SlugRelatedField(slug_field="slug", queryset=Team.objects.all(), required=False,
                                        allow_null=True)

    def validate(self, attrs):
        if not attrs.get("assignee") and not attrs.get("team"):
            raise serializers.ValidationError({"assignee": "Name a person (username) or a team (slug)."})
        return attrs


class MatcherSerializer(serializers.Serializer):
    # The stubs see Field.label; DRF's metaclass moves declared fields off the class, so this is the matcher's label.
    label = serializers.CharField(max_length=100)  # type: ignore[assignment]
    op = serializers.ChoiceField(choices=["=", "!=", "=~", "!~"], default="=")
    value = serializers.CharField(allow_blank=True, max_length=500)


class SilenceSerializer(serializers.ModelSerializer):
    matchers = MatcherSerializer(many=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None)
    muted_alerts = serializers.IntegerField(read_only=True, default=0)
    starts_at = serializers.DateTimeField(required=False, allow_null=True, help_text="Defaults to now.")

    class Meta:
        model = Silence
        fields = ["id", "comment", "matchers", "starts_at", "ends_at", "created_by", "created_at",
                  "expired_early_at", "muted_alerts"]
        read_only_fields = ["created_at", "expired_early_at"]
        extra_kwargs = {"ends_at": {"help_text": "Must be in the future and after `starts_at`."}}


class LinkSerializer(serializers.Serializer):
    href = serializers.CharField(max_length=2000)
    text = serializers.CharField(max_length=300, required=False, allow_blank=True)


class SignalSerializer(serializers.Serializer):
    """A generic signal; validated into `incidents.contracts.SignalIn`."""

    service = serializers.CharField(required=False, allow_blank=False, max_length=100,
                                    help_text="Service name; defaults to the integration's service.")
    title = serializers.CharField(max_length=MAX_TITLE_CHARS)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=20_000)
    fingerprint = serializers.CharField(required=False, allow_blank=True, default="", max_length=255)
    labels = serializers.DictField(child=serializers.CharField(allow_blank=True, max_length=MAX_LABEL_CHARS),
                                   required=False, default=dict)
    severity = serializers.CharField(required=False, allow_blank=True, default="",
                                     help_text="critical, high, warning or info (aliases: error, low).")
    status = serializers.ChoiceField(choices=SignalStatus.choices, default=SignalStatus.FIRING)
    occurred_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    payload = serializers.JSONField(required=False, default=dict)
    links = LinkSerializer(many=True, required=False, default=list)
    kpis = serializers.ListField(child=serializers.CharField(max_length=100), required=False, default=list)
    source_kind = serializers.ChoiceField(choices=SourceKind.choices, required=False, default=SourceKind.GENERIC,
                                          help_text="Ignored for integrations (their kind decides).")
    source_name = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)

    def validate_severity(self, value: str) -> str:
        if value.strip().lower() not in SEVERITY_HINT_ALIASES:
            raise serializers.ValidationError("Unknown severity; use critical, high, warning or info.")
        return value.strip().lower()

    def validate_payload(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("The payload must be a JSON object.")
        return value


class SignalResultSerializer(serializers.Serializer):
    alert_id = serializers.IntegerField(allow_null=True)
    incident_id = serializers.IntegerField(allow_null=True)
    outcome = serializers.CharField()


class NoiseRowSerializer(serializers.Serializer):
    service = serializers.CharField()
    signals = serializers.IntegerField()
    alerts = serializers.IntegerField()
    muted = serializers.IntegerField()
    incidents = serializers.IntegerField()
    reduction = serializers.FloatField()


class NoiseReportSerializer(serializers.Serializer):
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    total = NoiseRowSerializer()
    rows = NoiseRowSerializer(many=True)
    mtta_seconds = serializers.FloatField(allow_null=True)
    mttr_seconds = serializers.FloatField(allow_null=True)


class NoiseQuerySerializer(serializers.Serializer):
    days = serializers.IntegerField(min_value=1, max_value=365, default=7, help_text="Period in days, 1 to 365.")
    service = serializers.CharField(required=False, help_text="Service name.")


class PlaybookStepRunSerializer(serializers.ModelSerializer):
    done_by: serializers.SlugRelatedField[AbstractBaseUser] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )

    class Meta:
        model = PlaybookStepRun
        fields = ["id", "position", "phase", "title", "description", "kind", "owner_role", "expected_minutes",
                  "action_name", "params", "status", "attempts", "result", "error", "done_by", "started_at",
                  "finished_at"]


class PlaybookRunSerializer(serializers.ModelSerializer):
    steps = PlaybookStepRunSerializer(many=True, read_only=True)

    class Meta:
        model = PlaybookRun
        fields = ["id", "incident", "playbook", "playbook_name", "match_reason", "started_at", "completed_at", "steps"]


class StepDoneSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class UserNotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = UserNotification
        fields = ["id", "incident", "kind", "level", "title", "body", "url", "created_at", "read_at"]


class DeliverySerializer(serializers.ModelSerializer):
    recipient: serializers.SlugRelatedField[AbstractBaseUser] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )
    endpoint: serializers.SlugRelatedField[ChannelEndpoint] = serializers.SlugRelatedField(
        slug_field="name", read_only=True
    )

    class Meta:
        model = Delivery
        fields = ["id", "kind", "channel", "recipient", "endpoint", "level", "step", "status", "attempts",
                  "last_error", "created_at", "first_claimed_at", "sent_at", "failed_at"]


class PreferenceSerializer(serializers.Serializer):
    channels = serializers.ListField(child=serializers.CharField(max_length=20), max_length=10)


# Inline (named in the schema as before): `ids` is optional, and the answer is just a count.
NOTIFICATIONS_READ = inline_serializer(
    "NotificationsRead", {"ids": serializers.ListField(child=serializers.IntegerField(), required=False)}
)
NOTIFICATIONS_READ_RESULT = inline_serializer("NotificationsReadResult", {"marked": serializers.IntegerField()})


class QueueChangeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    severity = serializers.IntegerField()
    status = serializers.CharField()
    title = serializers.CharField()
    opened = serializers.BooleanField(help_text="Opened or reopened since the cursor.")


class QueueChangesSerializer(serializers.Serializer):
    cursor = serializers.IntegerField(help_text="Pass back as `since` on the next poll.")
    changes = QueueChangeSerializer(many=True)
    more = serializers.BooleanField(help_text="More changes than one answer holds: reload the list.")
