"""Per-service incident settings (noise control, auto-resolve, windows) and label grouping rules."""
from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


class ServiceIncidentSettings(models.Model):
    """How alerts of one service become incidents; a service without a row uses the defaults."""

    service = models.OneToOneField("core.Service", on_delete=models.CASCADE, related_name="incident_settings")
    min_persistence_seconds = models.PositiveIntegerField(
        default=0, help_text="Open an incident only once an alert has fired this long (0 = at once)."
    )
    min_repeat_count = models.PositiveIntegerField(
        default=1, validators=[MinValueValidator(1)],
        help_text="...or once it has been received this many times (1 = at once).",
    )
    flap_threshold = models.PositiveSmallIntegerField(
        default=4, validators=[MinValueValidator(2)],
        help_text="Firing/resolved flips within the flap window that make an alert flapping.",
    )
    flap_window_minutes = models.PositiveIntegerField(default=30, validators=[MinValueValidator(1)])
    correlation_window_minutes = models.PositiveIntegerField(
        default=30, validators=[MinValueValidator(1), MaxValueValidator(24 * 60)],
        help_text="Alerts on this service (or its dependencies) this close to an incident's last alert join it.",
    )
    auto_resolve = models.BooleanField(default=True, help_text="Resolve the incident once every alert resolved.")
    reopen_window_minutes = models.PositiveIntegerField(
        default=60, help_text="A resolved incident may be reopened (by a person or a returning alert) within this."
    )

    class Meta:
        verbose_name = "service incident settings"
        verbose_name_plural = "service incident settings"

    def __str__(self) -> str:
        return f"Incident settings of {self.service}"


class GroupingRule(models.Model):
    """Alertmanager-style group_by: alerts carrying the same values for `labels` share an incident."""

    name = models.CharField(max_length=100, unique=True)
    labels = models.JSONField(help_text='Label names to group by, e.g. ["cluster", "alertname"].')
    service = models.ForeignKey(
        "core.Service", on_delete=models.CASCADE, null=True, blank=True, related_name="grouping_rules",
        help_text="Only for alerts of this service (empty: every service).",
    )
    window_minutes = models.PositiveIntegerField(default=60, validators=[MinValueValidator(1)])
    priority = models.PositiveSmallIntegerField(default=100, help_text="Lower runs first.")
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["priority", "name"]

    def __str__(self) -> str:
        return self.name
