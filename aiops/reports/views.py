"""Report pages: the list with subscriptions, one report with charts and definitions, its CSV."""
from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from core.exceptions import DomainError
from core.models import Service
from incidents.models import ReportSubscription

from .base import ReportResult, report_run, report_spec, report_specs
from .emails import report_subscription_set


def reports_index(request):
    subscribed = set(ReportSubscription.objects.filter(user=request.user).values_list("report", flat=True))
    return render(request, "aiops/reports.html", {
        "specs": report_specs(), "subscribed": subscribed,
        "services": Service.objects.select_related("team").order_by("tier", "name"),
    })


def _result(request, name: str) -> tuple[ReportResult | None, str]:
    try:
        report_spec(name)
    except DomainError:
        raise Http404(f"No report named {name!r}.") from None
    try:
        return report_run(name=name, period=request.GET.get("period") or None), ""
    except DomainError as exc:
        return None, exc.message


@require_GET
def report_detail(request, name: str):
    result, error = _result(request, name)
    spec = report_spec(name)
    context = {"spec": spec, "result": result, "error": error, "period": request.GET.get("period", ""),
               "subscribed": ReportSubscription.objects.filter(user=request.user, report=name).exists()}
    if result is not None:
        context["charts"] = result.as_dict()["charts"]
    return render(request, "aiops/report_detail.html", context, status=400 if error else 200)


@require_GET
def report_csv(request, name: str):
    result, error = _result(request, name)
    if result is None:
        return HttpResponse(error, status=400, content_type="text/plain; charset=utf-8")
    response = HttpResponse(result.as_csv(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}-{result.period.label}.csv"'
    return response


@require_POST
def report_subscription(request, name: str):
    try:
        wanted = request.POST.get("subscribed", "1") not in ("0", "false", "")
        report_subscription_set(user=request.user, name=name, subscribed=wanted)
        messages.success(request, "Subscribed: it arrives by e-mail each period." if wanted else "Unsubscribed.")
    except DomainError as exc:
        if exc.status_code == 403:
            return HttpResponse(exc.message, status=403, content_type="text/plain; charset=utf-8")
        messages.error(request, exc.message)
    return redirect("reports")
