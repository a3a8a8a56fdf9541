"""Registry of anomaly detectors by name; the default one scores every series unless told otherwise."""

from __future__ import annotations

from .base import Detector

DEFAULT_DETECTOR = "adaptive"

_REGISTRY: dict[str, type[Detector]] = {}


class UnknownDetector(KeyError):
    """No detector registered under that name."""


def register(cls: type[Detector]) -> type[Detector]:
    """Class decorator: make a detector available under ``cls.name``."""
    _REGISTRY[cls.name] = cls
    return cls


def detector_names() -> list[str]:
    _load_builtin()
    return sorted(_REGISTRY)


def get_detector(name: str | None = None) -> Detector:
    """An instance of the named detector (None → the default)."""
    _load_builtin()
    key = name or DEFAULT_DETECTOR
    try:
        return _REGISTRY[key]()
    except KeyError:
        raise UnknownDetector(
            f"unknown detector {key!r}; known: {', '.join(sorted(_REGISTRY))}"
        ) from None


def _load_builtin() -> None:
    # Importing the detector modules registers them; done lazily so importing the
    # registry alone stays cheap and free of cycles.
    from . import detectors  # noqa: F401
