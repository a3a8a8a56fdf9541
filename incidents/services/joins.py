"""Alerts that join an incident someone is already working: tell its assignee (in-app; critical ones also on
the person's own channels), so a new critical alert from a dependent service never changes only a counter."""
from __future__ import annotations

from django.utils import timezone
from django.utils.html import escape

from incidents.choices import ChannelKind, DeliveryKind, Severity, SeverityHint
from incidents.models import Alert, Incident

from .notifications import NotifyResult, Target, deliveries_create, incident_message, person_targets

# In a storm, the assignee gets at most one in-app notice per incident per this many seconds (the page and the
# queue count the rest); every critical alert is told on its own.
JOIN_NOTICE_BUCKET_SECONDS = 600


def alert_is_critical(*, alert: Alert, incident: Incident) -> bool:
    return alert.severity_hint == SeverityHint.CRITICAL or incident.severity == Severity.CRITICAL


def alert_joined_after_ack_notify(*, incident_id: int, alert_id: int) -> NotifyResult:
    """Notify the incident's assignee (or whoever acknowledged it) that `alert_id` joined it."""
    incident = Incident.objects.select_related("service", "assignee", "acknowledged_by").get(pk=incident_id)
    alert = Alert.objects.select_related("service").get(pk=alert_id)
    person = incident.assignee or incident.acknowledged_by
    if person is None:
        return NotifyResult(created=0, existing=0, delivery_ids=())
    critical = alert_is_critical(alert=alert, incident=incident)
    targets = [Target(channel=ChannelKind.INAPP, recipient_id=person.pk, endpoint_id=None, address="")]
    if critical:
        targets += [t for t in person_targets(users=[person], allowed=ChannelKind.values)
                    if t.channel != ChannelKind.INAPP]
        scope = f"i{incident.pk}:a{alert.pk}"
    else:
        scope = f"i{incident.pk}:t{int(timezone.now().timestamp()) // JOIN_NOTICE_BUCKET_SECONDS}"
    message = incident_message(incident=incident, kind=DeliveryKind.JOINED, level=incident.severity)
    why = alert.join_explanation or alert.get_grouped_by_display()
    line = (f"New {'critical ' if critical else ''}alert since acknowledged: “{alert.title}” on "
            f"{alert.service.name}, joined by {why}. {incident.new_since_ack_count} new since acknowledged.")
    message["subject"] = (f"[AIOps {message['level_label']}] NEW ALERT on acknowledged #{incident.pk}: "
                          f"{alert.title} ({alert.service.name})")[:250]
    message["text"] = f"{line}\n\n{message['text']}"
    message["html"] = f"<p><strong>{escape(line)}</strong></p>{message['html']}"
    message["data"]["alert"] = {"id": alert.pk, "title": alert.title, "service": alert.service.name,
                                "rule": alert.grouped_by, "detail": alert.grouped_detail, "critical": critical}
    return deliveries_create(kind=DeliveryKind.JOINED, scope=scope, targets=targets, message=message,
                             incident_id=incident.pk, level=incident.severity)
