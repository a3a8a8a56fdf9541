"""Prometheus Alertmanager webhook (payload version "4"): one signal per alert of the group."""
from __future__ import annotations

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
    is_unset,
    json_type,
    safe_links,
    truncate,
)
from .registry import register

# Severity label values seen in the wild (kube-prometheus, Grafana, Datadog habits) → core hints.
SEVERITY_HINTS = {
    "critical": "critical", "crit": "critical", "page": "critical", "p1": "critical", "fatal": "critical",
    "emergency": "critical", "disaster": "critical",
    "high": "high", "error": "high", "major": "high", "p2": "high", "err": "high",
    "warning": "warning", "warn": "warning", "medium": "warning", "minor": "warning", "p3": "warning",
    "average": "warning",
    "info": "info", "informational": "info", "low": "info", "none": "info", "p4": "info", "p5": "info",
    "notice": "info", "debug": "info",
}
ALERT_STATUSES = ("firing", "resolved")
# Label naming the service an alert belongs to; falls back to the integration's service.
SERVICE_LABELS = ("service", "aiops_service")


def severity_hint(labels: dict[str, str]) -> str:
    for key in ("severity", "priority", "level"):
        if key in labels:
            return SEVERITY_HINTS.get(labels[key].strip().lower(), "")
    return ""


@register
class AlertmanagerParser(IntakeParser):
    kind: ClassVar[str] = "alertmanager"
    source_kind: ClassVar[str] = "alertmanager"
    version: ClassVar[str] = "4"
    sender: ClassVar[str] = "Alertmanager"

    def drafts(
        self, *, data: dict[str, Any], integration: Integration, received_at: datetime, problems: Problems
    ) -> tuple[list[SignalDraft], str, str]:
        version = data.get("version")
        if version != self.version:
            problems.add("version", f"must be {self.version!r} ({self.sender} webhook payload), not {version!r}")
        group_status = problems.string(data, "status", "")
        if group_status and group_status not in ALERT_STATUSES:
            problems.add("status", f"must be one of {', '.join(ALERT_STATUSES)}, not {group_status[:40]!r}")
        group_key = problems.string(data, "groupKey", "")
        receiver = problems.string(data, "receiver", "")
        external_url = problems.string(data, "externalURL", "")
        group_labels = problems.string_map(data, "groupLabels", "")
        common_labels = problems.string_map(data, "commonLabels", "")
        problems.string_map(data, "commonAnnotations", "")
        alerts = data.get("alerts")
        if alerts is None:
            problems.add("alerts", "is missing")
            return [], "", ""
        if not isinstance(alerts, list) or not alerts:
            problems.add(
                "alerts",
                f"must be a non-empty array, not {json_type(alerts) if not isinstance(alerts, list) else 'empty'}",
            )
            return [], "", ""
        group = {
            "receiver": receiver, "groupKey": group_key, "externalURL": external_url,
            "groupLabels": group_labels, "commonLabels": common_labels,
        }
        drafts: list[SignalDraft] = []
        material: list[list[str]] = []
        for index, alert in enumerate(alerts):
            path = f"alerts[{index}]"
            if not isinstance(alert, dict):
                problems.add(path, f"must be an object, not {json_type(alert)}")
                continue
            draft = self.alert_draft(alert=alert, path=path, group=group, data=data, problems=problems)
            if draft is not None:
                drafts.append(draft)
                material.append([
                    alert.get("fingerprint") or content_hash(alert.get("labels")), str(alert.get("status")),
                    str(alert.get("startsAt")), str(alert.get("endsAt")),
                ])
        key = content_hash([self.kind, group_key, group_status, sorted(material)])
        return drafts, key, ""

    def alert_draft(
        self, *, alert: dict, path: str, group: dict, data: dict, problems: Problems
    ) -> SignalDraft | None:
        prefix = f"{path}."
        before = len(problems.errors)
        status = problems.string(alert, "status", prefix, required=True)
        if status and status not in ALERT_STATUSES:
            problems.add(f"{prefix}status", f"must be one of {', '.join(ALERT_STATUSES)}, not {status[:40]!r}")
        labels = problems.string_map(alert, "labels", prefix, required=True)
        annotations = problems.string_map(alert, "annotations", prefix)
        starts_at = problems.timestamp(alert, "startsAt", prefix, required=True)
        ends_at = problems.timestamp(alert, "endsAt", prefix)
        fingerprint = problems.string(alert, "fingerprint", prefix, max_len=200)
        generator_url = problems.string(alert, "generatorURL", prefix)
        if len(problems.errors) > before:
            return None
        resolved = status == "resolved"
        occurred_at = ends_at if resolved and not is_unset(ends_at) else starts_at
        if is_unset(occurred_at):
            occurred_at = None  # the core stamps "now"
        alertname = labels.get("alertname", "")
        title = annotations.get("summary") or annotations.get("title") or alertname or f"{self.sender} alert"
        if alertname and title != alertname and "summary" not in annotations:
            title = f"{alertname}: {title}"
        description = annotations.get("description") or annotations.get("message") or ""
        links = safe_links([
            (generator_url, "Source"),
            (annotations.get("runbook_url") or annotations.get("runbook"), "Runbook"),
            (annotations.get("dashboard_url") or annotations.get("dashboard"), "Dashboard"),
            *self.extra_links(alert=alert, group=group),
        ])
        payload = {"alert": alert, **group, **self.extra_payload(data=data)}
        return SignalDraft(
            path=path,
            service_candidates=tuple(labels[k] for k in SERVICE_LABELS if labels.get(k)),
            fields={
                "title": truncate(title, MAX_TITLE_CHARS),
                "description": truncate(self.describe(description, alert), MAX_DESCRIPTION_CHARS),
                "fingerprint": fingerprint,
                "labels": labels,
                "severity_hint": severity_hint(labels),
                "status": "resolved" if resolved else "firing",
                "occurred_at": occurred_at,
                "payload": payload,
                "links": links,
            },
        )

    def extra_links(self, *, alert: dict, group: dict) -> list[tuple[Any, str]]:
        return [(group["externalURL"], self.sender)] if group["externalURL"] else []

    def extra_payload(self, *, data: dict) -> dict:
        return {}

    def describe(self, description: str, alert: dict) -> str:
        return description
