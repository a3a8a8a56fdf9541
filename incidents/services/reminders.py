"""Reminders to one person (review owners, action-item owners) through their own notification channels."""
from __future__ import annotations

from django.conf import settings

from incidents.choices import ChannelKind, DeliveryKind

from . import notifications


def person_remind(*, user, scope: str, subject: str, text: str, path: str, incident_id: int | None = None) -> int:
    """One reminder per person, channel and `scope` (the scope names the item and the occasion), so a sweep
    that runs again sends nothing twice. Returns the deliveries created."""
    if user is None or not user.is_active:
        return 0
    url = f"{settings.SITE_URL}{path}"
    message = {
        "subject": subject[:250], "text": f"{text}\n\n{url}\n", "html": "", "url": url,
        "kind": DeliveryKind.REMINDER, "data": {"scope": scope, "url": url},
    }
    targets = notifications.person_targets(users=[user], allowed=ChannelKind.values)
    return notifications.deliveries_create(kind=DeliveryKind.REMINDER, scope=scope, targets=targets,
                                           message=message, incident_id=incident_id).created
