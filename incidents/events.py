"""Timeline writers: one function per event type, so every incident's history is complete."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from .choices import CorrelationRule, IncidentStatus, Severity, TimelineKind
from .models import Alert, Incident, TimelineEvent

SYSTEM = "system"


def event_record(
    *,
    incident: Incident | int,
    kind: str,
    message: str,
    actor: Any = None,
    actor_name: str = "",
    data: dict | None = None,
    at: datetime | None = None,
) -> TimelineEvent:
    """The one writer; the named functions below fix the kind and wording."""
    return _saved(event_build(incident=incident, kind=kind, message=message, actor=actor, actor_name=actor_name,
                              data=data, at=at))


def event_build(
    *,
    incident: Incident | int,
    kind: str,
    message: str,
    actor: Any = None,
    actor_name: str = "",
    data: dict | None = None,
    at: datetime | None = None,
) -> TimelineEvent:
    """The row `event_record` writes, unsaved."""
    incident_id = incident if isinstance(incident, int) else incident.pk
    if actor is not None and not actor_name:
        actor_name = actor.get_username()
    return TimelineEvent(
        incident_id=incident_id, kind=kind, message=message, actor=actor,
        actor_name=actor_name or SYSTEM, data=data or {}, at=at or timezone.now(),
    )


def _saved(event: TimelineEvent) -> TimelineEvent:
    event.save(force_insert=True)
    return event


def incident_opened(*, incident: Incident, alert: Alert) -> TimelineEvent:
    return event_record(
        incident=incident, kind=TimelineKind.OPENED, at=incident.opened_at,
        actor_name=alert.source_name or alert.source_kind,
        message=f"Opened by alert “{alert.title}” on {alert.service.name}.",
        data={"alert_id": alert.pk, "fingerprint": alert.fingerprint},
    )


def alert_joined(*, incident: Incident, alert: Alert, rule: str, detail: str = "") -> TimelineEvent:
    return _saved(alert_joined_event(incident=incident, alert=alert, rule=rule, detail=detail))


def alert_joined_event(*, incident: Incident | int, alert: Alert, rule: str, detail: str = "") -> TimelineEvent:
    """The row `alert_joined` writes, unsaved: the intake's fast path inserts it with the join itself."""
    return event_build(
        incident=incident, kind=TimelineKind.ALERT_JOINED, at=alert.last_seen,
        actor_name=alert.source_name or alert.source_kind,
        message=f"Alert “{alert.title}” on {alert.service.name} joined ({_rule_words(rule, detail)}).",
        data={"alert_id": alert.pk, "rule": rule, "fingerprint": alert.fingerprint},
    )


def _rule_words(rule: str, detail: str) -> str:
    """The rule that joined an alert, in words, with what matched: joins across services must say why."""
    label = CorrelationRule(rule).label if rule in CorrelationRule.values else rule
    return f"{label}: {detail}" if detail else label


def alert_resolved(*, incident: Incident | int, alert: Alert) -> TimelineEvent:
    return event_record(
        incident=incident, kind=TimelineKind.ALERT_RESOLVED, at=alert.resolved_at,
        actor_name=alert.source_name or alert.source_kind,
        message=f"Alert “{alert.title}” resolved.", data={"alert_id": alert.pk},
    )


def severity_changed(
    *, incident: Incident, old: int | None, new: int, reasons: list[str], actor: Any = None, why: str = ""
) -> TimelineEvent:
    old_label = f"Level {old} {Severity(old).label}" if old else "none"
    text = f"Severity {old_label} → Level {new} {Severity(new).label}"
    text += f": {why}" if why else (f": {reasons[0]}" if reasons else "")
    return event_record(
        incident=incident, kind=TimelineKind.SEVERITY_CHANGED, actor=actor, message=text,
        data={"old": old, "new": new, "reasons": reasons, "why": why},
    )


def severity_proposed(*, incident: Incident, level: int, confidence: float) -> TimelineEvent:
    return event_record(
        incident=incident, kind=TimelineKind.SEVERITY_PROPOSED, actor_name="severity classifier",
        message=f"Classifier proposes Level {level} {Severity(level).label} ({confidence:.0%} confident).",
        data={"level": level, "confidence": confidence},
    )


