"""The console's records: one audit row per bulk operation (storm mode's undo reads it), saved queue views."""
from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from incidents.choices import BulkAction

# How long a storm-mode acknowledgement can be undone: long enough to notice a too-wide filter,
# short enough that nobody undoes an acknowledgement others have since worked from.
UNDO_WINDOW = timedelta(minutes=5)


class BulkOperation(models.Model):
    """What one person did to many incidents at once: the audit entry, and what undo reverts."""

    action = models.CharField(max_length=12, choices=BulkAction.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    at = models.DateTimeField(auto_now_add=True)
    query = models.CharField(max_length=1000, blank=True, help_text="The queue filter it ran on (storm mode).")
    params = models.JSONField(default=dict, blank=True)
    touched = models.JSONField(default=list, help_text="Ids of the incidents it changed.")
    skipped = models.JSONField(default=dict, blank=True, help_text="Id -> why it was left alone.")
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                  related_name="+")

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} of {len(self.touched)} incidents"

    @property
    def undo_until(self):
        return self.at + UNDO_WINDOW

    @property
    def undoable(self) -> bool:
        return self.action == BulkAction.STORM and self.undone_at is None and timezone.now() < self.undo_until


class SavedQueueView(models.Model):
    """A person's named queue filter: the query string of the queue URL."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="queue_views")
    name = models.CharField(max_length=60)
    query = models.CharField(max_length=1000)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["user", "name"], name="saved_queue_view_unique_name")]

    def __str__(self) -> str:
        return self.name
