"""Views of the incidents API: the queue and its actions, silences, a generic signal endpoint, an incident's
playbook run, root cause and similar incidents (deliveries and a person's notifications: `notifications`)."""
from __future__ import annotations

import dataclasses
from datetime import timedelta

from django.http import QueryDict
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from core.authentication import IntegrationPrincipal
from core.choices import IntegrationKind, Role
from core.exceptions import NotFound
from core.permissions import READ_ROLES, IsIntegrationOrOperator, integration_check_services
from incidents import selectors, services
from incidents.choices import SourceKind
from incidents.contracts import InvalidSignal, SignalIn, signal_normalise
from incidents.models import Incident
from incidents.services import playbooks
from incidents.services.rootcause import incident_rootcause
from incidents.services.severity import incident_override_severity
from incidents.services.similar import similar_incidents

from .serializers import (
    AssignSerializer,
    IncidentDetailSerializer,
    IncidentFilterSerializer,
    IncidentListSerializer,
    NoiseQuerySerializer,
    NoiseReportSerializer,
    NoteSerializer,
    PlaybookRunSerializer,
    PlaybookStepRunSerializer,
    QueueChangesSerializer,
    ResolveSerializer,
    SeverityOverrideSerializer,
    SignalResultSerializer,
    SignalSerializer,
    SilenceSerializer,
    StepDoneSerializer,
    TextSerializer,
)

FILTER_PARAMETERS = [
    OpenApiParameter("status", OpenApiTypes.STR, many=True, description="triggered, acknowledged, ... (repeatable)"),
    OpenApiParameter("severity", OpenApiTypes.INT, many=True, description="1-4 (repeatable)"),
    OpenApiParameter("service", OpenApiTypes.STR, description="Service name"),
    OpenApiParameter("team", OpenApiTypes.STR, description="Team slug or id"),
    OpenApiParameter("assignee", OpenApiTypes.STR, description="Username or id"),
    OpenApiParameter("since", OpenApiTypes.DATETIME, description="Opened at or after"),
]


def _filters(params: QueryDict) -> dict:
    data = {key: params.getlist(key) if key in ("status", "severity") else params.get(key)
            for key in ("status", "severity", "service", "team", "assignee", "since") if key in params}
    serializer = IncidentFilterSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    values = dict(serializer.validated_data)
    for key in ("status", "severity"):
        if key in values:
            values[key] = sorted(values[key])
    return values


