"""Template tags for the monitors' parts of the model pages (status cells on the list, charts on the page)."""
from __future__ import annotations

from django import template

from .. import selectors
from ..choices import MonitorKind, MonitorStatus

register = template.Library()

BADGE: dict[str, str] = {MonitorStatus.OK: "ok", MonitorStatus.WARNING: "sev-3", MonitorStatus.BREACH: "sev-1"}
RECENT_RESULTS = 30  # rows in the model page's results table; the API has the rest


@register.filter
def monitor_badge(status: str) -> str:
    """CSS badge class of a monitor status."""
    return BADGE.get(status, "")


@register.inclusion_tag("models_registry/monitors/health_cells.html")
def monitor_health_cells(model):
    latest = selectors.monitor_latest_status(model=model)
    return {"drift": latest.get(MonitorKind.DATA_DRIFT), "performance": latest.get(MonitorKind.PERFORMANCE)}


@register.inclusion_tag("models_registry/monitors/panel.html")
def monitor_panel(model):
    latest = selectors.monitor_latest_status(model=model)
    return {
        "model": model,
        "latest": [(MonitorKind(kind).label, latest.get(kind)) for kind in MonitorKind.values],
        "series": selectors.monitor_series(model=model),
        "results": selectors.monitor_result_list().filter(model=model)[:RECENT_RESULTS],
    }
