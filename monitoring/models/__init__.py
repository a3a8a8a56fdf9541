"""Models of the monitoring app; each module holds one area, re-exported here."""
from __future__ import annotations
