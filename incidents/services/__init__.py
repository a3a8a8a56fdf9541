"""Writes of the incidents app; `signal_ingest` is the entry point every other app uses."""
from __future__ import annotations