def status_changed(*, incident: Incident, old: str, new: str, actor: Any = None, actor_name: str = "",
                   note: str = "", at: datetime | None = None) -> TimelineEvent:
    kinds = {
        IncidentStatus.ACKNOWLEDGED: TimelineKind.ACKNOWLEDGED,
        IncidentStatus.RESOLVED: TimelineKind.RESOLVED,
        IncidentStatus.CLOSED: TimelineKind.CLOSED,
        IncidentStatus.TRIGGERED: TimelineKind.REOPENED,
    }
    label = IncidentStatus(new).label
    message = f"{'Reopened' if new == IncidentStatus.TRIGGERED else label}"
    message += f" (was {IncidentStatus(old).label.lower()})"
    if note:
        message += f": {note}"
    return event_record(
        incident=incident, kind=kinds.get(IncidentStatus(new), TimelineKind.STATUS_CHANGED), actor=actor,
        actor_name=actor_name, message=message, data={"old": old, "new": new, "note": note}, at=at,
    )


def assigned(*, incident: Incident, actor: Any, assignee: Any = None, team: Any = None) -> TimelineEvent:
    parts = []
    if assignee is not None:
        parts.append(f"to {assignee.get_username()}")
    if team is not None:
        parts.append(f"team {team.name}")
    return event_record(
        incident=incident, kind=TimelineKind.ASSIGNED, actor=actor,
        message="Assigned " + (" and ".join(parts) if parts else "to nobody"),
        data={"assignee_id": getattr(assignee, "pk", None), "team_id": getattr(team, "pk", None)},
    )


def note_added(*, incident: Incident, actor: Any, text: str) -> TimelineEvent:
    return event_record(incident=incident, kind=TimelineKind.NOTE, actor=actor, message=text)


def notification_sent(*, incident: Incident | int, channel: str, recipient: str, detail: str = "",
                      data: dict | None = None) -> TimelineEvent:
    return event_record(
        incident=incident, kind=TimelineKind.NOTIFICATION_SENT, actor_name="notifications",
        message=f"Notified {recipient} via {channel}" + (f": {detail}" if detail else "."),
        data={"channel": channel, "recipient": recipient, **(data or {})},
    )


def escalated(*, incident: Incident | int, step: int, detail: str = "", data: dict | None = None) -> TimelineEvent:
    return event_record(
        incident=incident, kind=TimelineKind.ESCALATED, actor_name="escalation",
        message=f"Escalated to step {step}" + (f": {detail}" if detail else "."), data={"step": step, **(data or {})},
    )


def playbook_step_done(*, incident: Incident | int, step: str, outcome: str, actor: Any = None,
                       data: dict | None = None) -> TimelineEvent:
    return event_record(
        incident=incident, kind=TimelineKind.PLAYBOOK_STEP, actor=actor, actor_name="" if actor else "playbook",
        message=f"Playbook step “{step}”: {outcome}", data={"step": step, "outcome": outcome, **(data or {})},
    )


def playbook_attached(*, incident: Incident | int, playbook: str, reason: str, steps: int) -> TimelineEvent:
    return event_record(
        incident=incident, kind=TimelineKind.PLAYBOOK_STEP, actor_name="playbook",
        message=f"Playbook “{playbook}” attached with {steps} steps ({reason}).",
        data={"playbook": playbook, "reason": reason, "steps": steps},
    )


def incidents_merged(*, incident: Incident, sources: list[int], alerts: int, actor: Any) -> TimelineEvent:
    listed = ", ".join(f"#{pk}" for pk in sources)
    return event_record(
        incident=incident, kind=TimelineKind.NOTE, actor=actor,
        message=f"Merged {listed} into this incident ({alerts} alerts moved here; their repeats follow).",
        data={"merged": sources, "alerts_moved": alerts},
    )


def acknowledgement_undone(*, incident: Incident | int, operation_id: int, actor: Any) -> TimelineEvent:
    return event_record(
        incident=incident, kind=TimelineKind.STATUS_CHANGED, actor=actor,
        message=f"Acknowledgement undone (storm mode, bulk operation #{operation_id}): triggered again.",
        data={"old": IncidentStatus.ACKNOWLEDGED, "new": IncidentStatus.TRIGGERED, "bulk_operation": operation_id},
    )
