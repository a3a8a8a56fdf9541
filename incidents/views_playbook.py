"""Playbook steps on the incident page, where playbook and lifecycle agree: a step owned by a role is ticked by
that role (a manager ticks "name an incident lead"), and the steps still open can be skipped with a reason
before resolving (recorded in the timeline). Operators and admins may do both for any step."""
from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from core.choices import Role
from core.exceptions import DomainError
from core.selectors import user_has_role

from .services import playbooks


def _incident_page(incident_id: int) -> str:
    return f"/incidents/{incident_id}/#playbook"


@require_POST
def playbook_step_done(request: HttpRequest, incident_id: int, step_id: int) -> HttpResponse:
    """Tick a step; the service re-checks that the person may (403 when the step is another role's)."""
    try:
        step = playbooks.playbook_step_complete(incident_id=incident_id, step_run_id=step_id, user=request.user,
                                                note=request.POST.get("note", ""))
    except playbooks.StepNotYours as exc:
        raise PermissionDenied(exc.message) from None
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Done: {step.title}")
    return redirect(_incident_page(incident_id))


@require_POST
def playbook_steps_skip(request: HttpRequest, incident_id: int) -> HttpResponse:
    """Skip every open step (before the post-incident phase) with the reason given."""
    if not user_has_role(request.user, Role.OPERATOR, Role.ADMIN):
        raise PermissionDenied("Only operators and admins skip playbook steps.")
    try:
        skipped = playbooks.playbook_open_steps_skip(incident_id=incident_id, user=request.user,
                                                     reason=request.POST.get("skip_reason", ""))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Skipped {len(skipped)} open step{'s' if len(skipped) != 1 else ''}.")
    return redirect(_incident_page(incident_id))
