"""Demo steps: incidents of every level with grouped alerts and held noise; then the response to them.

The response step attaches playbooks, pages by level (in-app list, e-mail in var/mail) and sends a digest.
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from core.models import Service

from . import selectors, services
from .choices import DeliveryStatus, StepStatus
from .contracts import SignalIn, SignalResult
from .models import (
    Alert,
    Delivery,
    GroupingRule,
    Incident,
    NotificationPreference,
    PlaybookRun,
    ServiceIncidentSettings,
    UserNotification,
)
from .services import digests, playbooks

DEMO_LABEL = {"demo": "incident-core"}  # marks the demo's alerts so a second run changes nothing


def _signal(service: str, title: str, *, minutes_ago: float, labels: dict, **kwargs) -> SignalIn:
    # The demo plays history back in one go: each signal "arrives" when it is stamped, so the
    # correlation windows (which run on arrival) group it as they would have live.
    at = timezone.now() - timedelta(minutes=minutes_ago)
    return SignalIn(source_kind=kwargs.pop("source_kind", "alertmanager"),
                    source_name=kwargs.pop("source_name", "prometheus-prod"), service=service, title=title,
                    labels={**labels, **DEMO_LABEL},
                    occurred_at=at, received_at=at, **kwargs)


def _storm(now_minutes: float) -> list[SignalIn]:
    """A database fault that spreads to checkout and the web frontend (Level 1), with repeats."""
    out = []
    for i in range(6):  # Alertmanager re-sends firing alerts: repeats become a counter
        out.append(_signal("postgres-main", "Connection pool exhausted", minutes_ago=now_minutes - i,
                           labels={"alertname": "PgPoolExhausted", "instance": "db-1"}, severity_hint="critical"))
    for i in range(4):
        out.append(_signal("checkout-api", "5xx error rate above 10%", minutes_ago=now_minutes - 2 - i,
                           labels={"alertname": "HighErrorRate", "route": "/checkout"}, severity_hint="critical",
                           kpis=["checkout conversion", "revenue per minute"]))
    out.append(_signal("web-frontend", "Page load p95 above 6 s", minutes_ago=now_minutes - 5,
                       labels={"alertname": "SlowPageLoad"}, severity_hint="warning", source_kind="grafana",
                       source_name="grafana-frontend"))
    return out


def run(stdout) -> None:
    """Incident core demo: incidents of levels 1-4 with grouped alerts, a silence, a flapping alert."""
    if Alert.objects.filter(labels__demo=DEMO_LABEL["demo"]).exists():
        stdout.write("  incident demo already loaded")
        return
    if not Service.objects.filter(name="postgres-main").exists():
        stdout.write("  incident demo needs the demo organisation")
        return
    User = get_user_model()
    olivia = User.objects.filter(username="olivia").first()
    GroupingRule.objects.get_or_create(name="kubernetes node", defaults={"labels": ["node"], "window_minutes": 60})
    ServiceIncidentSettings.objects.get_or_create(service=Service.objects.get(name="reporting-batch"),
                                                  defaults={"min_persistence_seconds": 300})
    # History for MTTA/MTTR: faults from the last days, acknowledged and resolved.
    for day, (ack, fix) in enumerate(((4, 35), (11, 80), (2, 20)), start=1):
        at = timezone.now() - timedelta(days=day, hours=2)
        sig = _signal("checkout-api", f"Latency SLO burn (day -{day})", minutes_ago=(timezone.now() - at)
                      .total_seconds() / 60, labels={"alertname": "LatencySLOBurn", "day": str(day)},
                      severity_hint="high")
        opened = _incident_of(services.signal_ingest(signal=sig))
        services.incident_acknowledge(incident=opened, user=olivia, now=at + timedelta(minutes=ack))
        services.signal_ingest(signal=SignalIn(**{**_as_kwargs(sig), "status": "resolved",
                                                  "occurred_at": at + timedelta(minutes=fix)}))
    results = [services.signal_ingest(signal=s) for s in _storm(now_minutes=40)]
    critical = _incident_of(results[0])
    services.incident_acknowledge(incident=critical, user=olivia)
    services.incident_assign(incident=critical, user=olivia, assignee=olivia)
    services.incident_add_note(incident=critical, user=olivia, text="Pool at 500/500; pgbouncer restarting.")
    # Level 2: the ETA model was slow earlier and its accuracy KPI suffered (well before the storm,
    # so dependency correlation keeps it apart from checkout's incident).
    services.signal_ingest(signal=_signal("journey-eta-model", "Prediction latency p99 above 800 ms",
                                          minutes_ago=110, labels={"alertname": "ModelLatency"},
                                          severity_hint="high", source_kind="model", source_name="eta-monitor",
                                          kpis=["ETA accuracy"]))
    # Level 3: two services on one Kubernetes node grouped by the label rule.
    for service, title in (("web-frontend", "Pod restarts"), ("journey-eta-model", "Container OOM killed")):
        services.signal_ingest(signal=_signal(service, title, minutes_ago=15, severity_hint="warning",
                                              labels={"alertname": title.replace(" ", ""), "node": "ip-10-0-3-7"}))
    # Level 4: a slow nightly export (held until it persisted 5 minutes, then promoted).
    services.signal_ingest(signal=_signal("reporting-batch", "Nightly export 20 min late", minutes_ago=12,
                                          labels={"alertname": "ExportLate"}, severity_hint="info"))
    services.pending_alerts_promote()
    # Noise that stays visible but opens nothing: a maintenance silence and a flapping check.
    services.silence_create(matchers=[{"label": "env", "op": "=", "value": "staging"}], starts_at=None,
                            ends_at=timezone.now() + timedelta(hours=4), comment="Staging DB upgrade", user=olivia)
    for i in range(3):
        services.signal_ingest(signal=_signal("postgres-main", "Replica lag (staging)", minutes_ago=3 - i,
                                              labels={"alertname": "ReplicaLag", "env": "staging"}))
    for i in range(6):
        sig = _signal("web-frontend", "TLS handshake errors", minutes_ago=200 - 4 * i,
                      labels={"alertname": "TLSHandshake"}, severity_hint="warning")
        services.signal_ingest(signal=sig)
        services.signal_ingest(signal=SignalIn(**{**_as_kwargs(sig), "status": "resolved",
                                                  "occurred_at": _occurred_at(sig) + timedelta(minutes=1)}))
    for incident in selectors.incident_list(open_only=True):
        stdout.write(f"  #{incident.pk} L{incident.severity} {incident.get_status_display():13s} "
                     f"{incident.title} ({incident.alert_count} alerts)")
    report = selectors.noise_reduction_report()
    stdout.write(f"  {report.total.signals} signals -> {report.total.incidents} incidents "
                 f"({report.total.reduction:.0%} noise reduction); "
                 f"{Incident.objects.filter(status='resolved').count()} resolved")


def _as_kwargs(signal: SignalIn) -> dict:
    return {name: getattr(signal, name) for name in SignalIn.__dataclass_fields__}


def _occurred_at(signal: SignalIn) -> datetime:
    if signal.occurred_at is None:  # _signal stamps every demo signal
        raise ValueError(f"demo signal {signal.title!r} has no time")
    return signal.occurred_at


def _incident_of(result: SignalResult) -> int:
    if result.incident_id is None:  # the demo's history signals all open incidents
        raise RuntimeError(f"demo signal opened no incident ({result.outcome})")
    return result.incident_id


def _drift_signal() -> SignalIn:
    # Two hours ago: outside the correlation window, so the checkout outage (whose service depends on
    # this model) opens its own incident instead of joining the drift one.
    return SignalIn(source_kind="model", source_name="eta-drift-monitor", service="journey-eta-model",
                    title="Input drift on journey-eta-model (PSI 0.31 on distance)", severity_hint="high",
                    labels={"monitor": "drift", "model": "journey-eta", "demo": "response"},
                    occurred_at=timezone.now() - timedelta(hours=2))


RESPONSE_SIGNALS = (
    SignalIn(source_kind="alertmanager", source_name="demo-alertmanager", service="checkout-api",
             title="Checkout API 5xx above 20% for 5 minutes", severity_hint="critical",
             labels={"alertname": "CheckoutErrors", "env": "prod", "demo": "response"},
             description="Payment confirmations fail; customers cannot complete orders.", kpis=("orders_per_minute",)),
    SignalIn(source_kind="generic", source_name="cron", service="reporting-batch",
             title="Nightly report finished 40 minutes late", severity_hint="info",
             labels={"job": "nightly-report", "demo": "response"}),
)


def run_response(stdout) -> None:
    """Response demo: playbooks attached, notifications by level (in-app + var/mail), a daily digest."""
    User = get_user_model()
    people = {u.username: u for u in User.objects.filter(username__in=["olivia", "max", "erin", "admin"])}
    if "erin" in people:  # the executive reads e-mail only; everyone else keeps e-mail + in-app
        NotificationPreference.objects.get_or_create(user=people["erin"], defaults={"channels": ["email"]})
    incident_ids = []
    for signal in (_drift_signal(), *RESPONSE_SIGNALS):
        result = services.signal_ingest(signal=signal)
        if result.incident_id:
            incident_ids.append(result.incident_id)
    # An operator works the critical incident's playbook: the first steps are ticked.
    operator = people.get("olivia")
    critical = PlaybookRun.objects.filter(incident_id__in=incident_ids).order_by("incident__severity").first()
    if critical and operator:
        for step in critical.steps.filter(status=StepStatus.PENDING).order_by("position")[:2]:
            playbooks.playbook_step_complete(incident_id=critical.incident_id, step_run_id=step.pk, user=operator)
    digest = digests.digest_send(period="daily", today=timezone.localdate() + timedelta(days=1))

    runs = PlaybookRun.objects.filter(incident_id__in=incident_ids).select_related("incident")
    for run in runs:
        stdout.write(f"  incident #{run.incident_id} L{run.incident.severity} {run.incident.title[:50]!r}: "
                     f"playbook {run.playbook_name!r}")
    sent = Counter(Delivery.objects.filter(status=DeliveryStatus.SENT).values_list("channel", flat=True))
    stdout.write(f"  deliveries sent: {dict(sent) or 'none'}; daily digest to {digest.recipients} people")
    notes = Counter(UserNotification.objects.values_list("user__username", flat=True))
    stdout.write(f"  in-app notifications: {dict(notes)} (the bell in the top bar, /incidents/notifications/)")
    if settings.EMAIL_BACKEND.endswith("filebased.EmailBackend"):
        stdout.write(f"  e-mails written to {settings.EMAIL_FILE_PATH}")
