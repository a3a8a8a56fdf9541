"""Grafana alerting webhook (payload version "1"): Alertmanager's shape plus values and panel links.

Grafana signs the body when the contact point has an HMAC secret: `X-Grafana-Alerting-Signature`
is the hex HMAC-SHA256 of the body, or of "<timestamp>:<body>" when a timestamp header is set.
"""
from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any, ClassVar

from .alertmanager import AlertmanagerParser
from .base import IntakeInvalid
from .registry import register

SIGNATURE_HEADER = "X-Grafana-Alerting-Signature"
# Grafana has no default timestamp header name; these two are the ones its docs use.
TIMESTAMP_HEADERS = ("X-Grafana-Alerting-Signature-Timestamp", "X-Grafana-Alerting-Timestamp")
# A signed timestamp older than this is a replay (same tolerance as Slack and Stripe use).
SIGNATURE_MAX_AGE_SECONDS = 300


class SignatureInvalid(IntakeInvalid):
    status_code = 401
    code = "invalid_signature"


def verify_signature(*, secret: str, body: bytes, headers: Any, now: float | None = None) -> None:
    """Raise SignatureInvalid unless `headers` carry Grafana's HMAC of `body` under `secret`."""
    signature = (headers.get(SIGNATURE_HEADER) or "").strip().lower()
    if not signature:
        raise SignatureInvalid([f"{SIGNATURE_HEADER} header is missing (the integration has an HMAC secret)"])
    timestamp = next((headers.get(name) for name in TIMESTAMP_HEADERS if headers.get(name)), "")
    signed = body
    if timestamp:
        try:
            age = abs((time.time() if now is None else now) - int(timestamp))
        except ValueError:
            raise SignatureInvalid(["signature timestamp must be Unix seconds"]) from None
        if age > SIGNATURE_MAX_AGE_SECONDS:
            raise SignatureInvalid(
                [f"signature timestamp is {int(age)} s away from now (limit {SIGNATURE_MAX_AGE_SECONDS} s)"]
            )
        signed = timestamp.encode() + b":" + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.removeprefix("sha256=")):
        raise SignatureInvalid([f"{SIGNATURE_HEADER} does not match the body"])


@register
class GrafanaParser(AlertmanagerParser):
    kind: ClassVar[str] = "grafana"
    source_kind: ClassVar[str] = "grafana"
    version: ClassVar[str] = "1"
    sender: ClassVar[str] = "Grafana"

    def extra_links(self, *, alert: dict, group: dict) -> list[tuple[Any, str]]:
        return [
            *super().extra_links(alert=alert, group=group),
            (alert.get("dashboardURL"), "Dashboard"),
            (alert.get("panelURL"), "Panel"),
            (alert.get("silenceURL"), "Silence"),
            (alert.get("imageURL"), "Image"),
        ]

    def extra_payload(self, *, data: dict) -> dict:
        return {key: data[key] for key in ("title", "state", "orgId") if key in data}

    def describe(self, description: str, alert: dict) -> str:
        values = alert.get("values")
        if isinstance(values, dict) and values:
            shown = ", ".join(f"{name}={value}" for name, value in list(values.items())[:20])
            return f"{description}\n\nValues: {shown}" if description else f"Values: {shown}"
        return description
