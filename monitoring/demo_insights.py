"""Demo steps of issue 13: past incidents that resolved the same fault (similar incidents, the playbook that
fixed it), and a disk filling up towards its limit (time to exhaustion with its projected line).

The incident core's storm (postgres-main's pool exhausted, spreading to checkout and the web frontend) then
shows a probable root cause from its alerts and the graph, and these past incidents as similar.
"""
from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from core.models import Service
from incidents import services as incident_services
from incidents.choices import StepStatus
from incidents.contracts import SignalIn, derive_fingerprint
from incidents.models import Alert, PlaybookRun
from incidents.services import playbooks
from monitoring.formats.native import canonical_labels
from monitoring.models import MetricSeries, Point
from monitoring.services.capacity import capacity_forecast_series
from monitoring.services.points import labels_hash

DEMO = {"demo": "insights"}
# The storm's alert in incidents/demo.py: same source, service and labels, so the same fingerprint.
STORM_LABELS = {"alertname": "PgPoolExhausted", "instance": "db-1", "demo": "incident-core"}
PAST = (  # days ago (oldest first), resolution note
    (23, "A deploy leaked connections in checkout-api; rolled back, pool recovered in 4 minutes."),
    (9, "Killed the idle-in-transaction sessions of the reporting job; raised pgbouncer pool to 600."),
)


def run(stdout) -> None:
    """Before the incident core's replay: resolved past incidents of the storm's fault."""
    if Alert.objects.filter(labels__demo=DEMO["demo"]).exists():
        stdout.write("  past incidents already loaded")
        return
    if not Service.objects.filter(name="postgres-main").exists():
        stdout.write("  needs the demo organisation")
        return
    olivia = get_user_model().objects.filter(username="olivia").first()
    fingerprint = derive_fingerprint(source_kind="alertmanager", service="postgres-main", labels=STORM_LABELS,
                                     title="Connection pool exhausted")
    for days, note in PAST:
        at = timezone.now() - timedelta(days=days)
        signal = SignalIn(source_kind="alertmanager", source_name="prometheus-prod", service="postgres-main",
                          title="Connection pool exhausted", fingerprint=fingerprint, severity_hint="critical",
                          labels={"alertname": "PgPoolExhausted", "instance": "db-1", **DEMO},
                          occurred_at=at, received_at=at)
        result = incident_services.signal_ingest(signal=signal)
        if not result.incident_id:
            continue
        run = playbooks.playbook_attach(incident_id=result.incident_id)
        if run is not None and olivia is not None:
            for step in run.steps.filter(status=StepStatus.PENDING).order_by("position")[:3]:
                playbooks.playbook_step_complete(incident_id=result.incident_id, step_run_id=step.pk, user=olivia)
        incident_services.incident_resolve(incident=result.incident_id, user=olivia, note=note,
                                           now=at + timedelta(minutes=40))
        incident_services.signal_ingest(signal=SignalIn(
            source_kind="alertmanager", source_name="prometheus-prod", service="postgres-main",
            title="Connection pool exhausted", fingerprint=fingerprint, status="resolved",
            labels={"alertname": "PgPoolExhausted", "instance": "db-1", **DEMO},
            occurred_at=at + timedelta(minutes=40), received_at=at + timedelta(minutes=40)))
    runs = PlaybookRun.objects.filter(incident__alerts__labels__demo=DEMO["demo"]).distinct().count()
    stdout.write(f"  {len(PAST)} resolved past incidents of the pool fault ({runs} with a playbook run)")


def run_capacity(stdout) -> None:
    """Last: a disk filling up over three days, forecast to reach its limit within the week."""
    service = Service.objects.filter(name="reporting-batch").first()
    if service is None:
        stdout.write("  needs the demo organisation")
        return
    labels = {"volume": "/exports"}
    series, created = MetricSeries.objects.get_or_create(
        service=service, metric="disk_used_gb", labels_hash=labels_hash(canonical_labels(labels)),
        defaults={"labels": labels, "unit": "GB", "capacity_kind": "disk", "capacity_limit": 500.0},
    )
    if created:
        now = timezone.now().replace(minute=0, second=0, microsecond=0)
        Point.objects.bulk_create([
            Point(series=series, ts=now - timedelta(hours=h), value=380.0 - 1.1 * h + (3.0 if h % 24 < 6 else 0.0))
            for h in range(72)
        ], ignore_conflicts=True)
    forecast = capacity_forecast_series(series=series)
    when = forecast.expected_at or forecast.earliest_at if forecast else None
    stdout.write(f"  disk_used_gb on reporting-batch: limit 500 GB, "
                 f"{'reached around ' + f'{when:%Y-%m-%d %H:%M} UTC' if when else 'not reached within the horizon'}"
                 f" (/monitoring/series/{series.pk}/)")
