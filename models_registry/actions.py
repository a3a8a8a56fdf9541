"""Playbook actions of the models_registry app: retrain a model, roll a model back.

Registered with the incident core, which runs them without importing this app.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from core.exceptions import DomainError
from incidents.playbooks.actions import ActionResult, register_action

from . import selectors, services
from .choices import TrainingTrigger
from .models import RegisteredModel

MODEL_LABEL = "model"  # the label model monitors put on their signals


def _models_for(*, incident: Any, params: dict) -> list[RegisteredModel]:
    """The model named in params, else the one named by the incident's alerts, else the models of its service."""
    name = params.get("model")
    if not name:
        for labels in incident.alerts.values_list("labels", flat=True):
            if isinstance(labels, dict) and labels.get(MODEL_LABEL):
                name = labels[MODEL_LABEL]
                break
    if name:
        return [selectors.model_get_by_name(name=str(name))]
    return list(RegisteredModel.objects.filter(service_id=incident.service_id).order_by("name"))


def _as_of(params: dict) -> datetime | None:
    raw = params.get("as_of")
    if not raw:
        return None
    moment = datetime.fromisoformat(str(raw))
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)


@register_action("retrain_model")
def retrain_model(*, incident: Any, params: dict) -> ActionResult:
    """Queue a challenger (params: model, as_of); the gate promotes it only if it beats the champion."""
    try:
        models = _models_for(incident=incident, params=params)
        if not models:
            return ActionResult(ok=False, detail="no registered model for this incident (pass params.model)")
        runs = [
            services.training_run_start(model=model, as_of=_as_of(params), trigger=TrainingTrigger.PLAYBOOK)
            for model in models
        ]
    except (DomainError, ValueError) as exc:
        return ActionResult(ok=False, detail=str(exc))
    return ActionResult(
        ok=True,
        detail="; ".join(f"training run {run.pk} queued for {run.model.name}" for run in runs),
        data={"training_runs": [run.pk for run in runs], "models": [run.model.name for run in runs]},
    )


@register_action("rollback_model")
def rollback_model(*, incident: Any, params: dict) -> ActionResult:
    """Restore the previous champion (params: model, reason)."""
    try:
        models = _models_for(incident=incident, params=params)
        if len(models) != 1:
            return ActionResult(
                ok=False, detail=f"rollback needs exactly one model, found {len(models)} (pass params.model)"
            )
        decision = services.model_rollback(
            model=models[0], decided_by=f"playbook (incident {incident.pk})",
            reason=str(params.get("reason") or f"incident {incident.pk}"),
        )
    except DomainError as exc:
        return ActionResult(ok=False, detail=exc.message)
    restored, rolled_back = decision.challenger, decision.champion
    assert restored is not None and rolled_back is not None  # a rollback decision names both versions
    return ActionResult(
        ok=True,
        detail=f"{models[0].name}: v{restored.version} restored, v{rolled_back.version} rolled back",
        data={
            "model": models[0].name,
            "champion": restored.version,
            "rolled_back": rolled_back.version,
        },
    )
