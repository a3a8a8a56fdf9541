"""Telemetry intake endpoints: the native batch API and OTLP/HTTP metrics (protobuf and JSON)."""
from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.parsers import BodyTooLarge, RawBodyParser, read_body
from core.api.throttles import IntegrationRateThrottle
from core.choices import IntegrationKind
from core.permissions import IsIntegration
from monitoring.formats.native import MAX_BATCH_POINTS, InvalidTelemetry
from monitoring.services import otlp as otlp_services
from monitoring.services import telemetry as telemetry_services

MAX_IDEMPOTENCY_KEY = 200  # TelemetryBatch.idempotency_key


def _invalid(exc: InvalidTelemetry) -> Response:
    return Response(
        {"detail": exc.message, "code": exc.code, "field": exc.field, "index": exc.index},
        status=status.HTTP_400_BAD_REQUEST,
    )


def _body(request) -> bytes:
    try:
        return read_body(request)
    except BodyTooLarge:
        raise InvalidTelemetry("the request body is larger than the server accepts", field="body") from None


class TelemetryView(APIView):
    """`POST /api/v1/telemetry`: a batch of up to 10,000 points, stored before it is answered."""

    permission_classes = [IsIntegration]
    # Agents that send metrics; alert-format tokens (alertmanager, grafana, pagerduty) do not.
    integration_kinds = {IntegrationKind.GENERIC, IntegrationKind.OTLP, IntegrationKind.MODEL}
    parser_classes = [RawBodyParser]
    throttle_classes = [IntegrationRateThrottle]

    @extend_schema(
        summary="Send a batch of metric points",
        description=(
            f'Body `{{"points": [{{"service", "metric", "labels", "timestamp", "value"}}, ...]}}`, at most '
            f"{MAX_BATCH_POINTS} points; `timestamp` is RFC 3339 with an offset or epoch seconds/milliseconds; "
            "optional per point: `kind` (system/model/business), `unit`. Any bad point rejects the whole batch "
            "with 400 naming its index and field; a point naming a service the token may not write to (its "
            "integration's default and extra services) rejects it with 403. A retried request with the same "
            "`Idempotency-Key` is answered like the first and stored once."
        ),
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=False)],
        request={
            "application/json": inline_serializer(
                "TelemetryBatchIn", {"points": serializers.ListField(child=serializers.DictField())}
            )
        },
        responses={
            202: inline_serializer(
                "TelemetryAccepted", {"batch_id": serializers.IntegerField(), "accepted": serializers.IntegerField()}
            )
        },
    )
    def post(self, request):
        try:
            if request.content_type.split(";")[0].strip().lower() != "application/json":
                raise InvalidTelemetry(
                    f"must be application/json, not {request.content_type or 'missing'!r}", field="Content-Type"
                )
            key = request.headers.get("Idempotency-Key", "").strip()
            if len(key) > MAX_IDEMPOTENCY_KEY:
                raise InvalidTelemetry(f"is longer than {MAX_IDEMPOTENCY_KEY} characters", field="Idempotency-Key")
            accepted = telemetry_services.telemetry_receive(
                integration=request.auth, body=_body(request), idempotency_key=key
            )
        except InvalidTelemetry as exc:
            return _invalid(exc)
        response = Response(
            {"batch_id": accepted.batch_id, "accepted": accepted.accepted}, status=status.HTTP_202_ACCEPTED
        )
        if accepted.replayed:
            response["Idempotent-Replayed"] = "true"
        return response


# OTLP/HTTP answers errors with a google.rpc.Status (in the request's encoding), not our error shape.
_OTLP_STATUS = inline_serializer("OtlpStatus", fields={
    "code": serializers.IntegerField(help_text="gRPC status code: 3 INVALID_ARGUMENT, 7 PERMISSION_DENIED"),
    "message": serializers.CharField(),
    "details": serializers.ListField(child=serializers.DictField(), required=False),
})


class OtlpMetricsView(APIView):
    """`POST /otlp/v1/metrics`: OTLP/HTTP metrics export (protobuf or JSON) from SDKs and the Collector."""

    permission_classes = [IsIntegration]
    integration_kinds = {IntegrationKind.OTLP, IntegrationKind.GENERIC}
    parser_classes = [RawBodyParser]
    throttle_classes = [IntegrationRateThrottle]

    def handle_exception(self, exc):
        # A refused token kind or service is answered as OTLP/HTTP answers errors: a
        # google.rpc.Status (7, PERMISSION_DENIED) in the request's encoding.
        if isinstance(exc, PermissionDenied):
            media = self.request.content_type.split(";")[0].strip().lower()
            body, content_type = otlp_services.otlp_error_body(message=str(exc.detail), media_type=media, code=7)
            return HttpResponse(body, status=403, content_type=content_type)
        return super().handle_exception(exc)

    @extend_schema(
        summary="OTLP/HTTP metrics export",
        description=(
            "`application/x-protobuf` (an ExportMetricsServiceRequest) or `application/json` (its protobuf JSON "
            "mapping). Gauges and sums become series (cumulative monotonic sums as per-second rates), histograms "
            "`<name>.count`, `<name>.sum` and `<name>.mean`. The resource attribute `service.name` names the "
            "service; without it the integration's default service is used; an unknown name is a 400, a "
            "service the token may not write to (not its default or extra services) a 403, nothing stored."
        ),
        request={"application/x-protobuf": bytes, "application/json": dict},
        responses={200: bytes, 400: _OTLP_STATUS, 403: _OTLP_STATUS},
    )
    def post(self, request):
        media = request.content_type.split(";")[0].strip().lower()
        try:
            if media not in otlp_services.MEDIA_TYPES:
                raise InvalidTelemetry(
                    f"must be application/x-protobuf or application/json, not {media or 'missing'!r}",
                    field="Content-Type",
                )
            result = otlp_services.otlp_metrics_receive(
                integration=request.auth, body=_body(request), media_type=media,
                content_encoding=request.headers.get("Content-Encoding", ""),
            )
        except InvalidTelemetry as exc:
            # OTLP/HTTP answers errors with a google.rpc.Status in the request's encoding.
            body, content_type = otlp_services.otlp_error_body(message=exc.message, media_type=media)
            return HttpResponse(body, status=400, content_type=content_type)
        return HttpResponse(result.body, status=200, content_type=result.content_type)
