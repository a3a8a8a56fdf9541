"""Alert endpoints for monitoring agents: Alertmanager and Grafana webhooks, PagerDuty Events v2.

Agents authenticate by token only (no session, so no CSRF): Alertmanager and Grafana with
`Authorization: Bearer <token>`, PagerDuty senders with the body's `routing_key`. The request is
stored before it is answered; processing happens on the ingest queue.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.parsers import BodyTooLarge, RawBodyParser, read_body
from core.api.throttles import IntegrationRateThrottle
from core.authentication import IntegrationPrincipal, IntegrationTokenAuthentication
from core.models import Integration
from core.permissions import IsIntegration
from monitoring.choices import AlertIntakeKind
from monitoring.formats import IntakeInvalid, decode_body
from monitoring.formats.base import MAX_BODY_BYTES
from monitoring.services import intake as intake_services


def alert_body(request: Request) -> bytes:
    """The raw body, refusing more than 1 MB before reading it when the length is declared."""
    try:
        return read_body(request, limit=MAX_BODY_BYTES)
    except BodyTooLarge as exc:
        if exc.declared is not None:
            raise IntakeInvalid([f"body is larger than 1 MB ({exc.declared} bytes)"]) from None
        raise IntakeInvalid(["body is larger than 1 MB"]) from None


AlertAccepted = inline_serializer(
    "AlertIntakeAccepted",
    {
        "status": serializers.CharField(),
        "intake_id": serializers.IntegerField(),
        "alerts": serializers.IntegerField(),
        "duplicate": serializers.BooleanField(),
    },
)


class _AlertWebhookView(APIView):
    authentication_classes = [IntegrationTokenAuthentication]
    permission_classes = [IsIntegration]
    parser_classes = [RawBodyParser]  # the body is stored verbatim
    renderer_classes = [JSONRenderer]  # agents read JSON; skipping negotiation saves time per request
    throttle_classes = [IntegrationRateThrottle]
    max_body_bytes = MAX_BODY_BYTES
    kind: ClassVar[str]

    def post(self, request):
        try:
            receipt = intake_services.alert_intake_receive(
                integration=request.auth, kind=self.kind, raw=alert_body(request), headers=request.headers
            )
        except IntakeInvalid as exc:
            return Response(
                {"detail": exc.message, "code": exc.code, "errors": exc.errors}, status=exc.status_code
            )
        return Response(
            {"status": "accepted", "intake_id": receipt.intake_id, "alerts": receipt.event_count,
             "duplicate": receipt.duplicate},
            status=status.HTTP_202_ACCEPTED,
        )


@extend_schema(
    summary="Prometheus Alertmanager webhook",
    description=(
        "Point an Alertmanager `webhook_configs` entry here with `http_config.authorization` set to an "
        'alertmanager integration token. Payload version "4" as Alertmanager sends it; each alert '
        "becomes a signal (fingerprint, labels, severity label, summary/description annotations). "
        "Re-sent notifications are stored once. 400 names every problem; nothing is stored."
    ),
    request={"application/json": OpenApiTypes.OBJECT},
    responses={
        202: AlertAccepted,
        400: OpenApiResponse(description="Invalid payload"),
        429: OpenApiResponse(description="Over the rate limit"),
    },
)
class AlertmanagerWebhookView(_AlertWebhookView):
    kind = AlertIntakeKind.ALERTMANAGER
    integration_kinds = {AlertIntakeKind.ALERTMANAGER}


@extend_schema(
    summary="Grafana alerting webhook",
    description=(
        'A Grafana webhook contact point (payload version "1") with the Authorization header set to '
        "`Bearer <grafana integration token>`. When the integration has a secret, the HMAC signature "
        "header `X-Grafana-Alerting-Signature` (hex HMAC-SHA256 of the body, or of `<timestamp>:<body>` "
        "with a timestamp header) is required and checked."
    ),
    request={"application/json": OpenApiTypes.OBJECT},
    responses={
        202: AlertAccepted,
        400: OpenApiResponse(description="Invalid payload"),
        401: OpenApiResponse(description="Bad token or signature"),
    },
)
class GrafanaWebhookView(_AlertWebhookView):
    kind = AlertIntakeKind.GRAFANA
    integration_kinds = {AlertIntakeKind.GRAFANA}


def _pagerduty_invalid(errors: list[str]) -> Response:
    return Response(
        {"status": "invalid event", "message": "Event object is invalid", "errors": errors},
        status=status.HTTP_400_BAD_REQUEST,
    )


@dataclass(frozen=True, slots=True)
class PagerDutyEvent:
    """The request's body, read and decoded once by the authentication that found its routing_key."""

    raw: bytes
    data: dict[str, Any]


