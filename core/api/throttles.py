"""The one rate-limit layer of the API: every integration endpoint counts its requests here.

Built on core.ratelimit (a per-integration, per-minute window in the shared cache). DRF runs
throttles after authentication and permissions, so a request is counted against the integration
that sent it (a token in the header, or PagerDuty's `routing_key` in the body) and only once it
is allowed to call the endpoint.
"""
from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from core.http import declared_length
from core.models import Integration
from core.ratelimit import integration_request_count


class IntegrationRateThrottle(BaseThrottle):
    """Over the integration's limit: Throttled (429 with Retry-After and a message naming the limit).

    A view with `max_body_bytes` refuses a larger declared body itself before anything counts it.
    """

    def allow_request(self, request: Request, view: Any) -> bool:
        integration = request.auth
        if not isinstance(integration, Integration):
            return True  # a person's request (or none): integration limits do not apply
        max_body = getattr(view, "max_body_bytes", None)
        if max_body is not None and (declared_length(request._request) or 0) > max_body:
            return True  # refused as too large by the view, uncounted
        # Raises Throttled itself: its message names the integration and its limit.
        integration_request_count(integration=integration)
        return True
