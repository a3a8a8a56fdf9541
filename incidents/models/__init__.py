"""Models of the incidents app; each module holds one area, re-exported here."""
from __future__ import annotations

from .alerts import Alert
from .console import BulkOperation, SavedQueueView
from .costs import CostLine, IncidentCost, ReportSubscription
from .incidents import Incident
from .notifications import (
    ChannelEndpoint,
    Delivery,
    Escalation,
    EscalationStep,
    NotificationPolicy,
    NotificationPreference,
    UserNotification,
)
from .playbooks import Playbook, PlaybookRun, PlaybookStep, PlaybookStepRun
from .reviews import ActionItem, PostIncidentReview, ReviewTimelineMark
from .rules import GroupingRule, ServiceIncidentSettings
from .severity import SeverityClassifier, SeverityOverride
from .silences import Silence
from .timeline import TimelineEvent

__all__ = [
    "ActionItem",
    "CostLine",
    "IncidentCost",
    "PostIncidentReview",
    "ReportSubscription",
    "ReviewTimelineMark",
    "ChannelEndpoint",
    "Delivery",
    "Escalation",
    "EscalationStep",
    "NotificationPolicy",
    "NotificationPreference",
    "Playbook",
    "PlaybookRun",
    "PlaybookStep",
    "PlaybookStepRun",
    "UserNotification",
    "Alert",
    "BulkOperation",
    "SavedQueueView",
    "GroupingRule",
    "Incident",
    "ServiceIncidentSettings",
    "SeverityClassifier",
    "SeverityOverride",
    "Silence",
    "TimelineEvent",
]