_EVENT = "pagerduty_event"  # the attribute of the DRF request that carries its PagerDutyEvent


class RoutingKeyAuthentication(BaseAuthentication):
    """PagerDuty Events v2: the integration token is the body's `routing_key` (a pagerduty one).

    Authenticating here, as the header tokens are, lets the one rate-limit layer (a DRF throttle,
    run after authentication) count PagerDuty senders like every other integration.
    """

    def authenticate(self, request: Request) -> tuple[IntegrationPrincipal, Any]:
        raw = alert_body(request)
        data = decode_body(raw)
        integration = intake_services.pagerduty_routing_integration(data=data)
        setattr(request, _EVENT, PagerDutyEvent(raw=raw, data=data))
        return IntegrationPrincipal(integration=integration), integration


class RoutingKeyScheme(OpenApiAuthenticationExtension):
    """No security scheme in the schema: the routing_key is a field of the documented body."""

    target_class = RoutingKeyAuthentication
    name: list[str] = []  # noqa: RUF012  (the extension's declared type)

    def get_security_requirement(self, auto_schema: Any) -> list[dict[str, list[Any]]]:
        return []

    def get_security_definition(self, auto_schema: Any) -> list[dict[str, Any]]:
        return []


@extend_schema(
    summary="PagerDuty Events API v2 (enqueue)",
    description=(
        "Drop-in for `https://events.pagerduty.com/v2/enqueue`: `routing_key` is a pagerduty integration "
        "token; `event_action` trigger/acknowledge/resolve; `dedup_key` generated and returned when a "
        "trigger has none. Answers like PagerDuty: 202 success, 400 invalid event, 429 throttled."
    ),
    request={"application/json": OpenApiTypes.OBJECT},
    responses={
        202: inline_serializer(
            "PagerDutyAccepted",
            {
                "status": serializers.CharField(),
                "message": serializers.CharField(),
                "dedup_key": serializers.CharField(),
            },
        ),
        400: inline_serializer(
            "PagerDutyInvalid",
            {
                "status": serializers.CharField(),
                "message": serializers.CharField(),
                "errors": serializers.ListField(child=serializers.CharField()),
            },
        ),
        429: OpenApiResponse(description="Throttled; see Retry-After"),
    },
)
class PagerDutyEnqueueView(APIView):
    # The credential is inside the body: it is read, decoded and checked by the authentication.
    authentication_classes = [RoutingKeyAuthentication]
    permission_classes = [AllowAny]
    parser_classes = [RawBodyParser]
    renderer_classes = [JSONRenderer]
    throttle_classes = [IntegrationRateThrottle]

    def handle_exception(self, exc: Exception) -> Response:
        # Answered as PagerDuty answers: an unknown routing key is a 400 (its Events API has no 401).
        if isinstance(exc, IntakeInvalid):
            return _pagerduty_invalid(exc.errors)
        if isinstance(exc, AuthenticationFailed):
            return _pagerduty_invalid([f"Invalid routing key: {exc.detail}"])
        if isinstance(exc, Throttled):
            response = Response(
                {"status": "throttle event",
                 "message": "Requests for this service are arriving too quickly. Please retry later."},
                status=status.HTTP_429_TOO_MANY_REQUESTS,
            )
            response["Retry-After"] = str(int(getattr(exc, "wait", None) or 1))
            return response
        return super().handle_exception(exc)

    def post(self, request: Request) -> Response:
        event: PagerDutyEvent | None = getattr(request, _EVENT, None)
        if event is None or not isinstance(request.auth, Integration):
            # Only RoutingKeyAuthentication sets both; a caller authenticated some other way (a test client
            # forcing a user) has no routing key we have checked.
            return _pagerduty_invalid(["routing_key: a pagerduty integration token is required"])
        integration = request.auth
        receipt = intake_services.alert_intake_receive(
            integration=integration, kind=AlertIntakeKind.PAGERDUTY, raw=event.raw, data=event.data
        )
        return Response(
            {"status": "success", "message": "Event processed", "dedup_key": receipt.dedup_key},
            status=status.HTTP_202_ACCEPTED,
        )
