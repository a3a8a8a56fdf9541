"""Alert formats accepted unchanged from monitoring agents; importing this registers them all."""
from __future__ import annotations

from . import alertmanager, grafana, pagerduty  # noqa: F401  (registration)
from .base import IntakeInvalid, ParsedIntake, decode_body  # noqa: F401
from .registry import get_parser, kinds  # noqa: F401
