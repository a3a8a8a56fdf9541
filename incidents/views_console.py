"""The queue's bulk actions (acknowledge, assign, resolve, change level, merge), storm mode and its undo, and a
person's saved queue views. Every action re-checks the role on the server: the page only hides buttons."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse, QueryDict
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from core.exceptions import DomainError, InvalidInput
from core.models import Team

from . import selectors
from .choices import BulkAction
from .models import BulkOperation, SavedQueueView
from .services import console
from .views import _can_act, _queue_filter


def _require_operator(request) -> None:
    # Re-checked here whatever the page showed: a manager's hand-made POST is refused.
    if not _can_act(request.user):
        raise PermissionDenied("Only operators act on incidents.")


def _wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _back_to_queue(request):
    query = request.POST.get("query", "")
    url = reverse("incidents:index")
    return redirect(f"{url}?{query}" if query else url)


def _post_ids(request) -> list[int]:
    ids = []
    for value in request.POST.getlist("ids"):
        if not value.isdigit():
            raise InvalidInput(f"Incident id {value[:20]!r} is not a number.", field="ids")
        ids.append(int(value))
    return ids


def _report(request, op: BulkOperation, done: str):
    skipped = "; ".join(f"#{pk}: {why}" for pk, why in list(op.skipped.items())[:5])
    if _wants_json(request):
        return JsonResponse({"operation": op.pk, "action": op.action, "touched": op.touched, "skipped": op.skipped,
                             "undo_url": reverse("incidents:bulk_undo", args=[op.pk]) if op.undoable else None})
    if op.touched:
        messages.success(request, f"{done} {len(op.touched)} incident{'s' if len(op.touched) != 1 else ''}.")
    if skipped:
        messages.warning(request, f"Left alone: {skipped}{' …' if len(op.skipped) > 5 else ''}")
    return _back_to_queue(request)


def _error(request, exc: DomainError):
    if _wants_json(request):
        return JsonResponse({"detail": exc.message, "field": exc.field}, status=exc.status_code)
    messages.error(request, exc.message)
    return _back_to_queue(request)


@require_POST
def bulk(request):
    """One action on the selected incidents (the queue's bulk bar, and `a`/`r` on a row)."""
    _require_operator(request)
    action = request.POST.get("action", "")
    try:
        ids = _post_ids(request)
        if action == BulkAction.MERGE:
            target = request.POST.get("target", "")
            if not target.isdigit():
                raise InvalidInput("Choose the incident to merge into.", field="target")
            op = console.incidents_merge(target=int(target), ids=ids, user=request.user)
            return _report(request, op, f"Merged into #{target}:")
        User = get_user_model()
        assignee = team = None
        if action == BulkAction.ASSIGN:
            if request.POST.get("assignee"):
                assignee = User.objects.filter(username=request.POST["assignee"]).first()
                if assignee is None:
                    raise InvalidInput("No such person to assign to.", field="assignee")
            if request.POST.get("team"):
                team = Team.objects.filter(slug=request.POST["team"]).first()
                if team is None:
                    raise InvalidInput("No such team to assign to.", field="team")
        level = request.POST.get("severity", "")
        op = console.incidents_bulk_apply(
            action=action, ids=ids, user=request.user, assignee=assignee, team=team,
            level=int(level) if level.isdigit() else None, reason=request.POST.get("reason", ""),
            note=request.POST.get("note", ""))
    except DomainError as exc:
        return _error(request, exc)
    verbs = {BulkAction.ACKNOWLEDGE: "Acknowledged", BulkAction.ASSIGN: "Assigned", BulkAction.RESOLVE: "Resolved",
             BulkAction.SEVERITY: "Changed the level of"}
    return _report(request, op, verbs.get(BulkAction(action), "Done:"))


@require_POST
def storm(request):
    """Storm mode: acknowledge every triggered incident matching the queue's current filter."""
    _require_operator(request)
    query = request.POST.get("query", "")
    filters = _queue_filter(QueryDict(query), request.user)
    try:
        op = console.incidents_storm_acknowledge(
            incidents=selectors.incident_queue(filters=filters, user=request.user), query=query, user=request.user)
    except DomainError as exc:
        return _error(request, exc)
    return _report(request, op, "Storm mode acknowledged")


@require_POST
def bulk_undo(request, op_id: int):
    _require_operator(request)
    if not BulkOperation.objects.filter(pk=op_id).exists():
        raise Http404("No such operation.")
    try:
        op = console.bulk_operation_undo(operation=op_id, user=request.user)
    except DomainError as exc:
        return _error(request, exc)
    reverted = op.params.get("reverted", [])
    if _wants_json(request):
        return JsonResponse({"operation": op.pk, "reverted": reverted})
    messages.success(request, f"Undone: {len(reverted)} incident{'s' if len(reverted) != 1 else ''} triggered again.")
    return _back_to_queue(request)


@require_POST
def queue_view_save(request):
    """Save the current filter under a name (every role may keep views: reading the queue is theirs too)."""
    name = request.POST.get("name", "").strip()[:60]
    query = request.POST.get("query", "")[:1000]
    if not name:
        messages.error(request, "Give the view a name.")
    else:
        SavedQueueView.objects.update_or_create(user=request.user, name=name, defaults={"query": query})
        messages.success(request, f"Saved view “{name}”.")
    return _back_to_queue(request)


@require_POST
def queue_view_delete(request, view_id: int):
    deleted, _ = SavedQueueView.objects.filter(pk=view_id, user=request.user).delete()
    if not deleted:
        raise Http404("No such saved view.")
    messages.success(request, "Saved view removed.")
    return redirect("incidents:index")
