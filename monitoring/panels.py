"""The incident page's `anomalies` panel: anomalies related to the incident (raised its signals, or on its
services while it was open) with a chart of each affected series around the incident: value, expected band,
anomaly points. Registered from `MonitoringConfig.ready`, so `incidents` never imports `monitoring`."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Max, Q
from django.urls import reverse
from django.utils import timezone

from incidents.panels import Panel, panel_register
from monitoring.models import Anomaly, MetricSeries
from monitoring.selectors.series import series_window

# Anomalies on the incident's services this long before it opened count as related: detection runs
# ahead of the alerts that open an incident (the anomaly is often the first sign).
LEAD = timedelta(hours=1)
# Charts show this much before the first related anomaly and after the incident (or its last anomaly).
MARGIN = timedelta(hours=1)
MAX_SERIES = 4  # charts per incident: the most anomalous series; the monitoring page has the rest
MAX_POINTS_LISTED = 20  # anomaly rows listed per series
CHART_BUCKETS = 120  # points per chart: readable on a phone, cheap to draw


def _related(incident) -> Q:
    services = {incident.service_id, *incident.alerts.values_list("service_id", flat=True)}
    end = (incident.resolved_at or timezone.now()) + MARGIN
    window = Q(series__service_id__in=services, ts__gte=incident.opened_at - LEAD, ts__lte=end)
    alert_ids = list(incident.alerts.values_list("pk", flat=True))
    return Q(incident_id=incident.pk) | Q(alert_id__in=alert_ids) | window


def anomalies_panel_data(*, incident) -> dict[str, Any] | None:
    """JSON-ready: {"series": [{id, metric, service, labels, unit, url, anomalies: [...], chart: {...}}]}."""
    related = Anomaly.objects.filter(_related(incident))
    top = list(related.values("series_id").annotate(worst=Max("score")).order_by("-worst")[:MAX_SERIES])
    if not top:
        return None
    series_by_id = MetricSeries.objects.select_related("service").in_bulk([row["series_id"] for row in top])
    now = timezone.now()
    out = []
    for row in top:
        series = series_by_id[row["series_id"]]
        points = list(related.filter(series_id=series.pk).order_by("ts"))
        start = min(points[0].ts, incident.opened_at) - MARGIN
        end = min(max(points[-1].ts, incident.resolved_at or now) + MARGIN, now)
        if end <= start:
            end = points[-1].ts + MARGIN
        window = series_window(series=series, start=start, end=end, step=(end - start).total_seconds() / CHART_BUCKETS)
        out.append({
            "id": series.pk, "metric": series.metric, "service": series.service.name,
            "labels": series.labels or {}, "unit": series.unit,
            "url": reverse("monitoring:series", args=[series.pk]),
            "anomalies": [{"ts": a.ts.isoformat(), "value": a.value, "expected": a.expected, "lower": a.lower,
                           "upper": a.upper, "score": round(a.score, 3), "direction": a.direction,
                           "reasons": list(a.reasons or [])} for a in points[-MAX_POINTS_LISTED:]],
            "count": len(points), "chart_id": f"anomaly-data-{series.pk}",
            "chart": {"t": [t * 1000 for t in window.t], "mean": window.mean, "expected": window.expected,
                      "lower": window.lower, "upper": window.upper, "unit": series.unit,
                      "anomalies": [{"x": a.ts.timestamp() * 1000, "y": a.value, "score": a.score} for a in points]},
        })
    return {"series": out}


@panel_register("anomalies")
def anomalies_panel(*, incident, user) -> Panel | None:
    data = anomalies_panel_data(incident=incident)
    if data is None:
        return None
    return Panel(key="anomalies", title="Related anomalies", template="monitoring/panels/_anomalies.html",
                 data=data, order=40)
