"""Admin of the monitoring app."""
from __future__ import annotations
