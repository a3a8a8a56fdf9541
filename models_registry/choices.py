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


class MonitorKind(models.TextChoices):
    """What a monitor watches; each result is stored per model version and period."""

    DATA_DRIFT = "data_drift", "Data drift"
    PREDICTION_DRIFT = "prediction_drift", "Prediction drift"
    PERFORMANCE = "performance", "Performance"
    BIAS = "bias", "Bias"
    OPERATIONAL = "operational", "Operational"
    DATA_QUALITY = "data_quality", "Input data quality"
    FRESHNESS = "freshness", "Freshness"
    OUTPUT_QUALITY = "output_quality", "Output validation"
    AT_RISK_PRECISION = "at_risk_precision", "At-risk list precision"


class MonitorStatus(models.TextChoices):
    """Outcome of one monitor; only a breach raises a signal into the incident core."""

    OK = "ok", "OK"
    WARNING = "warning", "Warning"
    BREACH = "breach", "Breach"
    NO_DATA = "no_data", "Not enough data"

    @classmethod
    def rank(cls, status: str) -> int:
        """Order for "worst of": no data < ok < warning < breach."""
        ranks: dict[str, int] = {cls.NO_DATA: 0, cls.OK: 1, cls.WARNING: 2, cls.BREACH: 3}
        return ranks.get(status, 0)

    @classmethod
    def colour(cls, status: str) -> str:
        colours: dict[str, str] = {cls.OK: "#2e7d32", cls.WARNING: "#ef6c00", cls.BREACH: "#c62828"}
        return colours.get(status, "#757575")


class MonitorRunState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class MonitorTrigger(models.TextChoices):
    SCHEDULE = "schedule", "Schedule"
    MANUAL = "manual", "Command line"
    API = "api", "API"
    REPLAY = "replay", "Replay"


class CostCategory(models.TextChoices):
    """The cost ledger's documented categories (issue 11): area.item, so reports can roll up by area."""

    INFRA_COMPUTE = "infrastructure.compute", "Infrastructure: compute"
    INFRA_STORAGE = "infrastructure.storage", "Infrastructure: storage"
    INFRA_NETWORK = "infrastructure.network", "Infrastructure: network"
    OPS_MONITORING = "operations.monitoring", "Operations: monitoring"
    OPS_SUPPORT = "operations.support_staff", "Operations: support staff"
    OPS_TRAINING = "operations.training", "Operations: training"
    DATA_STORAGE = "data.storage", "Data: storage"
    DATA_PROCESSING = "data.processing", "Data: processing"
    DATA_QUALITY = "data.quality", "Data: quality"
    DATA_SECURITY = "data.security", "Data: security"


class CostSource(models.TextChoices):
    ADMIN = "admin", "Admin"
    API = "api", "API"
    FOCUS = "focus", "FOCUS import"
    DEMO = "demo", "Demo"
class BatchJobSource(models.TextChoices):
    FILE = "file", "Uploaded file"
    OPEN_JOURNEYS = "open_journeys", "Open journeys (at-risk list)"


class BatchJobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
