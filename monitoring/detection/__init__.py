"""Streaming anomaly detection: detectors behind one base class, a registry and the shared scoring engine.

Usage (live ingestion and backtest alike)::

    from monitoring.detection import get_detector, score_series
    det = get_detector()                       # default detector
    state = det.load_state(series.detector_state or b"")
    result, state = score_series(detector=det, state=state, timestamps=ts, values=vs)
    series.detector_state = det.dump_state(state)
    flagged = result.scores >= det.default_threshold
"""

from __future__ import annotations

from . import detectors  # noqa: F401  (registers the built-in detectors)
from .base import DetectionResult, Detector, StateFormatError
from .engine import score_series
from .registry import DEFAULT_DETECTOR, detector_names, get_detector, register

__all__ = [
    "DEFAULT_DETECTOR",
    "DetectionResult",
    "Detector",
    "StateFormatError",
    "detector_names",
    "get_detector",
    "register",
    "score_series",
]
