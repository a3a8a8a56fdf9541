"""Lifecycle of an incident: guarded transitions, assignment, notes; each writes the timeline."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.exceptions import DomainError, InvalidInput
from incidents import events
from incidents.choices import IncidentStatus
from incidents.models import Incident, ServiceIncidentSettings

from . import playbooks, response
from .commit import commit_durable
from .costs import incident_cost_freeze, incident_cost_refresh
from .reviews import review_close_block_reason, review_ensure, review_required

DEFAULT_REOPEN_WINDOW = timedelta(minutes=ServiceIncidentSettings._meta.get_field("reopen_window_minutes").default)


class IllegalTransition(DomainError):
    status_code = 409
    code = "illegal_transition"


# Timestamps stamped the first time an incident reaches a status.
_STAMPS: dict[str, str] = {
    IncidentStatus.ACKNOWLEDGED: "acknowledged_at",
    IncidentStatus.INVESTIGATING: "investigating_at",
    IncidentStatus.MITIGATED: "mitigated_at",
    IncidentStatus.RESOLVED: "resolved_at",
    IncidentStatus.CLOSED: "closed_at",
}


def reopen_window_for(incident: Incident) -> timedelta:
    row = ServiceIncidentSettings.objects.filter(service_id=incident.service_id).only("reopen_window_minutes").first()
    return timedelta(minutes=row.reopen_window_minutes) if row else DEFAULT_REOPEN_WINDOW


def _locked(incident: Incident | int) -> Incident:
    pk = incident if isinstance(incident, int) else incident.pk
    return Incident.objects.select_for_update().select_related("service").get(pk=pk)


def incident_transition(
    *, incident: Incident | int, to: str, user: Any = None, actor_name: str = "", note: str = "",
    now: datetime | None = None,
) -> Incident:
    """Move an incident along the lifecycle or raise IllegalTransition (409) saying why not."""
    now = now or timezone.now()
    with transaction.atomic():
        commit_durable()  # status changes start and stop pages and timers
        locked = _locked(incident)
        # A source's clock may be behind ours: no stamp before the opening (MTTA/MTTR stay >= 0).
        now = max(now, locked.opened_at)
        window = reopen_window_for(locked) if to == IncidentStatus.TRIGGERED else None
        reason = locked.transition_block_reason(to, now=now, reopen_window=window)
        if reason:
            raise IllegalTransition(reason, field="status")
        if to == IncidentStatus.CLOSED:
            # Level 1/2: resolving is allowed at once, closing waits for the published review (issue 11).
            reason = review_close_block_reason(incident=locked)
            if reason:
                raise IllegalTransition(reason, field="review")
        old = locked.status
        locked.status = to
        fields = ["status"]
        reached = [to]
        # Acknowledging is implied by any later working state: MTTA must not stay empty.
        if to in (IncidentStatus.INVESTIGATING, IncidentStatus.MITIGATED, IncidentStatus.RESOLVED) \
                and locked.acknowledged_at is None and user is not None:
            locked.acknowledged_at, locked.acknowledged_by = now, user
            fields += ["acknowledged_at", "acknowledged_by"]
            reached.append(IncidentStatus.ACKNOWLEDGED)
        stamp = _STAMPS.get(to)
        if stamp and (getattr(locked, stamp) is None or to == IncidentStatus.RESOLVED):
            setattr(locked, stamp, now)
            fields.append(stamp)
        if to == IncidentStatus.ACKNOWLEDGED:
            locked.acknowledged_by = user
            fields.append("acknowledged_by")
        if to == IncidentStatus.RESOLVED:
            locked.resolved_by = user
            fields.append("resolved_by")
            if note:
                locked.resolution = note
                fields.append("resolution")
        if to == IncidentStatus.TRIGGERED:
            locked.resolved_at = None
            locked.resolved_by = None
            locked.reopened_count += 1
            locked.last_alert_at = max(locked.last_alert_at, now)
            # Reopened at `now` (the caller's clock: ours for a person, the alert's for an alert, whose arrival
            # time the join then stamps): it collects its service's alerts for a window again. Never the wall
            # clock here: a replayed or queued alert would otherwise open a window that is not its own.
            locked.last_received_at = max(locked.last_received_at, now)
            fields += ["resolved_at", "resolved_by", "reopened_count", "last_alert_at", "last_received_at"]
        locked.save(update_fields=fields)
        events.status_changed(incident=locked, old=old, new=to, actor=user, actor_name=actor_name, note=note, at=now)
        # Playbook and lifecycle agree: "acknowledge it" ticks itself when someone acknowledges.
        playbooks.playbook_lifecycle_tick(incident_id=locked.pk, statuses=reached, user=user)
        if to == IncidentStatus.RESOLVED and review_required(incident=locked):
            review_ensure(incident=locked)  # the due date runs from now, in business days
        if to == IncidentStatus.CLOSED:
            incident_cost_freeze(incident=locked, now=now)  # closed: the cost never moves again
        elif to == IncidentStatus.RESOLVED:
            incident_cost_refresh(incident=locked, now=now)
        incident_id = locked.pk
        if to == IncidentStatus.ACKNOWLEDGED:
            transaction.on_commit(lambda: response.on_incident_acknowledged(incident_id=incident_id))
        elif to == IncidentStatus.RESOLVED:
            transaction.on_commit(lambda: response.on_incident_resolved(incident_id=incident_id))
        elif to == IncidentStatus.TRIGGERED:
            transaction.on_commit(lambda: response.on_incident_opened(incident_id=incident_id))
    return locked


def incident_acknowledge(*, incident: Incident | int, user: Any = None, actor_name: str = "",
                         now: datetime | None = None) -> Incident:
    return incident_transition(incident=incident, to=IncidentStatus.ACKNOWLEDGED, user=user, actor_name=actor_name,
                               now=now)


def incident_investigate(*, incident: Incident | int, user: Any) -> Incident:
    return incident_transition(incident=incident, to=IncidentStatus.INVESTIGATING, user=user)


def incident_mitigate(*, incident: Incident | int, user: Any, note: str = "") -> Incident:
    return incident_transition(incident=incident, to=IncidentStatus.MITIGATED, user=user, note=note)


class OpenSteps:
    """What a person resolving says about the playbook steps still open (post-incident ones stay open)."""

    KEEP = "keep"  # leave them open, e.g. to finish during recovery
    SKIP = "skip"  # mark them skipped, with the reason, recorded in the timeline
    values = (KEEP, SKIP)


def incident_resolve(*, incident: Incident | int, user: Any = None, note: str = "", actor_name: str = "",
                     now: datetime | None = None, open_steps: str = "", skip_reason: str = "") -> Incident:
    """Resolve; `open_steps` ("skip" with `skip_reason`, or "keep") settles the playbook steps still open.
    Empty (an alert resolving it, an API client that does not say) leaves them as they are."""
    if open_steps and open_steps not in OpenSteps.values:
        raise InvalidInput(f"open_steps must be {OpenSteps.SKIP!r} or {OpenSteps.KEEP!r}, not {open_steps!r}.",
                           field="open_steps")
    pk = incident if isinstance(incident, int) else incident.pk
    with transaction.atomic():
        if open_steps == OpenSteps.SKIP:
            playbooks.playbook_open_steps_skip(incident_id=pk, user=user, reason=skip_reason)
        return incident_transition(incident=incident, to=IncidentStatus.RESOLVED, user=user, note=note,
                                   actor_name=actor_name, now=now)


def incident_close(*, incident: Incident | int, user: Any, note: str = "") -> Incident:
    return incident_transition(incident=incident, to=IncidentStatus.CLOSED, user=user, note=note)


def incident_reopen(*, incident: Incident | int, user: Any = None, note: str = "", actor_name: str = "") -> Incident:
    return incident_transition(incident=incident, to=IncidentStatus.TRIGGERED, user=user, note=note,
                               actor_name=actor_name)


def incident_assign(*, incident: Incident | int, user: Any, assignee: Any = None, team: Any = None) -> Incident:
    """Give the incident to a person and/or a team; a closed incident is history and stays as it was."""
    if assignee is None and team is None:
        raise InvalidInput("Name a person or a team to assign to.", field="assignee")
    with transaction.atomic():
        locked = _locked(incident)
        if locked.status == IncidentStatus.CLOSED:
            raise IllegalTransition("A closed incident cannot be reassigned.", field="status")
        fields = []
        if assignee is not None:
            locked.assignee = assignee
            fields.append("assignee")
        if team is not None:
            locked.team = team
            fields.append("team")
        locked.save(update_fields=fields)
        events.assigned(incident=locked, actor=user, assignee=assignee, team=team)
    return locked


NOTE_MAX_CHARS = 10_000  # a timeline entry, not a document: link a longer write-up instead


def incident_add_note(*, incident: Incident | int, user: Any, text: str) -> Incident:
    text = (text or "").strip()
    if not text:
        raise InvalidInput("A note needs text.", field="text")
    if len(text) > NOTE_MAX_CHARS:
        # Refused whole, never cut: a note silently truncated loses its end without anyone knowing.
        raise InvalidInput(f"A note may have at most {NOTE_MAX_CHARS:,} characters; this one has {len(text):,}. "
                           "Shorten it or link a longer write-up.", field="text")
    pk = incident if isinstance(incident, int) else incident.pk
    obj = incident if isinstance(incident, Incident) else Incident.objects.get(pk=pk)
    events.note_added(incident=obj, actor=user, text=text)
    return obj
