"""Models of the models_registry app; each module holds one area, re-exported here."""
from __future__ import annotations

from .costs import CostEntry, CostImport, ModelEconomics, ServiceBudget
from .monitors import MonitorResult, MonitorRun, ServingErrorCount
from .operations import AtRiskEntry, BatchScoringJob, JourneyHandled, ShadowPredictionLog, WeeklyReportSubscription
from .registry import GateDecision, ModelVersion, PredictionLog, RegisteredModel, TrainingRun

__all__ = [
    "CostEntry",
    "CostImport",
    "ModelEconomics",
    "ServiceBudget",
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
