"""Models of the models_registry app; each module holds one area, re-exported here."""
from __future__ import annotations

from .monitors import MonitorResult, MonitorRun, ServingErrorCount
from .registry import GateDecision, ModelVersion, PredictionLog, RegisteredModel, TrainingRun

__all__ = [
    "GateDecision",
    "ModelVersion",
    "MonitorResult",
    "MonitorRun",
    "PredictionLog",
    "RegisteredModel",
    "ServingErrorCount",
    "TrainingRun",
]
