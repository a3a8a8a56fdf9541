"""Fixtures for the incident core: a signal builder and an ingest shortcut."""
from __future__ import annotations

from datetime import datetime

import pytest
from django.utils import timezone

from incidents.contracts import SignalIn, SignalResult
from incidents.services import signal_ingest


@pytest.fixture
def signal():
    """Build a SignalIn with sensible defaults; keyword arguments override."""

    def make(service, title: str = "High error rate", **kwargs) -> SignalIn:
        kwargs.setdefault("source_kind", "generic")
        kwargs.setdefault("source_name", "test-agent")
        name = service if isinstance(service, str) else service.name
        return SignalIn(service=name, title=title, **kwargs)

    return make


@pytest.fixture
def ingest(signal):
    """Ingest a signal built from the same arguments as `signal`; `at=` sets occurred_at."""

    def run(service, title: str = "High error rate", *, at: datetime | None = None, **kwargs) -> SignalResult:
        kwargs.setdefault("occurred_at", at or timezone.now())
        return signal_ingest(signal=signal(service, title, **kwargs))

    return run
