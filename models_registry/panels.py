"""The incident page's `model` panel: for an incident raised by a model monitor, the model's performance over
time (measured weeks only: a week never measured is a gap) and a link to its page. Registered from
`ModelsRegistryConfig.ready`, so `incidents` never imports `models_registry`."""
from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.urls import reverse

from incidents.panels import Panel, panel_register

from .choices import ModelTask
from .models import MonitorResult, RegisteredModel
from .selectors import model_champion, monitor_latest_status, monitor_series
from .views import CHART_METRICS

MAX_MODELS = 3  # one incident rarely concerns more; each gets a chart


def _models_of(incident) -> list[RegisteredModel]:
    """Models named by the incident's model alerts (label `model`) or whose monitor results raised it."""
    names = {
        (labels or {}).get("model")
        for labels in incident.alerts.filter(source_kind="model").values_list("labels", flat=True)
    }
    names.discard(None)
    ids = set(MonitorResult.objects.filter(incident_id=incident.pk).values_list("model_id", flat=True))
    if not names and not ids:
        return []
    return list(RegisteredModel.objects.filter(Q(name__in=names) | Q(pk__in=ids)).order_by("name")[:MAX_MODELS])


def model_panel_data(*, incident) -> dict[str, Any] | None:
    """JSON-ready: {"models": [{name, url, task, champion, monitors: [...], chart: {labels, left, right}}]}."""
    models = _models_of(incident)
    if not models:
        return None
    out = []
    for model in models:
        series = monitor_series(model=model)
        wanted: dict[str, list[str]] = CHART_METRICS.get(ModelTask(model.task), {"left": [], "right": []})
        performance: dict[str, list] = series["performance"]  # type: ignore[assignment]
        periods: list[str] = series["periods"]  # type: ignore[assignment]
        champion = model_champion(model=model)
        latest = monitor_latest_status(model=model)
        out.append({
            "name": model.name, "url": reverse("models_registry:detail", args=[model.name]),
            "task": model.get_task_display(),
            "champion": champion.version if champion else None,
            "monitors": [{"kind": r.get_kind_display(), "status": r.status, "status_label": r.get_status_display(),
                          "period_end": r.period_end.isoformat(), "reason": (r.reasons or [""])[0]}
                         for r in latest.values()],
            "chart_id": f"model-metrics-{model.pk}",
            "chart": {
                "labels": [p[:10] for p in periods],
                "left": {k: performance[k] for k in wanted["left"] if k in performance},
                "right": {k: performance[k] for k in [*wanted["right"], "recall_at_budget", "precision_at_budget"]
                          if k in performance},
            },
        })
    return {"models": out}


@panel_register("model")
def model_panel(*, incident, user) -> Panel | None:
    data = model_panel_data(incident=incident)
    if data is None:
        return None
    return Panel(key="model", title="Model", template="models_registry/panels/_model.html", data=data, order=45)
