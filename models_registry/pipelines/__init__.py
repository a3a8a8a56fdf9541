"""Feature pipelines; a RegisteredModel names the pipeline it is trained with.

Importing this package registers the reference pipelines (`flights`) in `registry`.
"""
from __future__ import annotations

from . import flights  # noqa: F401  (registers the reference pipelines)
from .base import FittedModel, InputField, Pipeline, TrainingData
from .registry import get_pipeline, pipeline_names, register

__all__ = ["FittedModel", "InputField", "Pipeline", "TrainingData", "get_pipeline", "pipeline_names", "register"]
