"""Models of the models_registry app; each module holds one area, re-exported here."""
from __future__ import annotations

from .registry import GateDecision, ModelVersion, PredictionLog, RegisteredModel, TrainingRun

__all__ = ["GateDecision", "ModelVersion", "PredictionLog", "RegisteredModel", "TrainingRun"]
