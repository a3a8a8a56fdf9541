"""Models of the models_registry app; each module holds one area, re-exported here."""
from __future__ import annotations

from .costs import CostEntry, CostImport, ModelEconomics, ServiceBudget
from .monitors import MonitorResult, MonitorRun, ServingErrorCount
from .registry import GateDecision, ModelVersion, PredictionLog, RegisteredModel, TrainingRun

__all__ = [
    "CostEntry",
    "CostImport",
    "ModelEconomics",
    "ServiceBudget",
    "GateDecision",
    "ModelVersion",
    "MonitorResult",
    "MonitorRun",
    "PredictionLog",
    "RegisteredModel",
    "ServingErrorCount",
    "TrainingRun",
]
