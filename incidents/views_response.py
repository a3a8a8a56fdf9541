"""Pages of the response side: my notifications, and the playbook buttons on the incident page."""
from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from core.choices import Role
from core.exceptions import DomainError
from core.selectors import user_has_role
from incidents.choices import ChannelKind

from . import selectors_response as selectors
from .services import notifications, playbooks


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
