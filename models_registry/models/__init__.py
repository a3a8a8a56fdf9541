"""Models of the models_registry app; each module holds one area, re-exported here."""
from __future__ import annotations

from .monitors import MonitorResult, MonitorRun, ServingErrorCount
from .operations import AtRiskEntry, BatchScoringJob, JourneyHandled, ShadowPredictionLog, WeeklyReportSubscription
from .registry import GateDecision, ModelVersion, PredictionLog, RegisteredModel, TrainingRun

__all__ = [
    "AtRiskEntry",
    "BatchScoringJob",
    "JourneyHandled",
    "ShadowPredictionLog",
    "WeeklyReportSubscription",
    "GateDecision",
    "ModelVersion",
    "MonitorResult",
    "MonitorRun",
    "PredictionLog",
    "RegisteredModel",
    "ServingErrorCount",
    "TrainingRun",
]
