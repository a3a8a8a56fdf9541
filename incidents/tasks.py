"""Tasks of the incidents app."""
from __future__ import annotations

from celery import shared_task

# The incident core's tasks reach their services through the package at call time: the core's
# services import this module (via the response hooks) while they load.
from . import services as core_services  # noqa: I001

# `from .services import x` (modules, not names) so the services can import this module for .delay()
from .services import digests as digest_services
from .services import escalation as escalation_services
from .services import notifications as notification_services
from .services import playbooks as playbook_services
from .services import response as response_services

# --- Response: notifications, escalation, playbooks, digests (queue `notify` for notify_/deliver_/escalate_) ----

DELIVERY_MAX_RETRIES = 8  # above services.notifications.MAX_ATTEMPTS: the service decides when to give up


@shared_task(name="incidents.notify_incident_opened", acks_late=True)
def notify_incident_opened(incident_id: int) -> int:
    """Page the level's audience and arm the escalation timer."""
    return response_services.incident_opened_notify(incident_id=incident_id)


@shared_task(name="incidents.notify_severity_changed", acks_late=True)
def notify_severity_changed(incident_id: int, old: int, new: int) -> int:
    return response_services.incident_severity_notify(incident_id=incident_id, old=old, new=new)


@shared_task(name="incidents.notify_incident_resolved", acks_late=True)
def notify_incident_resolved(incident_id: int) -> int:
    return notification_services.incident_resolved_notify(incident_id=incident_id).created


@shared_task(name="incidents.deliver_notification", bind=True, acks_late=True, max_retries=DELIVERY_MAX_RETRIES)
def deliver_notification(self, delivery_id: int) -> str:
    outcome = notification_services.delivery_send(delivery_id=delivery_id)
    if outcome.status == "retry":
        raise self.retry(countdown=outcome.retry_in)
    return outcome.status


@shared_task(name="incidents.escalate_incident", acks_late=True)
def escalate_incident(incident_id: int, token: str) -> str:
    """Legacy countdown timer (messages queued before timers moved to the database); token-checked."""
    return escalation_services.escalation_run(incident_id=incident_id, token=token).outcome


@shared_task(name="incidents.sweep_response", acks_late=True)
def sweep_response() -> int:
    """Beat, every few seconds on `default`: run due escalations, send deliveries no worker is sending."""
    return escalation_services.escalations_sweep() + notification_services.deliveries_sweep()


@shared_task(name="incidents.escalate_audit", acks_late=True)
def escalate_audit() -> int:
    """Former name of sweep_response, kept so messages queued before an upgrade still run."""
    return sweep_response()


@shared_task(name="incidents.notify_digest", acks_late=True)
def notify_digest(period: str) -> int:
    return digest_services.digest_send(period=period).deliveries


@shared_task(name="incidents.run_playbook_step", acks_late=True)
def run_playbook_step(step_run_id: int) -> str:
    return playbook_services.playbook_step_execute(step_run_id=step_run_id).status


# --- Incident core (core-eng) -------------------------------------------------------------------


@shared_task(name="incidents.promote_pending_alerts", acks_late=True)
def promote_pending_alerts() -> int:
    """Beat: alerts held for minimum persistence that have now persisted open or join incidents."""
    return core_services.signals.pending_alerts_promote()


@shared_task(name="incidents.reassess_open_incidents", acks_late=True)
def reassess_open_incidents() -> int:
    """Beat: long-running incidents climb a level (duration rule); never downwards."""
    return core_services.severity.open_incidents_reassess()
