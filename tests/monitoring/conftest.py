"""Fixtures of the monitoring tests."""
from __future__ import annotations

import pytest

from monitoring.services import points as point_services


@pytest.fixture(autouse=True)
def _fresh_series_cache():
    """Series ids are cached per process; each test's database rolls back, so start clean."""
    point_services.series_cache_clear()
    yield
    point_services.series_cache_clear()
