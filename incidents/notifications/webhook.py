"""Generic webhook channel: JSON body signed with HMAC-SHA256 in `X-AIOps-Signature: sha256=<hex>`."""
from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import requests

from incidents.choices import ChannelKind

from .base import Channel, Message, TransportError
from .registry import register

SIGNATURE_HEADER = "X-AIOps-Signature"
DEFAULT_TIMEOUT = 5.0  # seconds; a page must not wait behind a slow receiver, retries come later


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(body: bytes, secret: str, header: str) -> bool:
    return hmac.compare_digest(sign(body, secret), header or "")


def post_json(*, url: str, payload: Any, secret: str = "", timeout: float = DEFAULT_TIMEOUT,
              headers: dict[str, str] | None = None) -> requests.Response:
    """POST a signed JSON body; classify failures as transient (timeouts, 5xx, 429) or permanent."""
    if not url or not url.startswith(("http://", "https://")):
        raise TransportError(f"webhook URL {url!r} is not an http(s) URL", permanent=True)
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True, default=str).encode()
    sent_headers = {"Content-Type": "application/json", "User-Agent": "aiops-notify/1"}
    if secret:
        sent_headers[SIGNATURE_HEADER] = sign(body, secret)
    sent_headers.update(headers or {})
    try:
        response = requests.post(url, data=body, headers=sent_headers, timeout=timeout)
    except requests.Timeout as exc:
        raise TransportError(f"timed out after {timeout}s", permanent=False) from exc
    except requests.RequestException as exc:
        raise TransportError(f"connection failed: {exc}", permanent=False) from exc
    if response.status_code == 429 or response.status_code >= 500:
        raise TransportError(f"HTTP {response.status_code}: {response.text[:200]}", permanent=False)
    if response.status_code >= 400:
        raise TransportError(f"HTTP {response.status_code}: {response.text[:200]}", permanent=True)
    return response


@register
class WebhookChannel(Channel):
    kind = ChannelKind.WEBHOOK

    def send(self, delivery) -> None:
        endpoint = delivery.endpoint
        if endpoint is None:
            raise TransportError("webhook delivery without an endpoint", permanent=True)
        message = Message.from_delivery(delivery)
        payload = {
            "delivery_id": delivery.pk,
            "kind": message.kind,
            "subject": message.subject,
            "text": message.text,
            "level": message.level,
            "level_label": message.level_label,
            "url": message.url,
            **message.data,
        }
        post_json(url=endpoint.url, payload=payload, secret=endpoint.secret, timeout=endpoint.timeout_seconds,
                  headers={"X-AIOps-Delivery": str(delivery.pk)})
