"""Ready-to-paste configuration for each kind of agent, printed when an integration is created.

The Alertmanager and PagerDuty snippets are exercised as printed by the integration tests
(a real Alertmanager and the pdpyras client), so what we tell people to paste works.
"""
from __future__ import annotations

from collections.abc import Callable

from django.conf import settings

from .choices import IntegrationKind
from .models import Integration


def integration_snippet(*, integration: Integration, token: str, base_url: str | None = None) -> str:
    base = (base_url or settings.SITE_URL).rstrip("/")
    service = integration.service.name if integration.service else "SERVICE"
    builder = _BUILDERS.get(integration.kind)
    return builder(base=base, token=token, service=service, integration=integration) if builder else ""


def alertmanager_receiver(*, base: str, token: str, name: str = "aiops") -> str:
    """An alertmanager.yml `receivers:` entry posting webhooks to us with the token."""
    return (
        f"  - name: {name}\n"
        "    webhook_configs:\n"
        f"      - url: {base}/api/v1/integrations/alertmanager\n"
        "        send_resolved: true\n"
        "        http_config:\n"
        "          authorization:\n"
        "            type: Bearer\n"
        f"            credentials: {token}\n"
    )


def pagerduty_receiver(*, base: str, token: str, name: str = "aiops-pagerduty") -> str:
    """An alertmanager.yml `receivers:` entry using pagerduty_configs pointed at us."""
    return (
        f"  - name: {name}\n"
        "    pagerduty_configs:\n"
        f"      - url: {base}/api/v1/integrations/pagerduty/v2/enqueue\n"
        f"        routing_key: {token}\n"
        "        send_resolved: true\n"
    )


def _alertmanager(*, base: str, token: str, service: str, integration: Integration) -> str:
    return (
        f"# alertmanager.yml: send alerts to AIOps. Alerts are filed under {service!r} unless their\n"
        "# `service` label names one of this integration's extra services (set in the admin).\n"
        "# Merge into your existing route/receivers; keep send_resolved so incidents resolve.\n"
        "route:\n"
        "  receiver: aiops\n"
        "  group_by: [alertname, service]\n"
        "receivers:\n" + alertmanager_receiver(base=base, token=token)
    )


def _pagerduty(*, base: str, token: str, service: str, integration: Integration) -> str:
    return (
        "# Anything that speaks PagerDuty Events API v2 works unchanged: the token is the routing key.\n"
        f"# Events URL: {base}/api/v1/integrations/pagerduty/v2/enqueue\n"
        "#\n"
        "# Alertmanager (alertmanager.yml), instead of or next to a webhook receiver:\n"
        "receivers:\n" + pagerduty_receiver(base=base, token=token) + "\n"
        "# Python (pip install pdpyras):\n"
        "#   import pdpyras\n"
        f"#   session = pdpyras.EventsAPISession(\"{token}\")\n"
        f"#   session.url = \"{base}/api/v1/integrations/pagerduty\"   # it appends /v2/enqueue\n"
        "#   key = session.trigger(\"Disk almost full on db-1\", \"db-1\", severity=\"error\")\n"
        "#   session.acknowledge(key); session.resolve(key)\n"
        "#\n"
        "# curl:\n"
        f"#   curl -X POST {base}/api/v1/integrations/pagerduty/v2/enqueue -H 'Content-Type: application/json' \\\n"
        f"#     -d '{{\"routing_key\": \"{token}\", \"event_action\": \"trigger\", \"payload\": "
        "{\"summary\": \"Disk almost full\", \"source\": \"db-1\", \"severity\": \"error\"}}'"
    )


def _grafana(*, base: str, token: str, service: str, integration: Integration) -> str:
    hmac = (
        "  Optional settings > HMAC Signature:\n"
        "    Secret:            the secret set on this integration\n"
        "    Header:            X-Grafana-Alerting-Signature (default)\n"
        "    Timestamp header:  X-Grafana-Alerting-Signature-Timestamp (replay protection)\n"
        if integration.secret
        else "  (Optional: set a secret on the integration and Grafana's HMAC signature becomes required.)\n"
    )
    return (
        "Grafana > Alerting > Contact points > + Add contact point\n"
        "  Name:              AIOps\n"
        "  Integration:       Webhook\n"
        f"  URL:               {base}/api/v1/integrations/grafana\n"
        "  HTTP Method:       POST\n"
        "  Optional settings > Authorization Header:\n"
        "    Scheme:            Bearer\n"
        f"    Credentials:       {token}\n"
        + hmac
        + "Then route alerts to it in a notification policy. Alerts go to "
        + f"{service!r} unless their `service` label names one of the integration's extra services."
    )


def _generic(*, base: str, token: str, service: str, integration: Integration) -> str:
    return (
        "# Send a signal:\n"
        f"curl -X POST {base}/api/v1/signals/ -H 'Authorization: Bearer {token}' \\\n"
        "  -H 'Content-Type: application/json' \\\n"
        "  -d '{\"title\": \"Disk almost full\", \"service\": \"" + service + "\", \"severity\": \"warning\"}'"
    )


# Keyed by the stored kind (a plain string on the model), one builder per kind of agent.
_BUILDERS: dict[str, Callable[..., str]] = {
    IntegrationKind.ALERTMANAGER: _alertmanager,
    IntegrationKind.GRAFANA: _grafana,
    IntegrationKind.PAGERDUTY: _pagerduty,
    IntegrationKind.GENERIC: _generic,
}
