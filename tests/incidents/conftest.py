"""Fixtures for the incident core: a signal builder, an ingest shortcut and resolved history."""
from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from incidents.choices import IncidentStatus
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


@pytest.fixture
def make_history(make_incident):
    """Past incidents whose true level follows how many KPIs and tier-1 services they touched."""

    def make(service, n: int, seed: int = 1) -> None:
        rng = random.Random(seed)
        now = timezone.now()
        for i in range(n):
            kpis = rng.choice([0, 0, 1, 3])
            tier1 = rng.choice([0, 1])
            level = 1 if kpis >= 3 else 2 if tier1 or kpis else 4
            services = {f"s{j}": 1 for j in range(tier1)} | {"batch": 4}
            features = {"services": services, "kpis": [f"k{j}" for j in range(kpis)], "hint": "", "alerts": 1,
                        "duration_minutes": rng.uniform(1, 30)}
            make_incident(title=f"past {i}", service=service, severity=level, severity_features=features,
                          status=IncidentStatus.RESOLVED, opened_at=now - timedelta(days=3),
                          resolved_at=now - timedelta(days=2), with_alert=False)

    return make
