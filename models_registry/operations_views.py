"""Pages of model operations (issue #14): the daily at-risk list, the weekly model report, shadow controls."""
from __future__ import annotations

from datetime import date

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from core.choices import Role
from core.exceptions import DomainError
from core.selectors import user_has_role

from . import selectors
from .api.operations_views import at_risk_csv
from .models import WeeklyReportSubscription
from .services import at_risk as at_risk_services
from .services import shadow as shadow_services
from .services import weekly_report as weekly_services
from .views import _model_or_404, _require_actor

PAGE_ROWS = 200  # the page shows the top of the list; the CSV export has all of it


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def at_risk(request: HttpRequest) -> HttpResponse:
    job = selectors.at_risk_latest_job(model_name=settings.AT_RISK_MODEL)
    params = request.GET
    filters = {key: params.get(key, "") for key in ("origin", "carrier", "date", "new", "hide_handled")}
    rows = []
    if job is not None:
        rows = selectors.at_risk_rows(
            job=job, origin=filters["origin"], carrier=filters["carrier"], day=_day(filters["date"]),
            only_new=filters["new"] == "1", hide_handled=filters["hide_handled"] == "1",
            limit=None if params.get("export") == "csv" else PAGE_ROWS,
        )
        if params.get("export") == "csv":
            return at_risk_csv(rows)
    return render(request, "models_registry/at_risk.html", {
        "job": job, "rows": rows, "filters": filters, "choices": selectors.at_risk_filters(job=job) if job else {},
        "capacity": settings.AT_RISK_CAPACITY, "can_act": user_has_role(request.user, Role.OPERATOR, Role.ADMIN),
        "query": request.GET.urlencode(),
    })


@require_POST
def at_risk_handle(request: HttpRequest) -> HttpResponse:
    _require_actor(request)
    key = request.POST.get("journey_key", "")
    try:
        at_risk_services.journey_handle(
            journey_key=key, user=request.user if isinstance(request.user, User) else None,
            note=request.POST.get("note", ""), handled=request.POST.get("handled", "1") == "1",
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{key}: {'handled' if request.POST.get('handled', '1') == '1' else 'reopened'}")
    back = request.POST.get("next", "")
    return redirect(f"/models/at-risk/?{back}" if back and "//" not in back else "models_registry:at_risk")


def weekly_report(request: HttpRequest) -> HttpResponse:
    day = _day(request.GET.get("week")) or weekly_services.latest_reportable_week()
    report = weekly_services.weekly_report_build(week_start=day)
    subscribed = isinstance(request.user, User) and WeeklyReportSubscription.objects.filter(user=request.user).exists()
    return render(request, "models_registry/weekly_report.html", {"report": report, "subscribed": subscribed})


@require_POST
def weekly_report_subscribe(request: HttpRequest) -> HttpResponse:
    if isinstance(request.user, User):
        wanted = request.POST.get("subscribe", "1") == "1"
        weekly_services.weekly_report_subscribe(user=request.user, subscribed=wanted)
        messages.success(request, "Subscribed to the weekly model report." if wanted else "Unsubscribed.")
    return redirect("models_registry:weekly_report")


@require_POST
def shadow(request: HttpRequest, name: str) -> HttpResponse:
    _require_actor(request)
    model = _model_or_404(name)
    try:
        action = request.POST.get("action", "set")
        if action == "decide":
            decision = shadow_services.shadow_gate(model=model, decided_by=request.user.get_username())
            messages.success(request, f"Shadow v{decision.challenger.version}: {decision.get_decision_display()}")
        else:
            number = request.POST.get("version", "")
            version = selectors.version_get(model=model, number=int(number)) if number.isdigit() else None
            if action == "set" and version is None:
                messages.error(request, "choose a version to put in shadow")
            else:
                shadow_services.shadow_set(model=model, version=version if action == "set" else None)
                messages.success(request, f"v{version.version} scores live requests in shadow" if action == "set"
                                 and version else "shadow stopped")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("models_registry:detail", name=model.name)
