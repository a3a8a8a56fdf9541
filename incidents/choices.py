"""Choices of the incidents app: severity levels with their targets, statuses, sources and hints."""
from __future__ import annotations

from datetime import timedelta

from django.db import models


class Severity(models.IntegerChoices):
    """Level 1-4 from the operating model (ARCHITECTURE.md); lower is worse."""

    CRITICAL = 1, "Critical"
    HIGH = 2, "High"
    MEDIUM = 3, "Medium"
    LOW = 4, "Low"

    @property
    def colour(self) -> str:
        return SEVERITY_COLOURS[self]

    @property
    def response(self) -> str:
        return SEVERITY_RESPONSE[self]

    @property
    def ack_target(self) -> timedelta | None:
        return SEVERITY_ACK_TARGETS[self]

    @property
    def meaning(self) -> str:
        return SEVERITY_MEANING[self]


SEVERITY_COLOURS = {
    Severity.CRITICAL: "#b91c1c",
    Severity.HIGH: "#ea580c",
    Severity.MEDIUM: "#ca8a04",
    Severity.LOW: "#2563eb",
}
SEVERITY_RESPONSE = {
    Severity.CRITICAL: "immediate",
    Severity.HIGH: "rapid",
    Severity.MEDIUM: "scheduled",
    Severity.LOW: "regular maintenance",
}
SEVERITY_MEANING = {
    Severity.CRITICAL: "system-wide failure, major business impact",
    Severity.HIGH: "partial failure, significant impact",
    Severity.MEDIUM: "performance degradation, limited impact",
    Severity.LOW: "minor issue, minimal impact",
}
# Acknowledge targets per level: what "immediate" and "rapid" mean for escalation timers.
# Level 4 is handled in the daily digest, so nobody is chased for an acknowledgement.
SEVERITY_ACK_TARGETS: dict[int, timedelta | None] = {
    Severity.CRITICAL: timedelta(minutes=5),
    Severity.HIGH: timedelta(minutes=15),
    Severity.MEDIUM: timedelta(hours=4),
    Severity.LOW: None,
}


class IncidentStatus(models.TextChoices):
    TRIGGERED = "triggered", "Triggered"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    INVESTIGATING = "investigating", "Investigating"
    MITIGATED = "mitigated", "Mitigated"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"


# Open = still needs work; alerts may join it and the grouping key must be unique among these.
OPEN_INCIDENT_STATUSES = (
    IncidentStatus.TRIGGERED,
    IncidentStatus.ACKNOWLEDGED,
    IncidentStatus.INVESTIGATING,
    IncidentStatus.MITIGATED,
)

# Open and acknowledged: someone is working it, so an alert joining now is news to them.
WORKED_STATUSES = (IncidentStatus.ACKNOWLEDGED, IncidentStatus.INVESTIGATING, IncidentStatus.MITIGATED)

# The lifecycle graph; `Incident.can_transition_to` enforces it. Resolved -> triggered is a reopen.
INCIDENT_TRANSITIONS: dict[str, frozenset[str]] = {
    IncidentStatus.TRIGGERED: frozenset({IncidentStatus.ACKNOWLEDGED, IncidentStatus.RESOLVED}),
    IncidentStatus.ACKNOWLEDGED: frozenset(
        {IncidentStatus.INVESTIGATING, IncidentStatus.MITIGATED, IncidentStatus.RESOLVED}
    ),
    IncidentStatus.INVESTIGATING: frozenset({IncidentStatus.MITIGATED, IncidentStatus.RESOLVED}),
    IncidentStatus.MITIGATED: frozenset({IncidentStatus.INVESTIGATING, IncidentStatus.RESOLVED}),
    IncidentStatus.RESOLVED: frozenset({IncidentStatus.CLOSED, IncidentStatus.TRIGGERED}),
    IncidentStatus.CLOSED: frozenset(),
}


