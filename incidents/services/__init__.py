"""Writes of the incidents app; `signal_ingest` is the entry point every other app uses."""
from __future__ import annotations

from .lifecycle import (
    IllegalTransition,
    incident_acknowledge,
    incident_add_note,
    incident_assign,
    incident_close,
    incident_investigate,
    incident_mitigate,
    incident_reopen,
    incident_resolve,
    incident_transition,
)
from .signals import pending_alerts_promote, signal_ingest, signals_ingest
from .silences import silence_create, silence_expire

__all__ = [
    "IllegalTransition",
    "incident_acknowledge",
    "incident_add_note",
    "incident_assign",
    "incident_close",
    "incident_investigate",
    "incident_mitigate",
    "incident_reopen",
    "incident_resolve",
    "incident_transition",
    "pending_alerts_promote",
    "signal_ingest",
    "signals_ingest",
    "silence_create",
    "silence_expire",
]
