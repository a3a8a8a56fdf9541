"""Slack-compatible incoming webhook: blocks with the text, a severity-coloured attachment and a link back."""
from __future__ import annotations

from incidents.choices import ChannelKind

from .base import Channel, Message, TransportError
from .registry import register
from .webhook import post_json


def slack_payload(message: Message) -> dict:
    blocks: list[dict] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{message.subject}*"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": message.text[:2900]}},
    ]
    if message.url:
        blocks.append({
            "type": "actions",
            "elements": [
                {"type": "button", "text": {"type": "plain_text", "text": "Open in AIOps"}, "url": message.url},
            ],
        })
    return {
        "text": message.subject,  # fallback for notifications and clients without blocks
        "blocks": blocks,
        "attachments": [{
            "color": message.colour,
            "fallback": message.subject,
            "fields": [{"title": "Severity", "value": message.level_label or "-", "short": True}],
            **({"title_link": message.url, "title": "Open in AIOps"} if message.url else {}),
        }],
    }


@register
class SlackChannel(Channel):
    kind = ChannelKind.SLACK

    def send(self, delivery) -> None:
        endpoint = delivery.endpoint
        if endpoint is None:
            raise TransportError("Slack delivery without an endpoint", permanent=True)
        # Slack's incoming webhooks are unsigned; the URL is the secret.
        post_json(url=endpoint.url, payload=slack_payload(Message.from_delivery(delivery)),
                  timeout=endpoint.timeout_seconds)
