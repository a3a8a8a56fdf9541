"""Models of the incidents app; each module holds one area, re-exported here."""
from __future__ import annotations

from .alerts import Alert
from .incidents import Incident
from .rules import GroupingRule, ServiceIncidentSettings
from .severity import SeverityClassifier, SeverityOverride
from .silences import Silence
from .timeline import TimelineEvent

__all__ = [
    "Alert",
    "GroupingRule",
    "Incident",
    "ServiceIncidentSettings",
    "SeverityClassifier",
    "SeverityOverride",
    "Silence",
    "TimelineEvent",
]
