"""Tasks of the incidents app."""
from __future__ import annotations

from celery import shared_task

from .services import (
    action_items,
    costs,
    deliveries,
    digests,
    escalation,
    joins,
    notifications,
    playbooks,
    response,
    reviews,
    severity,
)
from .services import signals as signal_services

# --- Response: notifications, escalation, playbooks, digests (queue `notify` for notify_/deliver_/escalate_) ----

DELIVERY_MAX_RETRIES = 8  # above services.deliveries.MAX_ATTEMPTS: the service decides when to give up


@shared_task(name="incidents.notify_incident_opened", acks_late=True)
def notify_incident_opened(incident_id: int) -> int:
    """Page the level's audience and arm the escalation timer."""
    return response.incident_opened_notify(incident_id=incident_id)


@shared_task(name="incidents.notify_severity_changed", acks_late=True)
def notify_severity_changed(incident_id: int, old: int, new: int) -> int:
    return response.incident_severity_notify(incident_id=incident_id, old=old, new=new)


@shared_task(name="incidents.notify_incident_resolved", acks_late=True)
def notify_incident_resolved(incident_id: int) -> int:
    return notifications.incident_resolved_notify(incident_id=incident_id).created


@shared_task(name="incidents.notify_alert_joined_after_ack", acks_late=True)
def notify_alert_joined_after_ack(incident_id: int, alert_id: int) -> int:
    """An alert joined an acknowledged incident: tell its assignee."""
    return joins.alert_joined_after_ack_notify(incident_id=incident_id, alert_id=alert_id).created


@shared_task(name="incidents.deliver_notification", bind=True, acks_late=True, max_retries=DELIVERY_MAX_RETRIES)
def deliver_notification(self, delivery_id: int) -> str:
    outcome = deliveries.delivery_send(delivery_id=delivery_id)
    if outcome.status == "retry":
        raise self.retry(countdown=outcome.retry_in)
    return outcome.status


@shared_task(name="incidents.escalate_incident", acks_late=True)
def escalate_incident(incident_id: int, token: str) -> str:
    """Legacy countdown timer (messages queued before timers moved to the database); token-checked."""
    return escalation.escalation_run(incident_id=incident_id, token=token).outcome


@shared_task(name="incidents.sweep_response", acks_late=True)
def sweep_response() -> int:
    """Beat, every few seconds on `default`: run due escalations, send deliveries no worker is sending."""
    return escalation.escalations_sweep() + deliveries.deliveries_sweep()


@shared_task(name="incidents.escalate_audit", acks_late=True)
def escalate_audit() -> int:
    """Former name of sweep_response, kept so messages queued before an upgrade still run."""
    return sweep_response()


@shared_task(name="incidents.notify_digest", acks_late=True)
def notify_digest(period: str) -> int:
    return digests.digest_send(period=period).deliveries


@shared_task(name="incidents.run_playbook_step", acks_late=True)
def run_playbook_step(step_run_id: int) -> str:
    return playbooks.playbook_step_execute(step_run_id=step_run_id).status


# --- Incident core: pending alerts, severity over time -----------------------------------------


@shared_task(name="incidents.promote_pending_alerts", acks_late=True)
def promote_pending_alerts() -> int:
    """Beat: alerts held for minimum persistence that have now persisted open or join incidents."""
    return signal_services.pending_alerts_promote()


@shared_task(name="incidents.reassess_open_incidents", acks_late=True)
def reassess_open_incidents() -> int:
    """Beat: long-running incidents climb a level (duration rule); never downwards."""
    return severity.open_incidents_reassess()


# --- Learning: reviews, action items, cost (issue 11) ------------------------------------------


@shared_task(name="incidents.remind_reviews", acks_late=True)
def remind_reviews() -> int:
    """Beat: review owners reminded before, on and after the due date (once per occasion)."""
    return reviews.reviews_remind()


@shared_task(name="incidents.remind_action_items", acks_late=True)
def remind_action_items() -> int:
    """Beat: overdue action items remind their owner once a day."""
    return action_items.action_items_remind()


@shared_task(name="incidents.watch_action_items", acks_late=True)
def watch_action_items() -> int:
    """Beat: done action items become "recurred" on a recurrence or "held" when the watch ends."""
    return action_items.action_items_watch()


@shared_task(name="incidents.refresh_incident_costs", acks_late=True)
def refresh_incident_costs() -> int:
    """Beat: costs of incidents not yet frozen are recomputed (they grow while an incident is open)."""
    return costs.incident_costs_refresh_open()
