"""Silences / maintenance windows: label matchers over a time range that mute matching alerts."""
from __future__ import annotations

from django.conf import settings
from django.db import models


class Silence(models.Model):
    """Matchers are Alertmanager-style: [{"label": "env", "op": "=~", "value": "prod|stage"}].

    The pseudo-labels `service`, `source_kind` and `source_name` match the alert's own fields.
    """

    comment = models.CharField(max_length=300)
    matchers = models.JSONField(default=list)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expired_early_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-starts_at", "-id"]
        indexes = [models.Index(fields=["ends_at", "starts_at"], name="silence_window")]
        constraints = [
            models.CheckConstraint(condition=models.Q(ends_at__gt=models.F("starts_at")),
                                   name="silence_ends_after_start"),
        ]

    def __str__(self) -> str:
        return self.comment
