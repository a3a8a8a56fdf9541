"""Streaming detection: score a series' new points with its detector, store anomalies, raise signals.

The detect drain (`drain`, one worker per partition of services at a time) takes the DetectQueue
rows the ingest drain wrote and scores them step by step (`step`), keeping detector states in
memory and writing them back (`state`); a service's series scored together are also scored jointly
(`multivariate`); anomalies become signals into the incident core (`signals`).
"""
from __future__ import annotations

from monitoring.selectors.series import series_detector

from .drain import series_detect, telemetry_detect_drain, telemetry_detect_kick
from .multivariate import MV_HISTORY_POINTS, MV_MAX_SERIES, MV_MIN_CONTRIBUTORS, MV_UNIVARIATE_SUPPORT
from .records import DetectOutcome
from .signals import RESOLVE_AFTER_NORMAL, SOURCE_KIND, series_fingerprint, service_fingerprint
from .state import detectors_warm, series_states_persist, state_cache_clear
from .step import DETECT_STEP_POINTS, DETECT_STEP_ROWS, telemetry_detect_step

__all__ = [
    "DETECT_STEP_POINTS", "DETECT_STEP_ROWS", "MV_HISTORY_POINTS", "MV_MAX_SERIES", "MV_MIN_CONTRIBUTORS",
    "MV_UNIVARIATE_SUPPORT", "RESOLVE_AFTER_NORMAL", "SOURCE_KIND", "DetectOutcome", "detectors_warm",
    "series_detect", "series_detector", "series_fingerprint", "series_states_persist", "service_fingerprint",
    "state_cache_clear", "telemetry_detect_drain", "telemetry_detect_kick", "telemetry_detect_step",
]
