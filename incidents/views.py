"""Pages of the incidents app: the queue, one incident with its actions and playbook, the noise-reduction
report, and a person's notifications."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.timesince import timesince
from django.views.decorators.http import require_POST

from core.choices import Role
from core.exceptions import DomainError
from core.models import Service, Team
from core.selectors import user_has_role

from . import selectors, services
from .choices import OPEN_INCIDENT_STATUSES, BulkAction, ChannelKind, IncidentStatus, Severity
from .models import BulkOperation, Incident, SavedQueueView
from .models.console import UNDO_WINDOW
from .panels import incident_panels
from .services import notifications, playbooks
from .services.severity import incident_override_severity
from .sla import sla_clocks

QUEUE_PAGE_SIZE = 50
NOISE_PERIODS = (1, 7, 30, 90)  # days offered on the noise-reduction page


def _can_act(user) -> bool:
    return user_has_role(user, Role.OPERATOR, Role.ADMIN)


def _queue_filter(params, user) -> selectors.QueueFilter:
    """The queue's filter from the URL (unknown values are ignored: a stale link still opens)."""
    statuses = [s for s in params.getlist("status") if s in IncidentStatus.values]
    if params.get("status") == "all":
        status: tuple[str, ...] = ()
    else:
        status = tuple(statuses) or tuple(s.value for s in OPEN_INCIDENT_STATUSES)
    return selectors.QueueFilter(
        status=status,
        severity=tuple(int(s) for s in params.getlist("severity") if s.isdigit() and int(s) in Severity.values),
        service=params.get("service", "")[:100], team=params.get("team", "")[:100],
        label=params.get("label", "")[:200], mine=params.get("mine") == "1",
        unassigned=params.get("unassigned") == "1", q=params.get("q", "")[:200],
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueRow:
    """One queue row with everything the template prints worked out here: 50 rows of template lookups,
    filters and url tags cost more than the query (bench_queue)."""

    incident: Incident
    pk: int
    url: str
    severity: int
    severity_label: str
    status: str
    status_label: str
    service: str
    assignee: str
    team: str
    age: str
    opened_iso: str
    opened_title: str
    sla: list[tuple[str, str, str]]  # (state, label, tooltip)


def _queue_rows(page, now) -> list[QueueRow]:
    url = reverse("incidents:detail", args=[0]).replace("/0/", "/{}/")
    rows = []
    for incident in page:
        opened = timezone.localtime(incident.opened_at)
        rows.append(QueueRow(
            incident=incident, pk=incident.pk, url=url.format(incident.pk), severity=incident.severity,
            severity_label=Severity(incident.severity).label, status=incident.status,
            status_label=IncidentStatus(incident.status).label, service=incident.service.name,
            assignee=incident.assignee.username if incident.assignee else "—",
            team=incident.team.name if incident.team else "", age=timesince(incident.opened_at, now),
            opened_iso=opened.isoformat(), opened_title=opened.strftime("%Y-%m-%d %H:%M %Z"),
            sla=[(c.state, c.label, f"{c.kind} due {timezone.localtime(c.deadline):%H:%M %Z}")
                 for c in sla_clocks(incident, now=now)],
        ))
    return rows


BUILTIN_VIEWS = (  # saved views everyone has; their query strings are the whole definition
    ("Open", ""),
    ("Mine", "mine=1"),
    ("Unacknowledged", "status=triggered"),
    ("Unassigned", "unassigned=1"),
    ("Level 1-2", "severity=1&severity=2"),
)


def index(request):
    """The incident queue: open incidents by default, worst level first, then oldest; live (console.js)."""
    params = request.GET
    filters = _queue_filter(params, request.user)
    qs = selectors.incident_queue(filters=filters, user=request.user)
    # Page over ids (an index scan and a sort of narrow rows), then load only that page's rows with
    # their service, team and assignee: joining and sorting 10,000 wide rows cost more (bench_queue).
    page = Paginator(qs.values_list("pk", flat=True), QUEUE_PAGE_SIZE).get_page(params.get("page"))
    page.object_list = selectors.incidents_in_order(ids=list(page.object_list))
    now = timezone.now()
    query = params.copy()
    query.pop("page", None)
    query.pop("partial", None)
    context = {
        "page": page, "rows": _queue_rows(page, now), "now": now, "query": query.urlencode(),
        "can_act": _can_act(request.user),
    }
    counts = selectors.incident_counts_by_severity()
    context["counts_csv"] = ",".join(str(counts[level]) for level in sorted(counts))
    if params.get("partial") == "rows":
        return render(request, "incidents/_queue_rows.html", context)
    User = get_user_model()
    context.update({
        "statuses": IncidentStatus.choices, "levels": Severity.choices,
        "services": Service.objects.order_by("name").values_list("name", flat=True),
        "teams": Team.objects.order_by("name").values_list("slug", "name"),
        "filters": filters, "selected_status": "all" if params.get("status") == "all" else
        (params.getlist("status") or [""])[0],
        "counts": counts,
        "builtin_views": BUILTIN_VIEWS,
        "saved_views": SavedQueueView.objects.filter(user=request.user),
        "people": User.objects.filter(is_active=True, groups__name__in=[Role.OPERATOR, Role.ADMIN])
        .distinct().order_by("username").values_list("username", flat=True),
        "undo": BulkOperation.objects.filter(user=request.user, action=BulkAction.STORM, undone_at=None,
                                             at__gte=now - UNDO_WINDOW).first(),
        "cursor": selectors.queue_changes(since=None).cursor,
        "poll_seconds": settings.CONSOLE_POLL_SECONDS,
        "is_admin": user_has_role(request.user, Role.ADMIN),
    })
    return render(request, "incidents/index.html", context)


def detail(request, pk: int):
    try:
        incident = selectors.incident_get(pk=pk)
    except Incident.DoesNotExist:
        raise Http404("No such incident.") from None
    User = get_user_model()
    now = timezone.now()
    return render(request, "incidents/detail.html", {
        "incident": incident, "can_act": _can_act(request.user), "levels": Severity.choices,
        "allowed": sorted(s for s in IncidentStatus.values if incident.can_transition_to(s)),
        "people": User.objects.filter(is_active=True, groups__name__in=[Role.OPERATOR, Role.ADMIN])
        .distinct().order_by("username"),
        "teams": Team.objects.order_by("name"),
        "now": now,
        "sla": sla_clocks(incident, now=now),
        "is_admin": user_has_role(request.user, Role.ADMIN),
        "panels": incident_panels(incident=incident, user=request.user),
    })


ACTIONS = {
    "acknowledge": lambda i, u, p: services.incident_acknowledge(incident=i, user=u),
    "investigate": lambda i, u, p: services.incident_investigate(incident=i, user=u),
    "mitigate": lambda i, u, p: services.incident_mitigate(incident=i, user=u, note=p.get("note", "")),
    "resolve": lambda i, u, p: services.incident_resolve(incident=i, user=u, note=p.get("note", ""),
                                                         open_steps=p.get("open_steps", ""),
                                                         skip_reason=p.get("skip_reason", "")),
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
def playbook_step_run(request, incident_id: int, step_id: int):
    if not user_has_role(request.user, Role.OPERATOR, Role.ADMIN):
        raise PermissionDenied("Only operators run playbook steps.")
    try:
        step = playbooks.playbook_step_request_run(incident_id=incident_id, step_run_id=step_id, user=request.user)
        messages.success(request, f"Queued: {step.title}")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect(_incident_page(incident_id))


# --- Console (issue 12): bulk actions, merge, storm mode and its undo, saved views ---------------
