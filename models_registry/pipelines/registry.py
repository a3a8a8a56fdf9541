"""Feature pipelines by name; each pipeline module registers its classes on import."""
from __future__ import annotations

from .base import Pipeline

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
