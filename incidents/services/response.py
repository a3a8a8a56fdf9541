"""Response hooks the incident core calls after commit; the playbooks/notifications work fills them.

Each hook takes ids only (the core calls them via `transaction.on_commit`) and must not raise
into the caller: the incident is already stored when they run.
"""
from __future__ import annotations


def on_incident_opened(*, incident_id: int) -> None:
    """A new incident exists: attach a playbook, page per its severity."""


def on_severity_changed(*, incident_id: int, old: int, new: int) -> None:
    """The level moved (rules upgrade or an operator): re-page if it got worse."""


def on_incident_acknowledged(*, incident_id: int) -> None:
    """Someone took it: stop escalation timers."""


def on_incident_resolved(*, incident_id: int) -> None:
    """It is over: stop timers, send the resolution notice."""
