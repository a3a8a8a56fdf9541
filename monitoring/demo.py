"""Demo step: three days of seasonal telemetry for the demo services, then a checkout fault that becomes an incident."""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import orjson
from django.utils import timezone

from core.choices import IntegrationKind
from core.models import Integration, Service
from core.services import integration_create, service_get_or_create
from incidents.models import Incident
from monitoring.choices import AlertIntakeKind, SeriesKind
from monitoring.models import AlertIntake, Anomaly, MetricSeries, Point

from .formats.native import MAX_BATCH_POINTS
from .services import intake as intake_services
from .services import telemetry as telemetry_services

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
                    "unit": m.unit, "kind": m.kind} for t, v in zip(ts, values, strict=False)]
    return points


def run(stdout) -> None:
    """Telemetry: three days of seasonal metrics for five services, then a checkout fault (anomaly → incident)."""
    services = set(Service.objects.filter(name__in={m.service for m in METRICS}).values_list("name", flat=True))
    metrics = [m for m in METRICS if m.service in services]
    if not metrics:
        stdout.write("  telemetry: demo services missing, skipped")
        return
    recent = Point.objects.filter(series__service__name="checkout-api", ts__gte=timezone.now() - timedelta(minutes=30))
    if recent.exists():
        stdout.write("  telemetry: already streamed in the last half hour, skipped")
        return
    integration = Integration.objects.filter(name=INTEGRATION_NAME, kind=IntegrationKind.GENERIC).first()
    if integration is None:
        integration, _ = integration_create(kind=IntegrationKind.GENERIC, name=INTEGRATION_NAME,
                                            service=Service.objects.get(name=metrics[0].service))
    # One agent streams all five services: each must be on its integration's list to be accepted.
    integration.extra_services.set(Service.objects.filter(name__in=services))
    started = time.perf_counter()
    points = [p for p in generate(end=time.time() - 60) if p["service"] in services]
    points.sort(key=lambda p: p["timestamp"])  # streamed in time order, as agents would send it
    for i in range(0, len(points), MAX_BATCH_POINTS):
        telemetry_services.telemetry_receive(
            integration=integration, body=orjson.dumps({"points": points[i:i + MAX_BATCH_POINTS]})
        )
    anomalies = Anomaly.objects.filter(series__in=MetricSeries.objects.filter(service__name__in=services))
    fault = anomalies.filter(series__service__name="checkout-api", ts__gte=timezone.now() - timedelta(hours=1))
    incident_ids = sorted({i for i in fault.values_list("incident_id", flat=True) if i})
    stdout.write(
        f"  telemetry: {len(points):,} points in {len(metrics)} series streamed in "
        f"{time.perf_counter() - started:.1f} s; "
        f"{anomalies.count()} anomalies, checkout fault → incident(s) {incident_ids or 'none'}"
    )


# --- alert intake: what Alertmanager and a PagerDuty client send, through the real intake path ---

INTAKE_SERVICE = "payments-gateway"  # its own service (no dependencies), so its incident stands apart
AM_INTEGRATION_NAME = "demo-alertmanager"
PD_INTEGRATION_NAME = "demo-pagerduty"


def alertmanager_group(*, now: float) -> dict:
    """A webhook notification exactly as Alertmanager 0.2x sends it: one group of two firing alerts."""
    starts = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(now - 240))
    common = {"alertname": "PaymentProviderErrors", "service": INTAKE_SERVICE, "job": "payments-gateway",
              "provider": "card-acquirer", "severity": "critical"}
    alerts = [
        {"status": "firing",
         "labels": {**common, "instance": f"payments-gw-{n}:9102"},
         "annotations": {"summary": f"Card acquirer errors at {rate} % on payments-gw-{n}",
                         "description": "Authorisations to the card acquirer fail (HTTP 502) above the 2 % SLO "
                                        "for 4 minutes; customers cannot pay.",
                         "runbook_url": "https://runbooks.example.com/payments/provider-errors"},
         "startsAt": starts, "endsAt": "0001-01-01T00:00:00Z",
         "generatorURL": "http://prometheus.example.com:9090/graph?g0.expr=payment_provider_error_ratio+%3E+0.02",
         "fingerprint": fingerprint}
        for n, rate, fingerprint in ((1, 12, "9c1f0e6a4b2d7e31"), (2, 9, "9c1f0e6a4b2d7e32"))
    ]
    return {
        "receiver": "aiops", "status": "firing", "alerts": alerts,
        "groupLabels": {"alertname": "PaymentProviderErrors", "service": INTAKE_SERVICE},
        "commonLabels": common,
        "commonAnnotations": {"runbook_url": "https://runbooks.example.com/payments/provider-errors"},
        "externalURL": "http://alertmanager.example.com:9093", "version": "4",
        "groupKey": '{}:{alertname="PaymentProviderErrors", service="payments-gateway"}', "truncatedAlerts": 0,
    }


