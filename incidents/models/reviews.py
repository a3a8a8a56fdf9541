"""Post-incident reviews, their marked timeline events and action items (issue 11)."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from incidents.choices import ActionItemPriority, ActionItemStatus, Effectiveness, ReviewStatus


class PostIncidentReview(models.Model):
    """What happened, why, and what we change; required before a Level 1/2 incident is closed.

    `contributing_factors` is a list of `{"category": <ContributingFactor key>, "text": str}`; other apps
    (similar-incident suggestions) read it together with `status`.
    """

    incident = models.OneToOneField("incidents.Incident", on_delete=models.CASCADE, related_name="review")
    status = models.CharField(max_length=10, choices=ReviewStatus.choices, default=ReviewStatus.DRAFT)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="owned_reviews", help_text="Writes the review; gets the reminders.")
    due_date = models.DateField(null=True, blank=True, help_text="Business days after resolution, team's zone.")
    summary = models.TextField(blank=True)
    impact_start = models.DateTimeField(null=True, blank=True, help_text="Empty: the incident's opening.")
    impact_end = models.DateTimeField(null=True, blank=True, help_text="Empty: the incident's resolution.")
    impact_services = models.ManyToManyField("core.Service", blank=True, related_name="+")
    users_affected = models.PositiveIntegerField(null=True, blank=True)
    orders_affected = models.PositiveIntegerField(null=True, blank=True)
    contributing_factors = models.JSONField(default=list, blank=True)
    went_well = models.TextField(blank=True)
    went_badly = models.TextField(blank=True)
    lessons = models.TextField(blank=True)
    participants = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+",
                                          help_text="People at the review meeting (review time cost).")
    model_section = models.JSONField(default=dict, blank=True, help_text="Filled from the incident's model facts.")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                     related_name="+")
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                     related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "due_date"], name="review_status_due")]

    def __str__(self) -> str:
        return f"Review of incident {self.incident_id} ({self.get_status_display()})"

    @property
    def factor_keys(self) -> list[str]:
        return [str(f.get("category")) for f in self.contributing_factors or [] if isinstance(f, dict)]


class ReviewTimelineMark(models.Model):
    """The author's star and note on one timeline event; the published review shows starred ones first."""

    review = models.ForeignKey(PostIncidentReview, on_delete=models.CASCADE, related_name="marks")
    event = models.ForeignKey("incidents.TimelineEvent", on_delete=models.CASCADE, related_name="+")
    starred = models.BooleanField(default=False)
    annotation = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["review", "event"], name="review_mark_one_per_event")]

    def __str__(self) -> str:
        return f"mark on event {self.event_id}"


class ActionItem(models.Model):
    """A change a review decided; once done it is watched for a recurrence (held / recurred)."""

    review = models.ForeignKey(PostIncidentReview, on_delete=models.CASCADE, related_name="action_items")
    title = models.CharField(max_length=300)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="action_items")
    due_date = models.DateField()
    priority = models.CharField(max_length=8, choices=ActionItemPriority.choices, default=ActionItemPriority.MEDIUM)
    status = models.CharField(max_length=12, choices=ActionItemStatus.choices, default=ActionItemStatus.OPEN)
    playbook = models.ForeignKey("incidents.Playbook", on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="action_items")
    service = models.ForeignKey("core.Service", on_delete=models.SET_NULL, null=True, blank=True,
                                related_name="action_items")
    # A name, not a foreign key: incidents knows nothing of the model registry (ARCHITECTURE.md).
    model_name = models.CharField(max_length=100, blank=True, help_text="Registered model this item changes.")
    contributing_factor = models.CharField(max_length=20, blank=True,
                                           help_text="Factor it addresses: a new incident with it is a recurrence.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)
    effectiveness = models.CharField(max_length=10, choices=Effectiveness.choices, blank=True,
                                     default=Effectiveness.NOT_DONE)
    watch_until = models.DateTimeField(null=True, blank=True)
    recurrence = models.ForeignKey("incidents.Incident", on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", help_text="The incident that recurred.")
    effectiveness_decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_date", "id"]
        indexes = [
            models.Index(fields=["status", "due_date"], name="action_item_status_due"),
            models.Index(fields=["effectiveness", "watch_until"], name="action_item_watch"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_finished(self) -> bool:
        return self.status in (ActionItemStatus.DONE, ActionItemStatus.CANCELLED)
