"""PagerDuty Events API v2 (`/v2/enqueue`): trigger, acknowledge and resolve by dedup_key."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any, ClassVar

from core.models import Integration

from .base import (
    MAX_DESCRIPTION_CHARS,
    MAX_TITLE_CHARS,
    IntakeParser,
    Problems,
    SignalDraft,
    content_hash,
    json_type,
    safe_links,
    truncate,
)
from .registry import register

ACTIONS = {"trigger": "firing", "acknowledge": "acknowledged", "resolve": "resolved"}
# PagerDuty's four payload severities → core hints ("error" is PagerDuty's "high").
SEVERITIES = {"critical": "critical", "error": "high", "warning": "warning", "info": "info"}
# Limits PagerDuty documents for Events v2; a client that passes them passes here.
MAX_SUMMARY_CHARS = 1024
MAX_DEDUP_KEY_CHARS = 255
PAYLOAD_LABELS = ("source", "component", "group", "class")


@register
class PagerDutyParser(IntakeParser):
    kind: ClassVar[str] = "pagerduty"
    source_kind: ClassVar[str] = "pagerduty"

    def drafts(
        self, *, data: dict[str, Any], integration: Integration, received_at: datetime, problems: Problems
    ) -> tuple[list[SignalDraft], str, str]:
        action = data.get("event_action")
        if action is None:
            problems.add("event_action", "is missing")
        elif not isinstance(action, str) or action not in ACTIONS:
            problems.add("event_action", f"must be one of trigger, acknowledge, resolve, not {str(action)[:40]!r}")
        dedup_key = problems.string(data, "dedup_key", "", max_len=MAX_DEDUP_KEY_CHARS)
        if action in ("acknowledge", "resolve") and not dedup_key:
            problems.add("dedup_key", f"is required to {action}")
        payload = data.get("payload")
        if payload is not None and not isinstance(payload, dict):
            problems.add("payload", f"must be an object, not {json_type(payload)}")
            payload = None
        if action == "trigger" and payload is None:
            problems.add("payload", "is missing")
        payload = payload or {}
        required = action == "trigger"
        summary = problems.string(payload, "summary", "payload.", required=required, max_len=MAX_SUMMARY_CHARS)
        source = problems.string(payload, "source", "payload.", required=required)
        severity = problems.string(payload, "severity", "payload.", required=required)
        if severity and severity not in SEVERITIES:
            problems.add("payload.severity", f"must be one of critical, error, warning, info, not {severity[:40]!r}")
        occurred_at = problems.timestamp(payload, "timestamp", "payload.")
        extra = {key: problems.string(payload, key, "payload.") for key in PAYLOAD_LABELS[1:]}
        links = self.links(data, problems)
        images = data.get("images")
        if images is not None and not (isinstance(images, list) and all(isinstance(i, dict) for i in images)):
            problems.add("images", "must be an array of objects")
        client_url = problems.string(data, "client_url", "")
        client = problems.string(data, "client", "")
        if problems.errors:
            return [], "", ""

        # The event minus its credential identifies a retry; a generated dedup_key derives from it
        # so a retried trigger without one is answered with the same key.
        key = content_hash([self.kind, {k: v for k, v in data.items() if k != "routing_key"}])
        dedup_key = dedup_key or key[:32]
        labels = {"source": source, **extra, "severity": severity}
        labels = {k: v for k, v in labels.items() if v}
        details = payload.get("custom_details")
        title = summary or f"PagerDuty {action} for {dedup_key}"
        draft = SignalDraft(
            path="event",
            # A component or source naming one of our services routes there; else the default.
            service_candidates=tuple(v for v in (extra["component"], source) if v),
            fields={
                "title": truncate(title, MAX_TITLE_CHARS),
                "description": truncate(describe(details), MAX_DESCRIPTION_CHARS),
                "fingerprint": dedup_key,
                "labels": labels,
                "severity_hint": SEVERITIES.get(severity, ""),
                "status": ACTIONS[str(action)],  # a key of ACTIONS: checked above
                "occurred_at": occurred_at or received_at,
                "payload": {k: v for k, v in data.items() if k != "routing_key"},
                "links": safe_links([*links, (client_url, client or "Source")]),
            },
        )
        return [draft], key, dedup_key

    @staticmethod
    def links(data: dict, problems: Problems) -> list[tuple[Any, str]]:
        links = data.get("links")
        if links is None:
            return []
        if not isinstance(links, list) or not all(isinstance(link, dict) for link in links):
            problems.add("links", "must be an array of {href, text} objects")
            return []
        return [(link.get("href"), str(link.get("text") or "Link")) for link in links]


def describe(details: Any) -> str:
    """custom_details as readable text: a string as is, an object as `key: value` lines."""
    if details is None:
        return ""
    if isinstance(details, str):
        return details
    if isinstance(details, dict):
        return "\n".join(
            f"{k}: {v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)}" for k, v in details.items()
        )
    return json.dumps(details, ensure_ascii=False)
