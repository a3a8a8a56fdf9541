"""Views of the monitors API: `GET /api/v1/monitors/` (results) and `POST /api/v1/monitors/runs/` (on demand)."""
from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response

from core.api.filters import UtcIsoDateTimeFilter

from .. import selectors
from ..choices import MonitorKind, MonitorRunState, MonitorStatus, MonitorTrigger
from ..models import MonitorResult, MonitorRun
from ..services import monitors as monitor_services
from .monitor_serializers import (
    MonitorResultSerializer,
    MonitorRunRequestSerializer,
    MonitorRunSerializer,
)


class MonitorResultFilter(django_filters.FilterSet):
    model = django_filters.CharFilter(field_name="model__name", help_text="Registered model name.")
    version = django_filters.NumberFilter(field_name="version__version", help_text="Version number.")
    kind = django_filters.ChoiceFilter(choices=MonitorKind.choices)
    status = django_filters.ChoiceFilter(choices=MonitorStatus.choices)
    since = UtcIsoDateTimeFilter(field_name="period_end", lookup_expr="gt")
    until = UtcIsoDateTimeFilter(field_name="period_end", lookup_expr="lte")

    class Meta:
        model = MonitorResult
        fields = ("model", "version", "kind", "status", "since", "until")


class MonitorRunFilter(django_filters.FilterSet):
    model = django_filters.CharFilter(field_name="model__name", help_text="Registered model name.")
    version = django_filters.NumberFilter(field_name="version__version", help_text="Version number.")
    state = django_filters.ChoiceFilter(choices=MonitorRunState.choices)
    status = django_filters.ChoiceFilter(choices=MonitorStatus.choices)

    class Meta:
        model = MonitorRun
        fields = ("model", "version", "state", "status")


class MonitorResultListView(generics.ListAPIView):
    """Monitor results, newest period first (`?model=&version=&kind=&status=&since=&until=`)."""

    serializer_class = MonitorResultSerializer
    filterset_class = MonitorResultFilter

    def get_queryset(self):
        return selectors.monitor_result_list()


class MonitorRunListCreateView(generics.ListCreateAPIView):
    """Monitor runs (`?model=&version=&state=&status=`); POST queues a run per serving version (202)."""

    serializer_class = MonitorRunSerializer
    filterset_class = MonitorRunFilter

    def get_queryset(self):
        return MonitorRun.objects.select_related("model", "version").order_by("-created_at", "-id")

    @extend_schema(request=MonitorRunRequestSerializer, responses={202: MonitorRunSerializer(many=True)})
    def post(self, request, *args, **kwargs):
        body = MonitorRunRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        model = selectors.model_get_by_name(name=body.validated_data["model"])
        runs = monitor_services.monitors_request(
            model=model,
            period_start=body.validated_data.get("period_start"),
            period_end=body.validated_data.get("period_end"),
            trigger=MonitorTrigger.API,
        )
        return Response(MonitorRunSerializer(runs, many=True).data, status=status.HTTP_202_ACCEPTED)


class MonitorRunDetailView(generics.RetrieveAPIView):
    serializer_class = MonitorRunSerializer

    def get_queryset(self):
        return MonitorRun.objects.select_related("model", "version")