class AlertStatus(models.TextChoices):
    FIRING = "firing", "Firing"
    RESOLVED = "resolved", "Resolved"


class AlertHold(models.TextChoices):
    """Why a firing alert does not (yet) count towards an incident; kept visible, never dropped."""

    NONE = "", "None"
    PENDING = "pending", "Pending (not persisted long enough)"
    FLAPPING = "flapping", "Flapping"
    SILENCED = "silenced", "Silenced"


class SignalStatus(models.TextChoices):
    FIRING = "firing", "Firing"
    RESOLVED = "resolved", "Resolved"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"


class SourceKind(models.TextChoices):
    ALERTMANAGER = "alertmanager", "Prometheus Alertmanager"
    GRAFANA = "grafana", "Grafana"
    PAGERDUTY = "pagerduty", "PagerDuty Events v2"
    GENERIC = "generic", "Generic"
    ANOMALY = "anomaly", "Anomaly detection"
    MODEL = "model", "Model monitor"


class SeverityHint(models.TextChoices):
    CRITICAL = "critical", "Critical"
    HIGH = "high", "High"
    WARNING = "warning", "Warning"
    INFO = "info", "Info"
    NONE = "", "None"


# What senders call their levels, mapped onto ours (PagerDuty says "error", some say "low").
SEVERITY_HINT_ALIASES = {
    "critical": SeverityHint.CRITICAL,
    "crit": SeverityHint.CRITICAL,
    "fatal": SeverityHint.CRITICAL,
    "page": SeverityHint.CRITICAL,
    "high": SeverityHint.HIGH,
    "error": SeverityHint.HIGH,
    "major": SeverityHint.HIGH,
    "warning": SeverityHint.WARNING,
    "warn": SeverityHint.WARNING,
    "medium": SeverityHint.WARNING,
    "minor": SeverityHint.WARNING,
    "info": SeverityHint.INFO,
    "informational": SeverityHint.INFO,
    "low": SeverityHint.INFO,
    "none": SeverityHint.NONE,
    "": SeverityHint.NONE,
}


class CorrelationRule(models.TextChoices):
    """Which rule put an alert into its incident (recorded on the alert)."""

    OPENED = "opened", "Opened the incident"
    FINGERPRINT = "fingerprint", "Same fingerprint"
    LABELS = "labels", "Grouping rule (labels)"
    SERVICE = "service", "Same service within window"
    DEPENDENCY = "dependency", "Dependent service within window"
    REOPENED = "reopened", "Reopened a recently resolved incident"


class SeveritySource(models.TextChoices):
    RULES = "rules", "Rules engine"
    OVERRIDE = "override", "Operator override"


class TimelineKind(models.TextChoices):
    OPENED = "opened", "Incident opened"
    ALERT_JOINED = "alert_joined", "Alert joined"
    ALERT_RESOLVED = "alert_resolved", "Alert resolved"
    SEVERITY_CHANGED = "severity_changed", "Severity changed"
    SEVERITY_PROPOSED = "severity_proposed", "Severity proposed by classifier"
    STATUS_CHANGED = "status_changed", "Status changed"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    ASSIGNED = "assigned", "Assigned"
    NOTE = "note", "Note"
    NOTIFICATION_SENT = "notification_sent", "Notification sent"
    ESCALATED = "escalated", "Escalated"
    PLAYBOOK_STEP = "playbook_step", "Playbook step"
    RESOLVED = "resolved", "Resolved"
    REOPENED = "reopened", "Reopened"
    CLOSED = "closed", "Closed"


# --- Response: playbooks, notifications, escalation ------------------------------------


class PlaybookPhase(models.TextChoices):
    """Response protocol phases (ARCHITECTURE.md), in the order they happen."""

    IMMEDIATE = "immediate", "Immediate response"
    INVESTIGATION = "investigation", "Investigation"
    RESOLUTION = "resolution", "Resolution"
    RECOVERY = "recovery", "Recovery"
    POST_INCIDENT = "post_incident", "Post-incident"


