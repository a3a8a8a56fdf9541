"""Choices of the models_registry app: tasks, version lifecycle, aliases, runs and gate decisions."""
from __future__ import annotations

from django.db import models


class ModelTask(models.TextChoices):
    REGRESSION = "regression", "Regression"
    CLASSIFICATION = "classification", "Classification"


class VersionStatus(models.TextChoices):
    """Where a version is in its life; the alias says what it serves as right now."""

    CANDIDATE = "candidate", "Candidate (awaiting the gate)"
    CHAMPION = "champion", "Champion (serving)"
    REJECTED = "rejected", "Rejected by the gate"
    RETIRED = "retired", "Retired (was champion)"
    ROLLED_BACK = "rolled_back", "Rolled back"


class VersionAlias(models.TextChoices):
    """At most one of each per model (database constraints)."""

    NONE = "", "—"
    CHAMPION = "champion", "champion"
    CHALLENGER = "challenger", "challenger"


class TrainingRunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"

    @classmethod
    def active(cls) -> tuple[str, str]:
        return (cls.QUEUED, cls.RUNNING)


class TrainingTrigger(models.TextChoices):
    MANUAL = "manual", "Command line"
    API = "api", "API / page"
    SCHEDULE = "schedule", "Schedule"
    PLAYBOOK = "playbook", "Playbook action"
    DEMO = "demo", "Demo"


class GateOutcome(models.TextChoices):
    PROMOTE = "promote", "Promoted"
    REJECT = "reject", "Rejected"
    ROLLBACK = "rollback", "Rolled back"
