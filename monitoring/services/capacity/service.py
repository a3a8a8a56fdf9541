"""Recompute capacity forecasts on a schedule; raise a signal when the limit is near, resolve it when not.

A series with a capacity kind and a limit is fitted on its last CAPACITY_FIT_HOURS of hourly means. When
the interval's upper bound reaches the limit within CAPACITY_HORIZON_HOURS, a firing signal with the
predicted time goes to the incident core (one fingerprint per series, so repeats only count); when a
later forecast no longer reaches it (the trend turned, space was freed), the same fingerprint resolves.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from incidents import services as incident_services
from incidents.contracts import InvalidSignal, SignalIn
from monitoring.models import CapacityForecast, MetricSeries, Point

from .forecast import Exhaustion, forecast_exhaustion

logger = logging.getLogger(__name__)

SOURCE_NAME = "capacity-forecast"
PROJECTION_STEP_HOURS = 1.0  # the page draws the projection hour by hour


def capacity_fingerprint(series: MetricSeries) -> str:
    return f"capacity:series:{series.pk}"


def _hourly(series: MetricSeries, *, now: datetime) -> tuple[np.ndarray, np.ndarray]:
    start = now - timedelta(hours=settings.CAPACITY_FIT_HOURS)
    rows = list(Point.objects.filter(series=series, ts__gte=start, ts__lte=now).values_list("ts", "value"))
    if not rows:
        return np.zeros(0), np.zeros(0)
    hours = np.array([(ts - now).total_seconds() / 3600.0 for ts, _v in rows])
    values = np.array([v for _ts, v in rows], dtype=float)
    buckets = np.floor(hours).astype(int)
    keys, inverse = np.unique(buckets, return_inverse=True)
    sums = np.bincount(inverse, weights=values)
    counts = np.bincount(inverse)
    return keys.astype(float) + 0.5, sums / counts  # hourly means at mid-hour


def _at(now: datetime, hours: float | None) -> datetime | None:
    return now + timedelta(hours=hours) if hours is not None else None


def capacity_forecast_series(*, series: MetricSeries, now: datetime | None = None) -> CapacityForecast | None:
    """Forecast one series, store it, and raise or resolve its signal. None: too little data."""
    now = now or timezone.now()
    if series.capacity_limit is None:
        return None
    hours, values = _hourly(series, now=now)
    result = forecast_exhaustion(hours=hours, values=values, limit=series.capacity_limit,
                                 horizon_hours=float(settings.CAPACITY_HORIZON_HOURS),
                                 step_hours=PROJECTION_STEP_HOURS)
    if result is None:
        return None
    with transaction.atomic():
        previous = CapacityForecast.objects.select_for_update().filter(series=series).first()
        was_open = bool(previous and previous.signal_open)
        forecast, _ = CapacityForecast.objects.update_or_create(series=series, defaults={
            "computed_at": now, "limit": series.capacity_limit, "level": result.level,
            "slope_per_hour": result.slope_per_hour, "expected_at": _at(now, result.expected_hours),
            "earliest_at": _at(now, result.earliest_hours), "latest_at": _at(now, result.latest_hours),
            "horizon_hours": result.horizon_hours, "signal_open": result.at_risk,
            "projection": {"hours": list(result.projection_hours), "mean": list(result.projection_mean),
                           "upper": list(result.projection_upper)},
        })
    if result.at_risk or was_open:
        _signal(series, result, now=now, firing=result.at_risk)
    return forecast


def _signal(series: MetricSeries, result: Exhaustion, *, now: datetime, firing: bool) -> None:
    service = series.service.name
    if firing:
        expected = _at(now, result.expected_hours)
        earliest = _at(now, result.earliest_hours)
        when = expected or earliest
        assert when is not None  # at risk: the upper bound crosses within the horizon
        title = f"{series.metric} on {service} reaches its limit around {when:%Y-%m-%d %H:%M} UTC"
        severity = "high" if (result.earliest_hours or 0) <= 24 else "warning"
    else:
        title = f"{series.metric} on {service} no longer heading for its limit"
        severity = ""
    payload = {
        "series_id": series.pk, "metric": series.metric, "capacity_kind": series.capacity_kind,
        "limit": series.capacity_limit, "level": result.level, "slope_per_hour": result.slope_per_hour,
        "expected_at": _iso(_at(now, result.expected_hours)), "earliest_at": _iso(_at(now, result.earliest_hours)),
        "latest_at": _iso(_at(now, result.latest_hours)), "horizon_hours": result.horizon_hours,
    }
    signal = SignalIn(
        source_kind="anomaly", source_name=SOURCE_NAME, service=service, title=title,
        fingerprint=capacity_fingerprint(series), status="firing" if firing else "resolved",
        severity_hint=severity, labels={"metric": series.metric, "capacity": series.capacity_kind or "capacity"},
        description=f"Trend {result.slope_per_hour:+.4g}/h from {result.level:.4g} towards {series.capacity_limit:g}.",
        payload=payload, occurred_at=now,
        links=[{"href": f"{settings.SITE_URL}/monitoring/series/{series.pk}/", "text": f"Chart of {series.metric}"}],
    )
    try:
        incident_services.signal_ingest(signal=signal)
    except InvalidSignal:
        logger.exception("capacity signal for series %s rejected by the incident core", series.pk)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def capacity_forecast_all(*, now: datetime | None = None) -> int:
    """Forecast every capacity series (the beat task); returns how many were forecast."""
    done = 0
    for series in MetricSeries.objects.filter(capacity_limit__isnull=False).select_related("service"):
        try:
            done += capacity_forecast_series(series=series, now=now) is not None
        except Exception:  # one bad series must not stop the others
            logger.exception("capacity forecast of series %s failed", series.pk)
    return done