class StepKind(models.TextChoices):
    CHECKLIST = "checklist", "Checklist item"
    WEBHOOK = "webhook", "Call a webhook (HMAC-signed JSON)"
    ACTION = "action", "Run a registered action"


class StepStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


class ChannelKind(models.TextChoices):
    EMAIL = "email", "E-mail"
    WEBHOOK = "webhook", "Webhook"
    SLACK = "slack", "Slack"
    INAPP = "inapp", "In-app"


class DeliveryKind(models.TextChoices):
    PAGE = "page", "Page"
    UPGRADE = "upgrade", "Severity upgrade"
    ESCALATION = "escalation", "Escalation"
    RESOLVED = "resolved", "Resolved notice"
    DIGEST = "digest", "Digest"
    REPORT = "report", "Weekly report"
    JOINED = "joined", "Alert joined after acknowledgement"
    REMINDER = "reminder", "Reminder (review or action item)"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class EscalationStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    STOPPED = "stopped", "Stopped (acknowledged or resolved)"
    EXHAUSTED = "exhausted", "Exhausted (limit reached)"


# --- Learning: post-incident reviews, action items, cost (issue 11) ----------------------------


class ReviewStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    PUBLISHED = "published", "Published"


# draft -> in review -> published; in review may go back to draft for more work. Published is final.
REVIEW_TRANSITIONS: dict[str, frozenset[str]] = {
    ReviewStatus.DRAFT: frozenset({ReviewStatus.IN_REVIEW}),
    ReviewStatus.IN_REVIEW: frozenset({ReviewStatus.DRAFT, ReviewStatus.PUBLISHED}),
    ReviewStatus.PUBLISHED: frozenset(),
}


class ContributingFactor(models.TextChoices):
    """The fixed taxonomy of contributing factors a review picks from (each with free text).

    infrastructure: hardware, network, hosts, managed platform faults;
    code_change: a deploy or release of our own code;
    configuration: a setting, flag, secret or rule changed or wrong;
    data_quality: missing, late, duplicated or malformed input data;
    model_drift: a model's inputs or predictions moved away from what it was trained on;
    capacity: load above what was provisioned (CPU, memory, connections, quotas);
    third_party: a vendor or external dependency failed;
    process: a runbook, hand-over, alerting or review practice failed.
    """

    INFRASTRUCTURE = "infrastructure", "Infrastructure"
    CODE_CHANGE = "code_change", "Code change"
    CONFIGURATION = "configuration", "Configuration"
    DATA_QUALITY = "data_quality", "Data quality"
    MODEL_DRIFT = "model_drift", "Model drift"
    CAPACITY = "capacity", "Capacity"
    THIRD_PARTY = "third_party", "Third party"
    PROCESS = "process", "Process"


class ActionItemStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"


class ActionItemPriority(models.TextChoices):
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"


class Effectiveness(models.TextChoices):
    """What happened after an action item was done: watched for a recurrence, then held or recurred."""

    NOT_DONE = "", "Not done yet"
    WATCHING = "watching", "Watching for a recurrence"
    HELD = "held", "Held"
    RECURRED = "recurred", "Recurred"


class CostLineCategory(models.TextChoices):
    CREDIT = "credit", "Credits or refunds paid"
    PENALTY = "penalty", "SLA penalty"
    VENDOR = "vendor", "Vendor or support fee"
    OVERTIME = "overtime", "Overtime"
    OTHER = "other", "Other"
# --- Console (issue 12): bulk actions on the queue --------------------------------------


class BulkAction(models.TextChoices):
    ACKNOWLEDGE = "acknowledge", "Acknowledge"
    ASSIGN = "assign", "Assign"
    RESOLVE = "resolve", "Resolve"
    SEVERITY = "severity", "Change level"
    MERGE = "merge", "Merge"
    STORM = "storm", "Storm-mode acknowledge"