def pagerduty_event(*, routing_key: str, now: float) -> dict:
    """An Events API v2 trigger as a synthetic-check tool sends it through a PagerDuty client library."""
    return {
        "routing_key": routing_key, "event_action": "trigger", "dedup_key": "synthetic-checkout-payment-eu-west-1",
        "payload": {
            "summary": "Synthetic checkout payment failing from eu-west-1 (3 of 3 runs)",
            "source": "synthetics-eu-west-1", "severity": "error",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(now - 60)),
            "component": INTAKE_SERVICE, "group": "payments", "class": "synthetic-check",
            "custom_details": {"step": "3-ds authorisation", "http_status": 502, "runs_failed": 3},
        },
        "links": [{"href": "https://synthetics.example.com/checks/checkout-payment", "text": "Check history"}],
        "client": "Synthetics", "client_url": "https://synthetics.example.com",
    }


def run_alert_intake(stdout) -> None:
    """Alert intake: an Alertmanager group and a PagerDuty event through the intake endpoints' service path."""
    owner = Service.objects.filter(name="checkout-api").select_related("team").first()
    if owner is None:
        stdout.write("  alert intake: demo services missing, skipped")
        return
    done = AlertIntake.objects.filter(integration__name__in=[AM_INTEGRATION_NAME, PD_INTEGRATION_NAME])
    if done.exists():
        stdout.write("  alert intake: already loaded, skipped; " + _intake_summary(done))
        return
    service = service_get_or_create(name=INTAKE_SERVICE, team=owner.team, tier=owner.tier, downtime_cost_per_minute=900)
    # Tokens are shown once, so the integrations are made here, each with its own (not printed).
    Integration.objects.filter(name__in=[AM_INTEGRATION_NAME, PD_INTEGRATION_NAME]).delete()
    am, _ = integration_create(kind=IntegrationKind.ALERTMANAGER, name=AM_INTEGRATION_NAME, service=service)
    _, pd_token = integration_create(kind=IntegrationKind.PAGERDUTY, name=PD_INTEGRATION_NAME, service=service)
    now = time.time()
    intake_services.alert_intake_receive(integration=am, kind=AlertIntakeKind.ALERTMANAGER,
                                         raw=orjson.dumps(alertmanager_group(now=now)))
    intake_services.pagerduty_event_receive(raw=orjson.dumps(pagerduty_event(routing_key=pd_token, now=now)))
    # With in-process tasks the kick has drained the rows already; with a broker, drain here.
    intake_services.alert_intakes_drain()
    stdout.write("  alert intake: " + _intake_summary(done))


def _intake_summary(rows) -> str:
    rows = list(rows.order_by("pk"))
    incident_ids = sorted({o["incident_id"] for row in rows for o in row.outcomes if o.get("incident_id")})
    made = [f"incident #{i.pk} (Level {i.severity}, {i.alerts.count()} alerts): {i.title}"
            for i in Incident.objects.filter(pk__in=incident_ids)]
    return "; ".join(
        f"{row.get_kind_display()} intake #{row.pk}, {row.event_count} event{'s' * (row.event_count != 1)} "
        f"{row.status} ({', '.join(o['outcome'] for o in row.outcomes) or row.error or 'queued'})" for row in rows
    ) + " → " + ("; ".join(made) or "no incident yet")
