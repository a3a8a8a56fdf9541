"""Registering models and moving the champion alias (promotion happens in the gate, rollback here)."""
from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from core.models import Service, Team

from ..choices import GateOutcome, ModelTask, VersionAlias, VersionStatus
from ..exceptions import NoChampion
from ..models import GateDecision, ModelVersion, RegisteredModel
from ..pipelines import get_pipeline


def registered_model_get_or_create(
    *,
    name: str,
    pipeline: str,
    team: Team,
    purpose: str = "",
    business_kpi: str = "",
    service: Service | None = None,
) -> RegisteredModel:
    """The model named `name`, created with the pipeline's task if new (an unknown pipeline raises KeyError)."""
    task = get_pipeline(pipeline).task
    model, _ = RegisteredModel.objects.get_or_create(
        name=name,
        defaults={"pipeline": pipeline, "team": team, "purpose": purpose, "business_kpi": business_kpi,
                  "service": service, "task": ModelTask(task)},
    )
    return model


def champion_replace(*, model: RegisteredModel, new: ModelVersion, old: ModelVersion | None, old_status: str) -> None:
    """Move the champion alias from `old` to `new` (caller holds the model row lock, inside a transaction).

    The old alias is cleared first: the one-champion constraint holds at every statement.
    """
    if old is not None:
        old.alias = VersionAlias.NONE
        old.status = old_status
        old.save(update_fields=["alias", "status"])
    new.alias = VersionAlias.CHAMPION
    new.status = VersionStatus.CHAMPION
    new.promoted_at = timezone.now()
    new.save(update_fields=["alias", "status", "promoted_at"])


@transaction.atomic
def model_rollback(*, model: RegisteredModel, decided_by: str = "", reason: str = "") -> GateDecision:
    """Restore the most recently retired champion; the current one is marked rolled back. Recorded as a decision."""
    RegisteredModel.objects.select_for_update().get(pk=model.pk)
    current = ModelVersion.objects.filter(model=model, alias=VersionAlias.CHAMPION).first()
    if current is None:
        raise NoChampion(f"model {model.name!r} has no champion to roll back from")
    previous = (
        ModelVersion.objects.filter(model=model, status=VersionStatus.RETIRED)
        .exclude(pk=current.pk)
        .order_by("-promoted_at", "-version")
        .first()
    )
    if previous is None:
        raise NoChampion(f"model {model.name!r} has no previous champion to roll back to")
    champion_replace(model=model, new=previous, old=current, old_status=VersionStatus.ROLLED_BACK)
    reasons = [f"rollback: v{current.version} replaced by previous champion v{previous.version}"]
    if reason:
        reasons.append(reason)
    return GateDecision.objects.create(
        model=model, challenger=previous, champion=current, decision=GateOutcome.ROLLBACK, reasons=reasons,
        metrics={"challenger": previous.metrics, "champion": current.metrics}, decided_by=decided_by,
    )
