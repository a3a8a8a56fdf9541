"""Pages of the models_registry app: models with health at a glance, one model's history, the ROI report."""
from __future__ import annotations

import csv
from datetime import date

from django.contrib import messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from core.choices import Role
from core.exceptions import DomainError, InvalidInput
from core.selectors import user_has_role

from . import selectors, services
from .choices import ModelTask, TrainingTrigger
from .exceptions import ModelNotFound
from .reports import roi_report
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


def _month_param(request: HttpRequest, name: str, default: date) -> date:
    text = request.GET.get(name, "").strip()
    if not text:
        return default
    try:
        return date.fromisoformat(f"{text}-01" if len(text) == 7 else text)
    except ValueError:
        raise InvalidInput(f"{name} must be a month (YYYY-MM), not {text!r}.", field=name) from None


def _roi_for(request: HttpRequest):
    default_start, default_end = selectors.roi_default_period()
    return roi_report(
        start=_month_param(request, "start", default_start), end=_month_param(request, "end", default_end)
    )


def roi(request: HttpRequest) -> HttpResponse:
    """The monthly ROI report: cost by category, cost per prediction, value, ROI vs target, forecast vs budget."""
    try:
        report = _roi_for(request)
    except InvalidInput as exc:
        return render(request, "models_registry/roi.html", {"error": exc.message}, status=400)
    data = report.as_dict()
    return render(request, "models_registry/roi.html", {
        "report": report, "data": data, "currency": report.currency,
        "start_month": f"{report.start:%Y-%m}", "end_month": f"{report.end:%Y-%m}",
    })


def roi_csv(request: HttpRequest) -> HttpResponse:
    try:
        report = _roi_for(request)
    except InvalidInput as exc:
        return HttpResponse(exc.message, status=400, content_type="text/plain")
    response = HttpResponse(content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="roi-{report.start:%Y-%m}-{report.end:%Y-%m}.csv"'
    csv.writer(response).writerows(report.csv_rows())
    return response
