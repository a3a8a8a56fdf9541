"""Time to exhaustion: the forecast on arrays, and the signal raised when the limit is near and cleared when
the trend turns."""
from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from core.choices import Role
from incidents.models import Alert
from monitoring.models import CapacityForecast, Point
from monitoring.services.capacity import capacity_fingerprint, capacity_forecast_all, forecast_exhaustion
from monitoring.services.capacity.backtest import run


@pytest.mark.parametrize(("name", "slope", "expect_risk"), [
    ("steady_growth_reaches_the_limit_in_about_two_days", 1.0, True),
    ("flat_line_then_noise", 0.0, False),
    ("shrinking_after_a_cleanup", -0.5, False),
])
def test_forecast_on_named_series(name, slope, expect_risk):
    rng = np.random.default_rng(1)
    hours = np.arange(-72.0, 1.0)
    values = 50 + slope * hours + rng.normal(0, 0.5, hours.size)  # level 50 now, limit 100
    result = forecast_exhaustion(hours=hours, values=values, limit=100.0, horizon_hours=168)
    assert result is not None
    assert result.at_risk is expect_risk
    if expect_risk:
        assert result.expected_hours == pytest.approx(50, abs=3)
        assert result.earliest_hours <= result.expected_hours <= result.latest_hours


def test_too_few_points_give_no_forecast():
    assert forecast_exhaustion(hours=np.array([-2.0, -1.0]), values=np.array([1.0, 2.0]), limit=10,
                               horizon_hours=168) is None


def test_backtest_reports_error_and_coverage():
    result = run(n=60, seed=2)
    assert result.predicted > 30
    assert result.median_abs_error_hours < 12
    assert 0.5 <= result.coverage <= 1.0
    assert result.false_alarms == 0


def _points(series, *, start, hours, level, slope):
    Point.objects.bulk_create([
        Point(series=series, ts=start + timedelta(hours=h), value=level + slope * h) for h in range(hours)
    ], ignore_conflicts=True)


@pytest.mark.django_db
def test_a_capacity_signal_is_raised_with_the_predicted_time_and_cleared_when_the_trend_turns(
        make_series, client_as, settings):
    settings.CAPACITY_HORIZON_HOURS = 168
    now = timezone.now().replace(microsecond=0) - timedelta(hours=36)  # the first forecast, a day and a half ago
    series = make_series(metric="disk_used_gb", capacity_kind="disk", capacity_limit=500.0)
    _points(series, start=now - timedelta(hours=71), hours=72, level=300.0, slope=2.0)  # 442 now: ~29 h left
    assert capacity_forecast_all(now=now) == 1
    forecast = CapacityForecast.objects.get(series=series)
    assert forecast.signal_open
    assert abs((forecast.expected_at - now).total_seconds() / 3600 - 29) < 2
    alert = Alert.objects.get(fingerprint=capacity_fingerprint(series))
    assert alert.status == "firing" and alert.incident_id is not None
    assert alert.payload["expected_at"] == forecast.expected_at.isoformat()
    assert "reaches its limit around" in alert.title

    # Space freed: the values fall for the next day and a half; the next forecast resolves the signal.
    later = now + timedelta(hours=36)
    _points(series, start=now + timedelta(hours=1), hours=36, level=300.0, slope=-1.0)
    Point.objects.filter(series=series, ts__lt=later - timedelta(hours=30)).delete()
    capacity_forecast_all(now=later)
    assert not CapacityForecast.objects.get(series=series).signal_open
    alert.refresh_from_db()
    assert alert.status == "resolved"

    page = client_as(Role.MANAGER)
    page.force_login(page.handler._force_user)
    body = page.get(f"/monitoring/series/{series.pk}/").content.decode()
    assert "projection" in body and "Capacity (Disk)" in body
