"""Registry of anomaly detectors by name; the default one scores every series unless told otherwise.

Detector modules register themselves here on import; the `monitoring.detection` package imports the
built-in ones (`detectors`), so whoever imports anything under it finds them registered.
"""

from __future__ import annotations

from .base import Detector

DEFAULT_DETECTOR = "blend"

_REGISTRY: dict[str, type[Detector]] = {}


class UnknownDetector(KeyError):
    """No detector registered under that name."""


def register(cls: type[Detector]) -> type[Detector]:
    """Class decorator: make a detector available under ``cls.name``."""
    _REGISTRY[cls.name] = cls
    return cls


def detector_names() -> list[str]:
    return sorted(_REGISTRY)


def get_detector(name: str | None = None) -> Detector:
    """An instance of the named detector (None → the default)."""
    key = name or DEFAULT_DETECTOR
    try:
        return _REGISTRY[key]()
    except KeyError:
        raise UnknownDetector(
            f"unknown detector {key!r}; known: {', '.join(sorted(_REGISTRY))}"
        ) from None

