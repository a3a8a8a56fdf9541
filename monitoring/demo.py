"""Demo step: three days of seasonal telemetry for the demo services, then a checkout fault that becomes an incident."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import orjson
from django.utils import timezone

from core.choices import IntegrationKind
from core.models import Integration, Service
from core.services import integration_create
from monitoring.choices import SeriesKind
from monitoring.models import Anomaly, MetricSeries, Point

from .services import telemetry as telemetry_services
from .services.telemetry_input import MAX_BATCH_POINTS

STEP = 300.0  # five-minute samples: three days are ~860 points a series, a few seconds on SQLite
DAYS = 3
FAULT_POINTS = 6  # the last half hour of checkout-api goes wrong
INTEGRATION_NAME = "demo-telemetry"


@dataclass(frozen=True, slots=True, kw_only=True)
class DemoMetric:
    service: str
    metric: str
    base: float
    daily: float  # amplitude of the daily cycle, as a share of base
    noise: float  # standard deviation, as a share of base
    unit: str = ""
    kind: str = SeriesKind.SYSTEM
    fault: float = 1.0  # multiplier during the fault (1 = unaffected)


METRICS = (
    DemoMetric(service="checkout-api", metric="latency_p99_ms", base=220, daily=0.25, noise=0.03, unit="ms", fault=3.2),
    DemoMetric(service="checkout-api", metric="error_rate", base=0.004, daily=0.1, noise=0.08, unit="1", fault=9.0),
    DemoMetric(service="checkout-api", metric="orders_per_minute", base=120, daily=0.6, noise=0.04,
               kind=SeriesKind.BUSINESS, fault=0.35),
    DemoMetric(service="postgres-main", metric="cpu_percent", base=35, daily=0.3, noise=0.04, unit="%"),
    DemoMetric(service="postgres-main", metric="connections", base=80, daily=0.2, noise=0.03),
    DemoMetric(service="web-frontend", metric="page_load_ms", base=900, daily=0.2, noise=0.03, unit="ms"),
    DemoMetric(service="journey-eta-model", metric="prediction_mae_minutes", base=11, daily=0.1, noise=0.03,
               kind=SeriesKind.MODEL),
)


def generate(*, end: float, seed: int = 7) -> list[dict]:
    """Points of every demo metric: a daily cycle (peaking mid-afternoon UTC), a weekly dip, noise, the fault."""
    rng = np.random.default_rng(seed)
    n = int(DAYS * 86400 / STEP)
    ts = end - STEP * np.arange(n)[::-1]
    day = np.sin(2 * np.pi * (ts / 86400 - 0.375))  # peak at 15:00 UTC
    week = 1 - 0.1 * (((ts // 86400) + 4) % 7 >= 5)  # weekends are 10 % quieter
    points = []
    for m in METRICS:
        values = m.base * (1 + m.daily * day) * week * (1 + rng.normal(0, m.noise, n))
        values[-FAULT_POINTS:] *= m.fault
        points += [{"service": m.service, "metric": m.metric, "timestamp": float(t), "value": float(v),
                    "unit": m.unit, "kind": m.kind} for t, v in zip(ts, values)]
    return points


def run(stdout) -> None:
    """Telemetry: three days of seasonal metrics for five services, then a checkout fault (anomaly → incident)."""
    services = set(Service.objects.filter(name__in={m.service for m in METRICS}).values_list("name", flat=True))
    metrics = [m for m in METRICS if m.service in services]
    if not metrics:
        stdout.write("  telemetry: demo services missing, skipped")
        return
    recent = Point.objects.filter(series__service__name="checkout-api", ts__gte=timezone.now() - timezone.timedelta(minutes=30))
    if recent.exists():
        stdout.write("  telemetry: already streamed in the last half hour, skipped")
        return
    integration = Integration.objects.filter(name=INTEGRATION_NAME, kind=IntegrationKind.GENERIC).first()
    if integration is None:
        integration, _ = integration_create(kind=IntegrationKind.GENERIC, name=INTEGRATION_NAME,
                                            service=Service.objects.get(name=metrics[0].service))
    started = time.perf_counter()
    points = [p for p in generate(end=time.time() - 60) if p["service"] in services]
    points.sort(key=lambda p: p["timestamp"])  # streamed in time order, as agents would send it
    for i in range(0, len(points), MAX_BATCH_POINTS):
        telemetry_services.telemetry_receive(
            integration=integration, body=orjson.dumps({"points": points[i:i + MAX_BATCH_POINTS]})
        )
    anomalies = Anomaly.objects.filter(series__in=MetricSeries.objects.filter(service__name__in=services))
    fault = anomalies.filter(series__service__name="checkout-api", ts__gte=timezone.now() - timezone.timedelta(hours=1))
    incident_ids = sorted({i for i in fault.values_list("incident_id", flat=True) if i})
    stdout.write(
        f"  telemetry: {len(points):,} points in {len(metrics)} series streamed in {time.perf_counter() - started:.1f} s; "
        f"{anomalies.count()} anomalies, checkout fault → incident(s) {incident_ids or 'none'}"
    )
