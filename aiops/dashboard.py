"""Dashboards and reports that span apps: the shell is the one place that reads them all."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.utils import timezone

from core.models import Integration, Service, Team
from incidents.choices import Severity
from incidents.selectors import delivery_stats, incident_counts_by_severity, response_times
from models_registry.selectors import monitor_breaching_models, registry_summary
from monitoring.selectors.series import anomaly_summary


@dataclass(frozen=True, slots=True, kw_only=True)
class Card:
    title: str
    value: str
    link: str = ""
    note: str = ""


def dashboard_cards(*, user: Any = None) -> list[Card]:
    """The home page's cards; links into the Django admin only for staff (anyone else is refused there)."""
    staff = bool(user is not None and getattr(user, "is_staff", False))
    cards = [
        *_incident_cards(),
        _notifications_card(staff=staff),
        Card(title="Services", value=str(Service.objects.count()),
             link="/admin/core/service/" if staff else "/reports/"),
        Card(title="Teams", value=str(Team.objects.count()), link="/admin/core/team/" if staff else ""),
        Card(
            title="Active integrations",
            value=str(Integration.objects.filter(revoked_at__isnull=True).count()),
            link="/admin/core/integration/" if staff else "",
        ),
        _models_card(),
        _telemetry_card(),
    ]
    return cards


def _telemetry_card() -> Card:
    summary = anomaly_summary(since=timezone.now() - timedelta(hours=24))
    return Card(title="Anomalies (24 h)", value=str(summary.anomalies), link="/monitoring/",
                note=f"in {summary.series_with_anomalies} of {summary.series} series")


def _duration(value: timedelta | None) -> str:
    if value is None:
        return "–"
    minutes = value.total_seconds() / 60
    return f"{minutes:.0f} min" if minutes < 120 else f"{minutes / 60:.1f} h"


def _incident_cards() -> list[Card]:
    """Open incidents per level, and MTTA/MTTR over the last 30 days."""
    counts = incident_counts_by_severity()
    cards = [
        Card(title=f"Open L{level} {Severity(level).label}", value=str(counts[level]),
             link=f"/incidents/?severity={level}", note=Severity(level).meaning)
        for level in Severity.values
    ]
    times = response_times(since=timezone.now() - timedelta(days=30))
    cards.append(Card(title="MTTA / MTTR (30 days)", value=f"{_duration(times.mtta)} / {_duration(times.mttr)}",
                      link="/incidents/noise/?days=30",
                      note=f"{times.acknowledged} acknowledged, {times.resolved} resolved of {times.incidents}"))
    return cards


def _notifications_card(*, staff: bool) -> Card:
    stats = delivery_stats(since=timezone.now() - timedelta(hours=24))
    note = f"{stats.failed} failed, {stats.pending} in flight"
    if stats.unhealthy_endpoints:
        note += f"; {stats.unhealthy_endpoints} endpoint(s) unhealthy"
    return Card(title="Notifications sent (24 h)", value=str(stats.sent), note=note,
                link="/admin/incidents/delivery/" if staff else "/incidents/notifications/")


def _models_card() -> Card:
    summary = registry_summary()
    note = "champions / registered"
    if summary.failed_runs_7d:
        note += f" · {summary.failed_runs_7d} failed training run(s) this week"
    breaching = monitor_breaching_models()
    if breaching:
        note += f" · monitors breaching: {', '.join(breaching)}"
    return Card(title="Models serving", value=f"{summary.serving}/{summary.registered}", link="/models/", note=note)

