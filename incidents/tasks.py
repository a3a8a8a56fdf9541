"""Tasks of the incidents app."""
from __future__ import annotations
