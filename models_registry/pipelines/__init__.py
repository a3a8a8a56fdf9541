"""Registry of feature pipelines by name; a RegisteredModel names the pipeline it is trained with."""
from __future__ import annotations

from .base import FittedModel, InputField, Pipeline, TrainingData

_PIPELINES: dict[str, Pipeline] = {}


def register(cls: type[Pipeline]) -> type[Pipeline]:
    _PIPELINES[cls.name] = cls()
    return cls


def get_pipeline(name: str) -> Pipeline:
    try:
        return _PIPELINES[name]
    except KeyError:
        raise KeyError(f"unknown pipeline {name!r}; known: {sorted(_PIPELINES)}") from None


def pipeline_names() -> list[str]:
    return sorted(_PIPELINES)


from . import flights  # noqa: F401  (registers the reference pipelines)

__all__ = ["FittedModel", "InputField", "Pipeline", "TrainingData", "get_pipeline", "pipeline_names", "register"]
