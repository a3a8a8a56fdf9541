"""Notification policies per severity, channel endpoints, per-person preferences, deliveries, escalations."""
from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from incidents.choices import ChannelKind, DeliveryKind, DeliveryStatus, EscalationStatus


class ChannelEndpoint(models.Model):
    """A webhook or Slack incoming-webhook URL; a permanent failure marks it unhealthy until fixed."""

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(
        max_length=10, choices=[(ChannelKind.WEBHOOK, "Webhook"), (ChannelKind.SLACK, "Slack")]
    )
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=200, blank=True, help_text="HMAC-SHA256 key for webhooks.")
    timeout_seconds = models.FloatField(default=5.0, validators=[MinValueValidator(0.1), MaxValueValidator(60)])
    enabled = models.BooleanField(default=True)
    healthy = models.BooleanField(default=True)
    last_error = models.TextField(blank=True)
    unhealthy_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"


class AudienceMixin(models.Model):
    """Who a policy or escalation step notifies: role groups, the service's team, named people."""

    notify_executives = models.BooleanField(default=False)
    notify_managers = models.BooleanField(default=False)
    notify_team = models.BooleanField(default=False, help_text="Members of the incident's service team.")

    class Meta:
        abstract = True


class NotificationPolicy(AudienceMixin):
    """Who hears about an incident of one severity level, how, and when it escalates."""

    severity = models.PositiveSmallIntegerField(unique=True, validators=[MinValueValidator(1), MaxValueValidator(4)])
    enabled = models.BooleanField(default=True)
    digest_only = models.BooleanField(default=False, help_text="No page: reported in the daily digest only.")
    channels = models.JSONField(
        default=list, blank=True,
        help_text='Channel kinds people are reached on, e.g. ["email", "inapp", "slack", "webhook"].',
    )
    users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    endpoints = models.ManyToManyField(
        ChannelEndpoint, blank=True, related_name="policies", help_text="Shared webhook/Slack endpoints paged too."
    )
    ack_timeout_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Escalate when not acknowledged within; empty uses the level's target."
    )
    escalation_limit = models.PositiveSmallIntegerField(
        default=3, help_text="How many escalation steps at most (the last step repeats until then)."
    )

    class Meta:
        ordering = ["severity"]
        verbose_name_plural = "notification policies"

    def __str__(self) -> str:
        return f"Level {self.severity} policy"


class EscalationStep(AudienceMixin):
    """One tier of a policy's escalation chain, in order."""

    policy = models.ForeignKey(NotificationPolicy, on_delete=models.CASCADE, related_name="escalation_steps")
    position = models.PositiveSmallIntegerField(default=1)
    users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")

    class Meta:
        ordering = ["policy", "position", "id"]

    def __str__(self) -> str:
        return f"step {self.position} of {self.policy}"


class NotificationPreference(models.Model):
    """A person's channels; without a row: e-mail and in-app."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="notification_preference")
    channels = models.JSONField(default=list, blank=True, help_text='e.g. ["email", "inapp", "slack"]')
    slack_endpoint = models.ForeignKey(
        ChannelEndpoint, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        limit_choices_to={"kind": ChannelKind.SLACK}, help_text="Personal Slack webhook (DM channel).",
    )
    webhook_endpoint = models.ForeignKey(
        ChannelEndpoint, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        limit_choices_to={"kind": ChannelKind.WEBHOOK}, help_text="Personal webhook (e.g. a phone bridge).",
    )

    def __str__(self) -> str:
        return f"Preferences of {self.user}"


class Delivery(models.Model):
    """One message to one recipient on one channel; `key` makes each page happen at most once."""

    key = models.CharField(max_length=255, unique=True)
    incident = models.ForeignKey("incidents.Incident", null=True, blank=True, on_delete=models.CASCADE,
                                 related_name="deliveries")
    kind = models.CharField(max_length=12, choices=DeliveryKind.choices)
    channel = models.CharField(max_length=10, choices=ChannelKind.choices)
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="deliveries")
    endpoint = models.ForeignKey(ChannelEndpoint, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="deliveries")
    address = models.CharField(max_length=500, blank=True, help_text="E-mail address or endpoint URL at send time.")
    level = models.PositiveSmallIntegerField(null=True, blank=True)
    step = models.PositiveSmallIntegerField(default=0, help_text="Escalation step (0 = initial page).")
    message = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    claimed_at = models.DateTimeField(null=True, blank=True, help_text="Last hand-over to the channel began.")
    lease_until = models.DateTimeField(
        null=True, blank=True,
        help_text="A SENDING row past this lost its worker: the sweep hands it over again.",
    )
    first_claimed_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="delivery_status_next"),
            models.Index(fields=["status", "lease_until"], name="delivery_status_lease"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} via {self.get_channel_display()} to {self.address or self.recipient_id}"


class UserNotification(models.Model):
    """An entry in a person's in-app notification list."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="app_notifications")
    delivery = models.OneToOneField(Delivery, null=True, blank=True, on_delete=models.SET_NULL, related_name="note")
    incident = models.ForeignKey("incidents.Incident", null=True, blank=True, on_delete=models.CASCADE,
                                 related_name="+")
    kind = models.CharField(max_length=12, choices=DeliveryKind.choices, default=DeliveryKind.PAGE)
    level = models.PositiveSmallIntegerField(null=True, blank=True)
    title = models.CharField(max_length=300)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at"], name="usernote_user_unread")]

    def __str__(self) -> str:
        return f"{self.title} (for {self.user_id})"


class Escalation(models.Model):
    """An incident's escalation timer; `active_token` names the one scheduled task allowed to act."""

    incident = models.OneToOneField("incidents.Incident", on_delete=models.CASCADE, related_name="escalation")
    status = models.CharField(max_length=10, choices=EscalationStatus.choices, default=EscalationStatus.ACTIVE)
    level = models.PositiveSmallIntegerField(help_text="Severity the timer was set for.")
    step = models.PositiveSmallIntegerField(default=0, help_text="Escalation steps taken so far.")
    active_token = models.CharField(max_length=64, blank=True)
    next_at = models.DateTimeField(null=True, blank=True, db_index=True)
    started_at = models.DateTimeField(auto_now_add=True)
    last_escalated_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    stopped_reason = models.CharField(max_length=200, blank=True)
    repairs = models.PositiveIntegerField(default=0, help_text="Times the auditor re-enqueued a stalled timer.")

    def __str__(self) -> str:
        return f"Escalation of incident {self.incident_id} ({self.status}, step {self.step})"
