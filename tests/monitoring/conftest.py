"""Fixtures of the monitoring tests."""
from __future__ import annotations

import pytest

from monitoring.services import anomalies as anomaly_services
from monitoring.services import points as point_services


def _caches_clear() -> None:
    point_services.series_cache_clear()
    point_services.stored_max_clear()
    anomaly_services.state_cache_clear()


@pytest.fixture(autouse=True)
def _fresh_series_cache():
    """Series ids, newest stored times and detector states are kept per process; each test's
    database rolls back, so start clean."""
    _caches_clear()
    yield
    _caches_clear()
