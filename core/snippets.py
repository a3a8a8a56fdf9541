"""Ready-to-paste configuration for each kind of agent, printed when an integration is created."""
from __future__ import annotations

from django.conf import settings

from .choices import IntegrationKind
from .models import Integration


def integration_snippet(*, integration: Integration, token: str, base_url: str | None = None) -> str:
    base = (base_url or settings.SITE_URL).rstrip("/")
    if integration.kind == IntegrationKind.GENERIC:
        return (
            "# Send a signal:\n"
            f"curl -X POST {base}/api/v1/signals/ -H 'Authorization: Bearer {token}' \\\n"
            "  -H 'Content-Type: application/json' \\\n"
            "  -d '{\"title\": \"Disk almost full\", \"service\": \"" + (integration.service.name if integration.service else "SERVICE") + "\", \"severity\": \"warning\"}'"
        )
    return ""
