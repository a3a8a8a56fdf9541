"""Pages of the models_registry app: models with health at a glance, and one model's history."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from core.choices import Role
from core.exceptions import DomainError
from core.selectors import user_has_role

from . import selectors, services
from .choices import ModelTask, TrainingTrigger
from .exceptions import ModelNotFound
from .services.shadow import shadow_comparison

# Metrics charted per task: the business metrics the gate judges, plus one statistical companion.
CHART_METRICS = {
    ModelTask.REGRESSION: {"left": ["mae", "rmse"], "right": ["too_optimistic_share", "too_conservative_share"]},
    ModelTask.CLASSIFICATION: {"left": [], "right": ["recall_at_budget", "precision_at_budget", "auc", "base_rate"]},
}


def _model_or_404(name: str):
    try:
        return selectors.model_get_by_name(name=name)
    except ModelNotFound:
        raise Http404(f"no model named {name!r}") from None


def index(request: HttpRequest) -> HttpResponse:
    return render(request, "models_registry/index.html", {"rows": selectors.model_health_list()})


def detail(request: HttpRequest, name: str) -> HttpResponse:
    model = _model_or_404(name)
    series = selectors.version_metric_series(model=model)
    wanted = CHART_METRICS.get(model.task, {"left": [], "right": []})
    chart = {
        "labels": series["labels"],
        "left": {k: series["datasets"][k] for k in wanted["left"] if k in series["datasets"]},
        "right": {k: series["datasets"][k] for k in wanted["right"] if k in series["datasets"]},
    }
    return render(
        request,
        "models_registry/detail.html",
        {
            "model": model,
            "champion": selectors.model_champion(model=model),
            "challenger": selectors.model_challenger(model=model),
            "versions": selectors.version_list(model=model)[:50],
            "decisions": selectors.gate_decision_list(model=model)[:50],
            "runs": selectors.training_run_list(model=model)[:20],
            "chart": chart,
            "shadow": shadow_comparison(model=model),
            "can_act": user_has_role(request.user, Role.OPERATOR, Role.ADMIN),
        },
    )


def _require_actor(request: HttpRequest) -> None:
    if not user_has_role(request.user, Role.OPERATOR, Role.ADMIN):
        raise PermissionDenied("Only operators and admins retrain or roll back models.")


@require_POST
def retrain(request: HttpRequest, name: str) -> HttpResponse:
    _require_actor(request)
    model = _model_or_404(name)
    try:
        requested_by = request.user if isinstance(request.user, User) else None  # an actor is signed in
        run = services.training_run_start(model=model, requested_by=requested_by, trigger=TrainingTrigger.API)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Training run {run.pk} queued; the gate decides whether it serves.")
    return redirect("models_registry:detail", name=model.name)


@require_POST
def rollback(request: HttpRequest, name: str) -> HttpResponse:
    _require_actor(request)
    model = _model_or_404(name)
    try:
        decision = services.model_rollback(
            model=model, decided_by=request.user.get_username(), reason=request.POST.get("reason", "")[:500]
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"v{decision.challenger.version} is champion again.")
    return redirect("models_registry:detail", name=model.name)
