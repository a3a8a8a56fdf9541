"""In-app channel: a row in the recipient's notification list (unread until opened)."""
from __future__ import annotations

from incidents.choices import ChannelKind
from incidents.models import UserNotification

from .base import Channel, Message, TransportError
from .registry import register


@register
class InAppChannel(Channel):
    kind = ChannelKind.INAPP

    def send(self, delivery) -> None:
        if delivery.recipient_id is None:
            raise TransportError("in-app delivery without a recipient", permanent=True)
        message = Message.from_delivery(delivery)
        # get_or_create on the delivery keeps a retried hand-over from listing the note twice.
        UserNotification.objects.get_or_create(
            delivery=delivery,
            defaults={
                "user_id": delivery.recipient_id,
                "incident_id": delivery.incident_id,
                "kind": message.kind,
                "level": message.level,
                "title": message.subject,
                "body": message.text[:4000],
                "url": message.url,
            },
        )
