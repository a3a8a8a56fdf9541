"""The default detector (placeholder: EWMA until the seasonal ensemble lands)."""
from __future__ import annotations

from typing import ClassVar

from ..registry import register
from .ewma import EwmaDetector


@register
class AdaptiveDetector(EwmaDetector):
    name: ClassVar[str] = "adaptive"
