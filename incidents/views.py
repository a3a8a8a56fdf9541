"""Pages of the incidents app: the queue, one incident with its actions and playbook, the noise-reduction
report, and a person's notifications."""
from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_POST

from core.choices import Role
from core.exceptions import DomainError
from core.models import Service, Team
from core.selectors import user_has_role

from . import selectors, services
from .choices import OPEN_INCIDENT_STATUSES, ChannelKind, IncidentStatus, Severity
from .models import Incident
from .panels import incident_panels
from .services import notifications, playbooks
from .services.severity import incident_override_severity

QUEUE_PAGE_SIZE = 50
NOISE_PERIODS = (1, 7, 30, 90)  # days offered on the noise-reduction page


def _can_act(user) -> bool:
    return user_has_role(user, Role.OPERATOR, Role.ADMIN)


def index(request):
    """The incident queue: open incidents by default, worst level first, then oldest."""
    params = request.GET
    status = params.getlist("status") or [s.value for s in OPEN_INCIDENT_STATUSES]
    if params.get("status") == "all":
        status = None
    severity = [int(s) for s in params.getlist("severity") if s.isdigit() and int(s) in Severity.values]
    since = parse_datetime(params.get("since", "")) if params.get("since") else None
    qs = selectors.incident_list(status=status, severity=severity or None, service=params.get("service") or None,
                                 team=params.get("team") or None, assignee=params.get("assignee") or None,
                                 since=since)
    page = Paginator(qs, QUEUE_PAGE_SIZE).get_page(params.get("page"))
    return render(request, "incidents/index.html", {
        "page": page, "now": timezone.now(), "statuses": IncidentStatus.choices, "levels": Severity.choices,
        "services": Service.objects.order_by("name").values_list("name", flat=True),
        "teams": Team.objects.order_by("name").values_list("slug", "name"),
        "selected": {"status": params.getlist("status") or ["open"], "severity": [str(s) for s in severity],
                     "service": params.get("service", ""), "team": params.get("team", ""),
                     "assignee": params.get("assignee", "")},
        "counts": selectors.incident_counts_by_severity(),
        "can_act": _can_act(request.user),
    })


def detail(request, pk: int):
    try:
        incident = selectors.incident_get(pk=pk)
    except Incident.DoesNotExist:
        raise Http404("No such incident.") from None
    User = get_user_model()
    return render(request, "incidents/detail.html", {
        "incident": incident, "can_act": _can_act(request.user), "levels": Severity.choices,
        "allowed": sorted(s for s in IncidentStatus.values if incident.can_transition_to(s)),
        "people": User.objects.filter(is_active=True, groups__name__in=[Role.OPERATOR, Role.ADMIN])
        .distinct().order_by("username"),
        "teams": Team.objects.order_by("name"),
        "now": timezone.now(),
        "panels": incident_panels(incident=incident, user=request.user),
    })


ACTIONS = {
    "acknowledge": lambda i, u, p: services.incident_acknowledge(incident=i, user=u),
    "investigate": lambda i, u, p: services.incident_investigate(incident=i, user=u),
    "mitigate": lambda i, u, p: services.incident_mitigate(incident=i, user=u, note=p.get("note", "")),
    "resolve": lambda i, u, p: services.incident_resolve(incident=i, user=u, note=p.get("note", "")),
    "close": lambda i, u, p: services.incident_close(incident=i, user=u, note=p.get("note", "")),
    "reopen": lambda i, u, p: services.incident_reopen(incident=i, user=u, note=p.get("note", "")),
    "note": lambda i, u, p: services.incident_add_note(incident=i, user=u, text=p.get("text", "")),
}


