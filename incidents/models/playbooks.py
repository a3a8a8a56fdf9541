"""Playbooks (matching rules + ordered steps by response phase) and their runs on incidents."""
from __future__ import annotations

from django.conf import settings
from django.db import models

from core.choices import Role
from incidents.choices import IncidentStatus, PlaybookPhase, StepKind, StepStatus

PHASE_ORDER = {phase: index for index, phase in enumerate(PlaybookPhase.values)}
# Lifecycle steps: the incident reaching one of these statuses ticks the step by itself.
LIFECYCLE_TICKS = [(s.value, s.label) for s in (IncidentStatus.ACKNOWLEDGED, IncidentStatus.INVESTIGATING,
                                                IncidentStatus.MITIGATED, IncidentStatus.RESOLVED)]


class Playbook(models.Model):
    """What to do for a kind of incident; empty match fields match anything."""

    name = models.CharField(max_length=150, unique=True)
    description = models.TextField(blank=True)
    enabled = models.BooleanField(default=True)
    priority = models.SmallIntegerField(default=0, help_text="Breaks ties between equally specific playbooks.")
    services = models.ManyToManyField("core.Service", blank=True, related_name="playbooks")
    severities = models.JSONField(default=list, blank=True, help_text="Levels matched, e.g. [1, 2]; empty: any.")
    source_kinds = models.JSONField(
        default=list, blank=True, help_text='Signal source kinds, e.g. ["model"] for model drift; empty: any.'
    )
    labels = models.JSONField(default=dict, blank=True, help_text='All must match, e.g. {"alertname": "DiskFull"}.')
    keywords = models.CharField(
        max_length=300, blank=True,
        help_text="Comma-separated words; one must appear in the title (e.g. latency, disk).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-priority", "name"]

    def __str__(self) -> str:
        return self.name

    @property
    def keyword_list(self) -> list[str]:
        return [word.strip().lower() for word in self.keywords.split(",") if word.strip()]


class PlaybookStep(models.Model):
    playbook = models.ForeignKey(Playbook, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField(default=1)
    phase = models.CharField(max_length=20, choices=PlaybookPhase.choices, default=PlaybookPhase.IMMEDIATE)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=10, choices=StepKind.choices, default=StepKind.CHECKLIST)
    owner_role = models.CharField(max_length=20, choices=Role.choices, blank=True)
    expected_minutes = models.PositiveIntegerField(null=True, blank=True, help_text="Expected duration.")
    action_name = models.CharField(max_length=100, blank=True, help_text="Registered action (kind = action).")
    params = models.JSONField(default=dict, blank=True, help_text="Parameters for the action.")
    webhook_url = models.URLField(max_length=500, blank=True)
    webhook_secret = models.CharField(max_length=200, blank=True, help_text="HMAC-SHA256 key.")
    auto_run = models.BooleanField(
        default=False, help_text="Run the automated step as soon as the playbook attaches."
    )
    ticks_on = models.CharField(
        max_length=15, choices=LIFECYCLE_TICKS, blank=True, default="",
        help_text="Ticks itself when the incident reaches this status (e.g. an \u201cacknowledge it\u201d step).",
    )

    class Meta:
        ordering = ["playbook", "position", "id"]

    def __str__(self) -> str:
        return f"{self.position}. {self.title}"


class PlaybookRun(models.Model):
    """A playbook attached to one incident; its steps are snapshots so editing a playbook keeps history."""

    incident = models.OneToOneField("incidents.Incident", on_delete=models.CASCADE, related_name="playbook_run")
    playbook = models.ForeignKey(Playbook, null=True, on_delete=models.SET_NULL, related_name="runs")
    playbook_name = models.CharField(max_length=150)
    match_reason = models.CharField(max_length=300, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.playbook_name} on incident {self.incident_id}"

    @property
    def open_steps_count(self) -> int:
        """Steps still waiting for someone before the post-incident phase (what resolving asks about)."""
        return self.steps.filter(status__in=[StepStatus.PENDING, StepStatus.FAILED]) \
            .exclude(phase=PlaybookPhase.POST_INCIDENT).count()


class PlaybookStepRun(models.Model):
    run = models.ForeignKey(PlaybookRun, on_delete=models.CASCADE, related_name="steps")
    step = models.ForeignKey(PlaybookStep, null=True, on_delete=models.SET_NULL, related_name="+")
    position = models.PositiveSmallIntegerField()
    phase = models.CharField(max_length=20, choices=PlaybookPhase.choices)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=10, choices=StepKind.choices)
    owner_role = models.CharField(max_length=20, choices=Role.choices, blank=True)
    expected_minutes = models.PositiveIntegerField(null=True, blank=True)
    action_name = models.CharField(max_length=100, blank=True)
    params = models.JSONField(default=dict, blank=True)
    webhook_url = models.URLField(max_length=500, blank=True)
    webhook_secret = models.CharField(max_length=200, blank=True)
    ticks_on = models.CharField(max_length=15, choices=LIFECYCLE_TICKS, blank=True, default="")
    status = models.CharField(max_length=10, choices=StepStatus.choices, default=StepStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    done_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "position", "id"]

    def __str__(self) -> str:
        return f"{self.title} ({self.status})"

    @property
    def is_automated(self) -> bool:
        return self.kind != StepKind.CHECKLIST

    @property
    def is_finished(self) -> bool:
        return self.status in {StepStatus.DONE, StepStatus.SKIPPED}
