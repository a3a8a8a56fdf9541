"""Teams, services (with their dependency graph) and integration tokens."""
from __future__ import annotations

import hashlib
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models

from .choices import IntegrationKind, Tier

FINGERPRINT_MAX_CHARS = 255  # incidents.Alert.fingerprint


def validate_time_zone(value: str) -> None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(f"{value!r} is not an IANA time zone (e.g. Europe/Berlin).") from exc


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    email = models.EmailField(blank=True, help_text="Team mailbox or on-call alias.")
    time_zone = models.CharField(
        max_length=64, default="UTC", validators=[validate_time_zone],
        help_text="IANA zone (e.g. Europe/Berlin): business days for review due dates are counted here.",
    )
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="teams", blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Service(models.Model):
    name = models.CharField(max_length=100, unique=True)
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="services")
    tier = models.PositiveSmallIntegerField(choices=Tier.choices, default=Tier.TIER_3)
    downtime_cost_per_minute = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text="Business cost of one minute of outage, in the reporting currency.",
    )
    owner_email = models.EmailField(blank=True)
    description = models.TextField(blank=True)
    depends_on = models.ManyToManyField(
        "self", symmetrical=False, related_name="dependents", blank=True,
        help_text="Services this one calls; a fault there explains alerts here.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Integration(models.Model):
    """A monitoring agent's credential. Only a SHA-256 of the token is stored."""

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=20, choices=IntegrationKind.choices)
    service = models.ForeignKey(
        Service, on_delete=models.CASCADE, related_name="integrations", null=True, blank=True,
        help_text="Default service for signals that do not name one.",
    )
    extra_services = models.ManyToManyField(
        Service, related_name="extra_integrations", blank=True,
        help_text="Services this integration may also file under (besides its default service).",
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    token_prefix = models.CharField(
        max_length=16, editable=False, help_text="First characters, for recognising a token."
    )
    secret = models.CharField(
        max_length=200, blank=True,
        help_text="Optional shared secret for senders that sign their requests (Grafana HMAC).",
    )
    rate_limit_per_minute = models.PositiveIntegerField(
        null=True, blank=True, help_text="Requests per minute; empty uses the site default."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_received_at = models.DateTimeField(null=True, blank=True)
    received_count = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["name", "kind"], name="integration_unique_name_per_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def scoped_fingerprint(self, fingerprint: str) -> str:
        """The sender's dedup key made private to this integration.

        The incident core matches fingerprints across all sources; an agent's keys (PagerDuty
        dedup_key, Alertmanager and Grafana fingerprints) only mean something to the integration
        that sent them, so another token must never resolve or acknowledge by them. The prefix
        ends at the first colon, so no integration's key can spell another's; a key too long for
        the 255-character column keeps its prefix and becomes a hash.
        """
        scoped = f"i{self.pk}:{fingerprint}"
        if len(scoped) <= FINGERPRINT_MAX_CHARS:
            return scoped
        return f"i{self.pk}:sha256:{hashlib.sha256(fingerprint.encode()).hexdigest()}"


class ConnectionTest(models.Model):
    """An agent's "send test event": proves the token works and a worker picks up its tasks."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="connection_tests")
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    processed_by = models.CharField(max_length=200, blank=True, help_text="Worker host that ran the task.")

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"connection test {self.pk} of integration {self.integration_id}"


class AuditEntry(models.Model):
    """One change to configuration (playbooks, policies, services, integrations): who, when, before/after."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=10)  # create / update / delete
    object_type = models.CharField(max_length=100, db_index=True)  # app_label.model
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=200)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    source = models.CharField(max_length=20, default="admin")  # admin, config (config apply)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.actor_name or 'system'} {self.action} {self.object_type} {self.object_repr}"
