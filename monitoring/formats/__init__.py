"""Input formats side by side: alert formats accepted unchanged from agents (importing this registers
them all) and the native telemetry format (`native`)."""
from __future__ import annotations

from . import alertmanager, grafana, pagerduty  # noqa: F401  (registration)
from .base import IntakeInvalid, ParsedIntake, decode_body  # noqa: F401
from .registry import get_parser, kinds  # noqa: F401
