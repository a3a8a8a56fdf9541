"""Alert endpoints for monitoring agents: Alertmanager and Grafana webhooks, PagerDuty Events v2.

Agents authenticate by token only (no session, so no CSRF): Alertmanager and Grafana with
`Authorization: Bearer <token>`, PagerDuty senders with the body's `routing_key`. The request is
stored before it is answered; processing happens on the ingest queue.
"""
from __future__ import annotations

from typing import ClassVar

from django.core.exceptions import RequestDataTooBig
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.parsers import BaseParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from core.authentication import IntegrationTokenAuthentication
from core.permissions import IsIntegration
from monitoring.choices import AlertIntakeKind
from monitoring.formats import IntakeInvalid
from monitoring.formats.base import MAX_BODY_BYTES
from monitoring.services import intake as intake_services


class _RawJSON(BaseParser):
    """Declares JSON for the schema; the views read the raw body (it is stored verbatim)."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        return {}


def read_body(request) -> bytes:
    """The raw body, refusing more than 1 MB before reading it when the length is declared."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_BODY_BYTES:
        raise IntakeInvalid([f"body is larger than 1 MB ({declared} bytes)"])
    try:
        return request.body
    except RequestDataTooBig:
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
    parser_classes = [_RawJSON]
    renderer_classes = [JSONRenderer]  # agents read JSON; skipping negotiation saves time per request
    kind: ClassVar[str]

    def post(self, request):
        try:
            receipt = intake_services.alert_intake_receive(
                integration=request.auth, kind=self.kind, raw=read_body(request), headers=request.headers
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
        "alertmanager integration token. Payload version \"4\" as Alertmanager sends it; each alert "
        "becomes a signal (fingerprint, labels, severity label, summary/description annotations). "
        "Re-sent notifications are stored once. 400 names every problem; nothing is stored."
    ),
    request={"application/json": OpenApiTypes.OBJECT},
    responses={202: AlertAccepted, 400: OpenApiResponse(description="Invalid payload"), 429: OpenApiResponse(description="Over the rate limit")},
)
class AlertmanagerWebhookView(_AlertWebhookView):
    kind = AlertIntakeKind.ALERTMANAGER
    integration_kinds = {AlertIntakeKind.ALERTMANAGER}


@extend_schema(
    summary="Grafana alerting webhook",
    description=(
        "A Grafana webhook contact point (payload version \"1\") with the Authorization header set to "
        "`Bearer <grafana integration token>`. When the integration has a secret, the HMAC signature "
        "header `X-Grafana-Alerting-Signature` (hex HMAC-SHA256 of the body, or of `<timestamp>:<body>` "
        "with a timestamp header) is required and checked."
    ),
    request={"application/json": OpenApiTypes.OBJECT},
    responses={202: AlertAccepted, 400: OpenApiResponse(description="Invalid payload"), 401: OpenApiResponse(description="Bad token or signature")},
)
class GrafanaWebhookView(_AlertWebhookView):
    kind = AlertIntakeKind.GRAFANA
    integration_kinds = {AlertIntakeKind.GRAFANA}


def _pagerduty_invalid(errors: list[str]) -> Response:
    return Response(
        {"status": "invalid event", "message": "Event object is invalid", "errors": errors},
        status=status.HTTP_400_BAD_REQUEST,
    )


@extend_schema(
    summary="PagerDuty Events API v2 (enqueue)",
    description=(
        "Drop-in for `https://events.pagerduty.com/v2/enqueue`: `routing_key` is a pagerduty integration "
        "token; `event_action` trigger/acknowledge/resolve; `dedup_key` generated and returned when a "
        "trigger has none. Answers like PagerDuty: 202 success, 400 invalid event, 429 throttled."
    ),
    request={"application/json": OpenApiTypes.OBJECT},
    responses={
        202: inline_serializer("PagerDutyAccepted", {"status": serializers.CharField(), "message": serializers.CharField(), "dedup_key": serializers.CharField()}),
        400: inline_serializer("PagerDutyInvalid", {"status": serializers.CharField(), "message": serializers.CharField(), "errors": serializers.ListField(child=serializers.CharField())}),
        429: OpenApiResponse(description="Throttled; see Retry-After"),
    },
)
class PagerDutyEnqueueView(APIView):
    # The credential is inside the body, so DRF authenticates nobody and the service checks it.
    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes = [_RawJSON]
    renderer_classes = [JSONRenderer]

    def post(self, request):
        try:
            receipt = intake_services.pagerduty_event_receive(raw=read_body(request))
        except IntakeInvalid as exc:
            return _pagerduty_invalid(exc.errors)
        except AuthenticationFailed as exc:
            # PagerDuty answers an unknown routing key with 400 (its Events API has no 401).
            return _pagerduty_invalid([f"Invalid routing key: {exc.detail}"])
        except Throttled as exc:
            response = Response(
                {"status": "throttle event",
                 "message": "Requests for this service are arriving too quickly. Please retry later."},
                status=status.HTTP_429_TOO_MANY_REQUESTS,
            )
            response["Retry-After"] = str(int(exc.wait or 1))
            return response
        return Response(
            {"status": "success", "message": "Event processed", "dedup_key": receipt.dedup_key},
            status=status.HTTP_202_ACCEPTED,
        )
