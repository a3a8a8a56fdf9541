"""Pages and endpoints of the project shell: health, home, reports."""
from __future__ import annotations

import hmac

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from core.choices import Role
from core.exceptions import DomainError
from core.models import Service
from core.selectors import user_has_role
from incidents.choices import Severity
from incidents.selectors import drill_results
from incidents.services.drills import drill_start

from .dashboard import dashboard_cards
from .health import readiness
from .operations import metrics_render

# Who may start a drill (it pages people for real); everyone with a role may read the results.
DRILL_ROLES = (Role.MANAGER, Role.ADMIN)


@login_not_required
@never_cache
@require_GET
def healthz(request):
    return JsonResponse({"status": "ok"})


@login_not_required
@never_cache
@require_GET
def readyz(request):
    result = readiness()
    body = {"status": "ok" if result.ok else "unavailable", "checks": result.checks}
    if not result.ok:
        body["failing"] = result.failing
        # Driver errors name hosts and ports: only staff see them here; everyone else has the log.
        if request.user.is_staff:
            body["details"] = result.details
    return JsonResponse(body, status=200 if result.ok else 503)


def home(request):
    return render(request, "aiops/home.html", {"cards": dashboard_cards(user=request.user)})


@login_not_required
@require_GET
def favicon(request):
    """Browsers ask for /favicon.ico on pages that do not name their icon: send them to the static one."""
    return redirect(static("img/favicon.svg"), permanent=True)


@login_not_required
@never_cache
@require_GET
def metrics(request):
    """Prometheus text: `Authorization: Bearer <METRICS_TOKEN>`, or a signed-in admin."""
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    given = header[7:].strip() if header[:7].lower() == "bearer " else ""
    if token and given and hmac.compare_digest(given.encode(), token.encode()):
        pass
    elif request.user.is_authenticated and user_has_role(request.user, Role.ADMIN):
        pass
    elif request.user.is_authenticated and not given:
        return HttpResponse("/metrics needs the admin role or the metrics token.\n", status=403,
                            content_type="text/plain; charset=utf-8")
    else:
        response = HttpResponse(
            "/metrics needs `Authorization: Bearer <METRICS_TOKEN>`" +
            ("" if token else " (METRICS_TOKEN is not set on this server)") + ".\n",
            status=401, content_type="text/plain; charset=utf-8")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(metrics_render(), content_type="text/plain; version=0.0.4; charset=utf-8")


@require_http_methods(["GET", "POST"])
def drills(request):
    """Start a drill (managers, admins) and see what past drills measured."""
    can_start = user_has_role(request.user, *DRILL_ROLES)
    if request.method == "POST":
        if not can_start:
            raise PermissionDenied("Only managers and admins start drills: a drill pages people for real.")
        service = Service.objects.filter(name=request.POST.get("service", "")).first()
        level = request.POST.get("level", "")
        if service is None:
            messages.error(request, "service: choose an existing service.")
        elif not level.isdigit():
            messages.error(request, "level: choose a level from 1 to 4.")
        else:
            try:
                incident = drill_start(service=service, level=int(level), started_by=request.user.get_username())
            except DomainError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(request, f"Drill incident #{incident.pk} opened; its pages are going out now.")
        return redirect("drills")
    results = drill_results()
    timed = sorted(r.page_seconds for r in results if r.page_seconds is not None)
    acked = sorted(r.ack_seconds for r in results if r.ack_seconds is not None)
    return render(request, "aiops/drills.html", {
        "results": results, "can_start": can_start, "levels": Severity.choices,
        "services": Service.objects.order_by("name").values_list("name", flat=True),
        "page_median": timed[len(timed) // 2] if timed else None, "page_worst": timed[-1] if timed else None,
        "ack_median": acked[len(acked) // 2] if acked else None,
    })
