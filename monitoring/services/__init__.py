"""Writes of the monitoring app, one module per area (telemetry, alert intake, ...)."""
from __future__ import annotations
