"""Reads of the monitoring app, one module per area (series, alert intake, ...)."""
from __future__ import annotations