@extend_schema(tags=["incidents"])
class IncidentViewSet(viewsets.ReadOnlyModelViewSet):
    """The incident queue (worst level first, then oldest) and the workflow actions on one incident.

    Operators and admins act; managers and executives read.
    """

    serializer_class = IncidentListSerializer

    def get_queryset(self):
        if self.action == "list":
            return selectors.incident_list(**_filters(self.request.query_params))
        return selectors.incident_list().prefetch_related("alerts__service", "alerts__grouping_rule", "timeline")

    def get_serializer_class(self):
        return IncidentListSerializer if self.action == "list" else IncidentDetailSerializer

    @extend_schema(parameters=FILTER_PARAMETERS)
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(parameters=[NoiseQuerySerializer],
                   responses=NoiseReportSerializer)
    @action(detail=False, methods=["get"])
    def noise(self, request):
        """Noise reduction (signals received vs incidents opened) per service and overall, with MTTA/MTTR."""
        query = NoiseQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        since = timezone.now() - timedelta(days=query.validated_data["days"])
        service = query.validated_data.get("service")
        report = selectors.noise_reduction_report(since=since, service=service)
        times = selectors.response_times(since=since, service=service)
        return Response(NoiseReportSerializer({
            "since": report.since, "until": report.until, "total": report.total, "rows": report.rows,
            "mtta_seconds": times.mtta.total_seconds() if times.mtta else None,
            "mttr_seconds": times.mttr.total_seconds() if times.mttr else None,
        }).data)

    def _detail(self, pk) -> Response:
        return Response(IncidentDetailSerializer(selectors.incident_get(pk=int(pk))).data)

    def _incident_id(self) -> int:
        return self.get_object().pk

    @extend_schema(request=None, responses=IncidentDetailSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        services.incident_acknowledge(incident=self._incident_id(), user=request.user)
        return self._detail(pk)

    @extend_schema(request=None, responses=IncidentDetailSerializer)
    @action(detail=True, methods=["post"])
    def investigate(self, request, pk=None):
        services.incident_investigate(incident=self._incident_id(), user=request.user)
        return self._detail(pk)

    @extend_schema(request=NoteSerializer, responses=IncidentDetailSerializer)
    @action(detail=True, methods=["post"])
    def mitigate(self, request, pk=None):
        body = NoteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.incident_mitigate(incident=self._incident_id(), user=request.user, note=body.validated_data["note"])
        return self._detail(pk)

    @extend_schema(request=AssignSerializer, responses=IncidentDetailSerializer)
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        body = AssignSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.incident_assign(incident=self._incident_id(), user=request.user,
                                 assignee=body.validated_data.get("assignee"), team=body.validated_data.get("team"))
        return self._detail(pk)

    @extend_schema(request=ResolveSerializer, responses=IncidentDetailSerializer)
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        body = ResolveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.incident_resolve(incident=self._incident_id(), user=request.user, note=body.validated_data["note"],
                                  open_steps=body.validated_data["open_steps"],
                                  skip_reason=body.validated_data["skip_reason"])
        return self._detail(pk)

    @extend_schema(request=NoteSerializer, responses=IncidentDetailSerializer)
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        body = NoteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.incident_reopen(incident=self._incident_id(), user=request.user, note=body.validated_data["note"])
        return self._detail(pk)

    @extend_schema(request=NoteSerializer, responses=IncidentDetailSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        body = NoteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.incident_close(incident=self._incident_id(), user=request.user, note=body.validated_data["note"])
        return self._detail(pk)

    @extend_schema(request=SeverityOverrideSerializer, responses=IncidentDetailSerializer)
    @action(detail=True, methods=["post"])
    def severity(self, request, pk=None):
        body = SeverityOverrideSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        incident_override_severity(incident=self._incident_id(), level=int(body.validated_data["severity"]),
                                   reason=body.validated_data["reason"], user=request.user)
        return self._detail(pk)

    @extend_schema(request=TextSerializer, responses=IncidentDetailSerializer)
    @action(detail=True, methods=["post"])
    def notes(self, request, pk=None):
        body = TextSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.incident_add_note(incident=self._incident_id(), user=request.user, text=body.validated_data["text"])
        return self._detail(pk)


@extend_schema(tags=["silences"])
class SilenceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                     viewsets.GenericViewSet):
    """Silences / maintenance windows. Matchers: {"label", "op" (=, !=, =~, !~), "value"}."""

    serializer_class = SilenceSerializer

    def get_queryset(self):
        return selectors.silence_list(active_only=self.request.query_params.get("active") in ("1", "true"))

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.silence_create(
            matchers=[dict(m) for m in data["matchers"]], starts_at=data.get("starts_at"), ends_at=data["ends_at"],
            comment=data["comment"], user=self.request.user,
        )


# Integration kinds map onto signal source kinds; OTLP telemetry arrives as generic signals.
SOURCE_KIND_FOR_INTEGRATION = {
    IntegrationKind.ALERTMANAGER: SourceKind.ALERTMANAGER,
    IntegrationKind.GRAFANA: SourceKind.GRAFANA,
    IntegrationKind.PAGERDUTY: SourceKind.PAGERDUTY,
    IntegrationKind.MODEL: SourceKind.MODEL,
}


@extend_schema(tags=["signals"])
class SignalView(APIView):
    """`POST /api/v1/signals/`: one generic signal from an integration token (or an operator).

    Tokens of the kinds made for it (generic, model) file under their integration's services
    only, and their fingerprints are theirs alone (another token cannot resolve by them).
    """

    permission_classes = [IsIntegrationOrOperator]
    integration_kinds = {IntegrationKind.GENERIC, IntegrationKind.MODEL}

    @extend_schema(request=SignalSerializer, responses={202: SignalResultSerializer})
    def post(self, request):
        body = SignalSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        if isinstance(request.user, IntegrationPrincipal):
            integration = request.auth
            source_kind = SOURCE_KIND_FOR_INTEGRATION.get(integration.kind, SourceKind.GENERIC)
            source_name = integration.name
            service = data.get("service") or (integration.service.name if integration.service_id else "")
        else:
            source_kind = data["source_kind"]
            source_name = data["source_name"] or request.user.get_username()
            service = data.get("service", "")
        if not service:
            raise ValidationError({"service": ["A signal needs the name of the service it is about."]})
        signal = SignalIn(
            source_kind=source_kind, source_name=source_name, service=service, title=data["title"],
            description=data["description"], fingerprint=data["fingerprint"], labels=data["labels"],
            severity_hint=data["severity"], status=data["status"], occurred_at=data["occurred_at"],
            payload=data["payload"], links=[dict(link) for link in data["links"]], kpis=data["kpis"],
        )
        try:
            if isinstance(request.user, IntegrationPrincipal):
                integration_check_services(integration=request.auth, services=[service])
                # The core derives a missing fingerprint; either way it is scoped to the token.
                fingerprint = signal_normalise(signal).fingerprint
                signal = dataclasses.replace(signal, fingerprint=request.auth.scoped_fingerprint(fingerprint))
            result = services.signal_ingest(signal=signal)
        except InvalidSignal as exc:
            raise ValidationError({exc.field or "non_field_errors": [exc.message]}) from exc
        body = SignalResultSerializer({"alert_id": result.alert_id, "incident_id": result.incident_id,
                                       "outcome": result.outcome}).data
        return Response(body, status=status.HTTP_202_ACCEPTED)


# The response side: everyone signed in reads and marks their own notifications.
EVERYONE = frozenset({Role.OPERATOR, Role.MANAGER, Role.EXECUTIVE, Role.ADMIN})


class IncidentPlaybookView(APIView):
    """`GET /api/v1/incidents/{id}/playbook/`: the attached playbook run with its steps."""

    @extend_schema(responses=PlaybookRunSerializer)
    def get(self, request, incident_id: int):
        run = selectors.playbook_run_get(incident_id=incident_id)
        if run is None:
            raise NotFound(f"incident {incident_id} has no playbook attached", field="incident")
        return Response(PlaybookRunSerializer(run).data)


class PlaybookStepDoneView(APIView):
    """`POST .../playbook/steps/{step_id}/done/`: tick the step (timeline event). Operators and admins tick any
    step; a manager or executive the steps owned by their role (the service answers 403 otherwise)."""

    write_roles = READ_ROLES

    @extend_schema(request=StepDoneSerializer, responses=PlaybookStepRunSerializer)
    def post(self, request, incident_id: int, step_id: int):
        data = StepDoneSerializer(data=request.data or {})
        data.is_valid(raise_exception=True)
        step = playbooks.playbook_step_complete(incident_id=incident_id, step_run_id=step_id, user=request.user,
                                                note=data.validated_data["note"])
        return Response(PlaybookStepRunSerializer(step).data)


class PlaybookStepRunView(APIView):
    """`POST .../playbook/steps/{step_id}/run/`: queue an automated step (again); 202, the result lands on the step."""

    @extend_schema(request=None, responses={202: PlaybookStepRunSerializer})
    def post(self, request, incident_id: int, step_id: int):
        step = playbooks.playbook_step_request_run(incident_id=incident_id, step_run_id=step_id, user=request.user)
        return Response(PlaybookStepRunSerializer(step).data, status=status.HTTP_202_ACCEPTED)


class QueueChangesView(APIView):
    """`GET /api/v1/incidents/changes/?since=<cursor>`: what changed in the queue since the last poll.

    The console polls this every few seconds (short polling, not server-sent events: a poll holds no
    worker between answers, passes every proxy, and costs two indexed reads); the cursor is the
    last timeline event id, since every change to an incident writes one.
    """

    read_roles = READ_ROLES

    @extend_schema(parameters=[OpenApiParameter("since", OpenApiTypes.INT, description="Cursor of the last poll")],
                   responses=QueueChangesSerializer)
    def get(self, request):
        raw = request.query_params.get("since", "")
        if raw and not raw.isdigit():
            raise ValidationError({"since": "A cursor is a whole number (the previous answer's `cursor`)."})
        result = selectors.queue_changes(since=int(raw) if raw else None)
        return Response(QueueChangesSerializer(dataclasses.asdict(result)).data)
class IncidentRootCauseView(APIView):
    """`GET /api/v1/incidents/{id}/rootcause/`: probable root-cause services with their evidence (issue 13).

    Computed on read, cached until an alert joins; `basis` says whether telemetry, alerts or only the
    dependency graph was available.
    """

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, incident_id: int):
        return Response(incident_rootcause(incident=_incident_or_404(incident_id)))


class IncidentSimilarView(APIView):
    """`GET /api/v1/incidents/{id}/similar/`: the most similar resolved incidents, what resolved them, and the
    playbook to suggest (issue 13)."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, incident_id: int):
        return Response(similar_incidents(incident=_incident_or_404(incident_id)))


def _incident_or_404(incident_id: int):
    try:
        return selectors.incident_get(pk=incident_id)
    except Incident.DoesNotExist as exc:
        raise NotFound(f"No incident {incident_id}.", field="incident") from exc