@require_POST
def act(request, pk: int, verb: str):
    """Buttons on the incident page: the same services the API calls."""
    if not _can_act(request.user):
        raise PermissionDenied("Only operators act on incidents.")
    if not Incident.objects.filter(pk=pk).exists():
        raise Http404("No such incident.")
    try:
        if verb in ACTIONS:
            ACTIONS[verb](pk, request.user, request.POST)
        elif verb == "assign":
            User = get_user_model()
            assignee = User.objects.filter(username=request.POST.get("assignee")).first() \
                if request.POST.get("assignee") else None
            team = Team.objects.filter(slug=request.POST.get("team")).first() if request.POST.get("team") else None
            services.incident_assign(incident=pk, user=request.user, assignee=assignee, team=team)
        elif verb == "severity":
            level = request.POST.get("severity", "")
            incident_override_severity(incident=pk, level=int(level) if level.isdigit() else 0,
                                       reason=request.POST.get("reason", ""), user=request.user)
        else:
            raise Http404("No such action.")
        messages.success(request, "Done.")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("incidents:detail", pk=pk)


def noise(request):
    """Signals received vs incidents opened, per service and overall."""
    days = int(request.GET.get("days", "7")) if request.GET.get("days", "7").isdigit() else 7
    days = days if days in NOISE_PERIODS else 7
    service = request.GET.get("service") or None
    report = selectors.noise_reduction_report(since=timezone.now() - timedelta(days=days), service=service)
    chart = {
        "services": [r.service for r in report.rows],
        "signals": [r.signals for r in report.rows],
        "incidents": [r.incidents for r in report.rows],
        "days": [d["day"].isoformat() for d in report.daily],
        "daily_signals": [d["signals"] for d in report.daily],
        "daily_incidents": [d["incidents"] for d in report.daily],
    }
    return render(request, "incidents/noise.html", {
        "report": report, "chart": chart, "days": days, "periods": NOISE_PERIODS, "service": service or "",
        "services": Service.objects.order_by("name").values_list("name", flat=True),
        "times": selectors.response_times(since=timezone.now() - timedelta(days=days), service=service),
        "held": selectors.alerts_held(limit=50),
    })


def notification_list(request):
    page = Paginator(selectors.user_notification_list(user=request.user), 50).get_page(request.GET.get("page"))
    pref = notifications.notification_preference_get(user=request.user)
    offered = [(ChannelKind.EMAIL, f"E-mail ({request.user.email or 'no address on file'})"),
               (ChannelKind.INAPP, "In-app (this list)")]
    if pref.slack_endpoint_id:
        offered.append((ChannelKind.SLACK, f"Slack ({pref.slack_endpoint.name})"))
    if pref.webhook_endpoint_id:
        offered.append((ChannelKind.WEBHOOK, f"Webhook ({pref.webhook_endpoint.name})"))
    return render(request, "incidents/notifications_list.html", {
        "page_obj": page, "unread": selectors.user_unread_count(user=request.user),
        "offered": offered, "chosen": set(pref.channels),
    })


@require_POST
def notification_preferences(request):
    try:
        notifications.notification_preference_set(user=request.user, channels=request.POST.getlist("channels"))
        messages.success(request, "Saved: you will be reached on the channels you chose.")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("incidents:notifications")


@require_POST
def notifications_read(request):
    notifications.user_notifications_mark_read(user=request.user)
    return redirect("incidents:notifications")


def _incident_page(incident_id: int) -> str:
    return f"/incidents/{incident_id}/#playbook"


@require_POST
def playbook_step_done(request, incident_id: int, step_id: int):
    if not user_has_role(request.user, Role.OPERATOR, Role.ADMIN):
        raise PermissionDenied("Only operators tick playbook steps.")
    try:
        step = playbooks.playbook_step_complete(incident_id=incident_id, step_run_id=step_id, user=request.user,
                                                note=request.POST.get("note", ""))
        messages.success(request, f"Done: {step.title}")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect(_incident_page(incident_id))


@require_POST
def playbook_step_run(request, incident_id: int, step_id: int):
    if not user_has_role(request.user, Role.OPERATOR, Role.ADMIN):
        raise PermissionDenied("Only operators run playbook steps.")
    try:
        step = playbooks.playbook_step_request_run(incident_id=incident_id, step_run_id=step_id, user=request.user)
        messages.success(request, f"Queued: {step.title}")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect(_incident_page(incident_id))
