"""Built-in playbook actions: silence the incident's alerts for a while, escalate now, call a webhook."""
from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from incidents.notifications.webhook import post_json
from incidents.services import escalation
from incidents.services.silences import silence_create

from .actions import ActionResult, register_action

MAX_SILENCE_MINUTES = 7 * 24 * 60  # a playbook silence longer than a week is a forgotten one


@register_action("silence_for")
def silence_for(*, incident, params: dict) -> ActionResult:
    """params: minutes (default 60), matchers (default: the incident's service), comment."""
    minutes = int(params.get("minutes", 60))
    if not 1 <= minutes <= MAX_SILENCE_MINUTES:
        return ActionResult(ok=False, detail=f"minutes must be 1..{MAX_SILENCE_MINUTES}, not {minutes}")
    matchers = params.get("matchers") or [{"label": "service", "op": "=", "value": incident.service.name}]
    silence = silence_create(
        matchers=matchers, starts_at=None, ends_at=timezone.now() + timedelta(minutes=minutes),
        comment=params.get("comment") or f"Playbook step on incident #{incident.pk}",
    )
    return ActionResult(ok=True, detail=f"silenced for {minutes} min", data={"silence_id": silence.pk})


@register_action("escalate_now")
def escalate_now(*, incident, params: dict) -> ActionResult:
    """Notify the next escalation tier at once instead of waiting for the acknowledgement target."""
    outcome = escalation.escalation_escalate_now(incident_id=incident.pk)
    return ActionResult(ok=outcome.outcome == "escalated", detail=f"{outcome.outcome} (step {outcome.step})",
                        data={"step": outcome.step, "deliveries": outcome.deliveries})


@register_action("call_webhook")
def call_webhook(*, incident, params: dict) -> ActionResult:
    """params: url, secret (HMAC key), payload (merged into the incident facts)."""
    response = post_json(
        url=str(params.get("url", "")), secret=str(params.get("secret", "")),
        payload={"incident": {"id": incident.pk, "title": incident.title, "severity": incident.severity,
                              "service": incident.service.name}, **dict(params.get("payload") or {})},
    )
    return ActionResult(ok=True, detail=f"HTTP {response.status_code}", data={"status_code": response.status_code})
