"""Response hooks the incident core calls after commit: playbook, pages, upgrade notices, escalation timers.

Each hook takes ids only (the core calls them via `transaction.on_commit`) and must not raise
into the caller: the incident is already stored when they run. The hooks stay cheap (they run
in the intake worker); paging happens in tasks on the `notify` queue so an alert storm on
`ingest` never delays a page.
"""
from __future__ import annotations

import logging

from core.enqueue import enqueue
from incidents.choices import DeliveryKind

from . import escalation, notifications, playbooks

log = logging.getLogger(__name__)


def on_incident_opened(*, incident_id: int) -> None:
    """A new (or reopened) incident exists: page per its severity, attach a playbook."""
    # The page goes out first: attaching the playbook costs a few queries the page need not wait for.
    enqueue("incidents.notify_incident_opened", incident_id)
    try:
        playbooks.playbook_attach(incident_id=incident_id)
    except Exception:  # a broken playbook must not stop the page
        log.exception("attaching a playbook to incident %s failed", incident_id)


def on_severity_changed(*, incident_id: int, old: int, new: int) -> None:
    """The level moved: a worse level sends an upgrade notice and re-arms the timer for its target."""
    try:
        playbooks.playbook_reconsider(incident_id=incident_id)
    except Exception:  # the notice matters more than the playbook
        log.exception("reconsidering the playbook of incident %s failed", incident_id)
    enqueue("incidents.notify_severity_changed", incident_id, old, new)


def on_incident_acknowledged(*, incident_id: int) -> None:
    """Someone took it: stop escalation timers."""
    escalation.escalation_stop(incident_id=incident_id, reason="acknowledged")


def on_alert_joined_after_ack(*, incident_id: int, alert_id: int) -> None:
    """An alert joined an incident someone works: tell them (on the notify queue)."""
    enqueue("incidents.notify_alert_joined_after_ack", incident_id, alert_id)


def on_incident_resolved(*, incident_id: int) -> None:
    """It is over: stop timers; whoever was paged gets a resolved notice on the channel they were paged on."""
    escalation.escalation_stop(incident_id=incident_id, reason="resolved")
    enqueue("incidents.notify_incident_resolved", incident_id)


def incident_opened_notify(*, incident_id: int) -> int:
    """Page the level's audience and arm the escalation timer; returns the deliveries created."""
    result = notifications.incident_notify(incident_id=incident_id, kind=DeliveryKind.PAGE)
    escalation.escalation_start(incident_id=incident_id)
    return result.created


def incident_severity_notify(*, incident_id: int, old: int, new: int) -> int:
    """Upgrade: an upgrade notice to the new level's audience (never a repeat page); any change re-arms the timer."""
    created = 0
    if new < old:  # lower number = worse
        created = notifications.incident_notify(
            incident_id=incident_id, kind=DeliveryKind.UPGRADE, level=new, old_level=old
        ).created
    escalation.escalation_start(incident_id=incident_id)
    return created
