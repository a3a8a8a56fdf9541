"""Pages and endpoints of the project shell: health, home, reports."""
from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .dashboard import dashboard_cards
from .health import readiness


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
