"""Views of the monitoring API."""
from __future__ import annotations
