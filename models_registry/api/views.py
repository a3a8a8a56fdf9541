"""Views of the models_registry API: models, versions, training runs, gate decisions, predict and actuals."""
from __future__ import annotations

import orjson
from django.db.models import Prefetch
from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.parsers import OrjsonParser
from core.choices import IntegrationKind, Role
from core.exceptions import InvalidInput
from core.permissions import IsIntegrationOrOperator

from .. import selectors, services
from ..choices import TrainingTrigger
from ..models import ModelVersion, RegisteredModel
from .serializers import (
    ActualsRequestSerializer,
    GateDecisionSerializer,
    ModelVersionSerializer,
    PredictRequestSerializer,
    PredictResponseSerializer,
    RegisteredModelSerializer,
    RollbackSerializer,
    TrainingRunCreateSerializer,
    TrainingRunSerializer,
)


def _body_list(request, key: str):
    """The list under `key` of a JSON object body, passed unvalidated to the service (it names bad indexes)."""
    if not isinstance(request.data, dict) or key not in request.data:
        raise InvalidInput(f"body must be a JSON object with a {key!r} list", field=key)
    return request.data[key]


class RegisteredModelViewSet(viewsets.ReadOnlyModelViewSet):
    """Registered models (read by every role); nested versions, training runs, gate decisions and rollback."""

    serializer_class = RegisteredModelSerializer
    lookup_field = "name"
    lookup_value_regex = r"[-a-zA-Z0-9_]+"
    write_roles = {Role.OPERATOR, Role.ADMIN}
    filterset_fields = ["task"]

    def get_queryset(self):
        return RegisteredModel.objects.select_related("team", "service").prefetch_related(
            Prefetch("versions", queryset=ModelVersion.objects.exclude(alias=""))
        ).order_by("name")

    def get_object(self):
        # A 404 that names the model, through the domain error handler.
        return selectors.model_get_by_name(name=self.kwargs["name"])

    def _paged(self, queryset, serializer_class):
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(serializer_class(page, many=True).data)

    @extend_schema(responses=ModelVersionSerializer(many=True))
    @action(detail=True, methods=["get"], url_path="versions")
    def versions(self, request, name=None):
        return self._paged(selectors.version_list(model=self.get_object()), ModelVersionSerializer)

    @extend_schema(responses=GateDecisionSerializer(many=True))
    @action(detail=True, methods=["get"], url_path="gate-decisions")
    def gate_decisions(self, request, name=None):
        return self._paged(selectors.gate_decision_list(model=self.get_object()), GateDecisionSerializer)

    @extend_schema(
        request=TrainingRunCreateSerializer,
        responses={200: TrainingRunSerializer(many=True), 202: TrainingRunSerializer},
    )
    @action(detail=True, methods=["get", "post"], url_path="training-runs")
    def training_runs(self, request, name=None):
        model = self.get_object()
        if request.method == "GET":
            return self._paged(selectors.training_run_list(model=model), TrainingRunSerializer)
        data = TrainingRunCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        run = services.training_run_start(
            model=model, as_of=data.validated_data.get("as_of"), params=data.validated_data["params"],
            requested_by=request.user, trigger=TrainingTrigger.API,
        )
        return Response(TrainingRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=RollbackSerializer, responses=GateDecisionSerializer)
    @action(detail=True, methods=["post"], url_path="rollback")
    def rollback(self, request, name=None):
        data = RollbackSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        decision = services.model_rollback(
            model=self.get_object(), decided_by=request.user.get_username(), reason=data.validated_data["reason"]
        )
        return Response(GateDecisionSerializer(decision).data)


class TrainingRunListView(generics.ListAPIView):
    """Every model's training runs, newest first (`?model=<name>&status=<status>`)."""

    serializer_class = TrainingRunSerializer
    filterset_fields = {"model__name": ["exact"], "status": ["exact"]}

    def get_queryset(self):
        return selectors.training_run_list()


class TrainingRunDetailView(generics.RetrieveAPIView):
    serializer_class = TrainingRunSerializer

    def get_queryset(self):
        return selectors.training_run_list()


class PredictView(APIView):
    """`POST /api/v1/models/{name}/predict`: the champion's predictions for a batch of records, each logged."""

    permission_classes = [IsIntegrationOrOperator]
    integration_kinds = {IntegrationKind.MODEL, IntegrationKind.GENERIC}
    parser_classes = [OrjsonParser]

    @extend_schema(request=PredictRequestSerializer, responses=PredictResponseSerializer)
    def post(self, request, name: str):
        batch = services.predictions_serve(name=name, records=_body_list(request, "records"))
        body = {
            "model": batch.model,
            "version": batch.version,
            "latency_ms": round(batch.latency_ms, 3),
            "predictions": [
                {"request_id": rid, "prediction": value}
                for rid, value in zip(batch.request_ids, batch.predictions, strict=False)
            ],
        }
        # Rendered here with orjson: the response is always this JSON shape (errors go through DRF).
        return HttpResponse(orjson.dumps(body), content_type="application/json")


class ActualsView(APIView):
    """`POST /api/v1/models/{name}/actuals`: later-known outcomes by request id; unknown ids store nothing."""

    permission_classes = [IsIntegrationOrOperator]
    integration_kinds = {IntegrationKind.MODEL, IntegrationKind.GENERIC}

    @extend_schema(request=ActualsRequestSerializer, responses={200: None})
    def post(self, request, name: str):
        model = selectors.model_get_by_name(name=name)
        stored = services.actuals_attach(model=model, actuals=_body_list(request, "actuals"))
        return Response({"model": model.name, "stored": stored})
