"""Drills: a synthetic incident of a chosen level, paged, escalated and played for real.

The incident is marked `is_drill` (and its title, alert and labels say DRILL) so a responder who
gets the page knows, and every report leaves it out; everything after opening is the production
path: the level's page, its escalation timer and the matching playbook (`response.on_incident_opened`).
What it measures (`selectors.drill_results`): alert-in -> first page out, and time to acknowledge.
"""
from __future__ import annotations

import uuid
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from core.exceptions import InvalidInput
from core.models import Service
from incidents import events
from incidents.choices import AlertStatus, Severity, SeveritySource, SourceKind
from incidents.models import Alert, Incident

from . import response

DRILL_PREFIX = "[DRILL]"
DRILL_SOURCE = "drill"


class InvalidDrill(InvalidInput):
    code = "invalid_drill"


def drill_start(*, service: Service, level: int, started_by: str = "", now: datetime | None = None) -> Incident:
    """Open a drill incident of `level` on `service`; its page and playbook follow after commit."""
    if level not in Severity.values:
        raise InvalidDrill(f"level must be one of {sorted(Severity.values)}, not {level!r}", field="level")
    now = now or timezone.now()
    run = uuid.uuid4().hex[:12]
    title = f"{DRILL_PREFIX} Level {level} drill on {service.name}"
    with transaction.atomic():
        incident = Incident.objects.create(
            title=title, service=service, team=service.team, severity=level, rules_severity=level,
            severity_source=SeveritySource.OVERRIDE, is_drill=True,
            severity_reasons=[f"drill: level {level} chosen by {started_by or 'the drill command'}"],
            opened_at=now, last_alert_at=now, last_received_at=now, alert_count=1,
        )
        alert = Alert.objects.create(
            fingerprint=f"drill-{run}", source_kind=SourceKind.GENERIC, source_name=DRILL_SOURCE, service=service,
            incident=incident, title=title, status=AlertStatus.FIRING, labels={"drill": "true", "drill_run": run},
            description="A drill: the page and escalation are real, the fault is not. Acknowledge it to record "
                        "the time to acknowledge.",
            first_seen=now, last_seen=now,
        )
        events.incident_opened(incident=incident, alert=alert)
        incident_id = incident.pk
        transaction.on_commit(lambda: response.on_incident_opened(incident_id=incident_id))
    return incident
