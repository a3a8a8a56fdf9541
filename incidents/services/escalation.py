"""Escalation: an unacknowledged incident notifies the next tier when its level's target passes, up to a limit.

The timer is the row (`Escalation.next_at`), not a broker message: the beat sweep runs due rows,
so a Redis restart that loses every message loses no escalation (issue #15).
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from incidents import events
from incidents.choices import DeliveryKind, EscalationStatus, IncidentStatus, Severity
from incidents.models import Escalation, Incident, NotificationPolicy

from . import notifications

EARLY_TOLERANCE = timedelta(seconds=2)  # a legacy countdown task may fire a little early across hosts' clocks
SWEEP_BATCH = 200  # due escalations per sweep; the rest wait a few seconds for the next one


@dataclass(frozen=True, slots=True, kw_only=True)
class EscalationOutcome:
    outcome: str  # "escalated" | "stale" | "stopped" | "exhausted" | "early" | "none"
    step: int = 0
    deliveries: int = 0


def ack_timeout(*, policy: NotificationPolicy | None, level: int) -> timedelta:
    if policy is not None and policy.ack_timeout_minutes:
        return timedelta(minutes=policy.ack_timeout_minutes)
    return Severity(level).ack_target or timedelta(hours=24)


def tier_label(tier) -> str:
    names = [name for name, on in (("executives", tier.notify_executives), ("managers", tier.notify_managers),
                                   ("team", tier.notify_team)) if on]
    return ", ".join(names) or "named people"


def _is_unacknowledged(incident: Incident) -> bool:
    return incident.acknowledged_at is None and incident.status == IncidentStatus.TRIGGERED


def _schedule(escalation: Escalation, *, now: datetime, delay: timedelta) -> None:
    # A new token retires whatever held the old one (a queued legacy countdown task, a sweep that
    # read the row before this change); the sweep runs the row when next_at passes.
    escalation.active_token = uuid.uuid4().hex
    escalation.next_at = now + delay


@transaction.atomic
def escalation_start(*, incident_id: int, now: datetime | None = None) -> Escalation | None:
    """(Re)arm the timer for the incident's current level; the level's policy must have escalation steps."""
    now = now or timezone.now()
    incident = Incident.objects.select_for_update().get(pk=incident_id)
    policy = notifications.policy_get(level=incident.severity)
    if policy is None or policy.digest_only or not policy.escalation_steps.exists() or not _is_unacknowledged(incident):
        Escalation.objects.filter(incident=incident, status=EscalationStatus.ACTIVE).update(
            status=EscalationStatus.STOPPED, active_token="", stopped_at=now,
            stopped_reason=f"no escalation for level {incident.severity}",
        )
        return None
    escalation, _ = Escalation.objects.select_for_update().get_or_create(
        incident=incident, defaults={"level": incident.severity}
    )
    escalation.status = EscalationStatus.ACTIVE
    escalation.level = incident.severity
    escalation.step = 0
    escalation.stopped_at = None
    escalation.stopped_reason = ""
    _schedule(escalation, now=now, delay=ack_timeout(policy=policy, level=incident.severity))
    escalation.save()
    return escalation


def escalation_stop(*, incident_id: int, reason: str, now: datetime | None = None) -> bool:
    """Acknowledging or resolving stops the timer: the stored token is cleared so a queued task does nothing."""
    return bool(Escalation.objects.filter(incident_id=incident_id, status=EscalationStatus.ACTIVE).update(
        status=EscalationStatus.STOPPED, active_token="", stopped_at=now or timezone.now(), stopped_reason=reason[:200],
    ))


@transaction.atomic
def escalation_run(
    *, incident_id: int, token: str, now: datetime | None = None, force: bool = False
) -> EscalationOutcome:
    """The timer fired: if this task still holds the active token and nobody acknowledged, notify the next tier.

    `force` (the escalate_now action) skips the acknowledgement and timing checks.
    """
    now = now or timezone.now()
    escalation = Escalation.objects.select_for_update().filter(incident_id=incident_id).first()
    if escalation is None or escalation.status != EscalationStatus.ACTIVE or escalation.active_token != token:
        return EscalationOutcome(outcome="stale")
    incident = Incident.objects.get(pk=incident_id)
    if not force and not _is_unacknowledged(incident):
        escalation_stop(incident_id=incident_id, reason=f"incident {incident.status}", now=now)
        return EscalationOutcome(outcome="stopped", step=escalation.step)
    if not force and escalation.next_at and now < escalation.next_at - EARLY_TOLERANCE:
        return EscalationOutcome(outcome="early", step=escalation.step)  # the sweep runs it when due
    policy = notifications.policy_get(level=escalation.level)
    steps = list(policy.escalation_steps.all()) if policy else []
    if policy is None or not steps or escalation.step >= policy.escalation_limit:
        escalation.status = EscalationStatus.EXHAUSTED
        escalation.active_token = ""
        escalation.stopped_at = now
        escalation.stopped_reason = "escalation limit reached" if steps else "no escalation steps"
        escalation.save()
        return EscalationOutcome(outcome="exhausted", step=escalation.step)
    escalation.step += 1
    # Steps are tiers in order; past the last one the last tier is paged again, until the limit.
    tier = steps[min(escalation.step, len(steps)) - 1]
    result = notifications.incident_notify(
        incident_id=incident_id, kind=DeliveryKind.ESCALATION, level=escalation.level, step=escalation.step,
        audience=tier,
    )
    escalation.last_escalated_at = now
    events.escalated(
        incident=incident, step=escalation.step,
        detail=f"not acknowledged within {ack_timeout(policy=policy, level=escalation.level)}; "
               f"{result.created} notifications to {tier_label(tier)}",
        data={"level": escalation.level, "deliveries": result.created},
    )
    if escalation.step >= policy.escalation_limit:
        escalation.status = EscalationStatus.EXHAUSTED
        escalation.active_token = ""
        escalation.next_at = None
        escalation.stopped_at = now
        escalation.stopped_reason = "escalation limit reached"
    else:
        _schedule(escalation, now=now, delay=ack_timeout(policy=policy, level=escalation.level))
    escalation.save()
    return EscalationOutcome(outcome="escalated", step=escalation.step, deliveries=result.created)


@transaction.atomic
def escalation_escalate_now(*, incident_id: int, now: datetime | None = None) -> EscalationOutcome:
    """Take the next escalation step at once (a playbook action or an operator's request)."""
    now = now or timezone.now()
    escalation = Escalation.objects.select_for_update().filter(incident_id=incident_id).first()
    if escalation is None or escalation.status != EscalationStatus.ACTIVE:
        incident = Incident.objects.get(pk=incident_id)
        policy = notifications.policy_get(level=incident.severity)
        if policy is None or not policy.escalation_steps.exists():
            return EscalationOutcome(outcome="none")
        escalation, _ = Escalation.objects.select_for_update().get_or_create(
            incident=incident, defaults={"level": incident.severity}
        )
        escalation.status, escalation.level, escalation.step = EscalationStatus.ACTIVE, incident.severity, 0
        escalation.active_token = uuid.uuid4().hex
        escalation.save()
    return escalation_run(incident_id=incident_id, token=escalation.active_token, now=now, force=True)


def escalations_sweep(*, now: datetime | None = None) -> int:
    """Beat: run every active escalation whose time has come; returns how many escalated."""
    now = now or timezone.now()
    due = list(
        Escalation.objects.filter(status=EscalationStatus.ACTIVE, next_at__lte=now)
        .order_by("next_at").values_list("incident_id", flat=True)[:SWEEP_BATCH]
    )
    return sum(escalation_run_due(incident_id=incident_id, now=now).outcome == "escalated" for incident_id in due)


@transaction.atomic
def escalation_run_due(*, incident_id: int, now: datetime | None = None) -> EscalationOutcome:
    """Run one due timer if nobody else holds it.

    skip_locked: a concurrent sweep (or a legacy countdown task) working on the row makes this one
    pass; when it commits, next_at and the token have moved on, so the row is not due twice.
    """
    now = now or timezone.now()
    escalation = (
        Escalation.objects.select_for_update(skip_locked=True)
        .filter(incident_id=incident_id, status=EscalationStatus.ACTIVE, next_at__lte=now).first()
    )
    if escalation is None:
        return EscalationOutcome(outcome="stale")
    return escalation_run(incident_id=incident_id, token=escalation.active_token, now=now)
