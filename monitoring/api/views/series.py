"""Series, their points (downsampled server-side) and anomalies, for people with a read role."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.exceptions import InvalidInput
from monitoring.models import MetricSeries
from monitoring.selectors import series as series_selectors

from ..serializers import AnomalySerializer, MetricSeriesSerializer


def parse_time(raw: str | None, *, field: str, default: datetime) -> datetime:
    """RFC 3339 / ISO 8601 (naive means UTC) or epoch seconds/milliseconds."""
    if raw in (None, ""):
        return default
    try:
        number = float(raw)
    except ValueError:
        value = parse_datetime(raw.replace(" ", "+")) if raw else None  # '+' arrives as ' ' in a query string
        if value is None:
            raise InvalidInput(f"{raw!r} is not a time (RFC 3339 or epoch seconds)", field=field) from None
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if number > 1e11:
        number /= 1000.0
    return datetime.fromtimestamp(number, tz=UTC)


class MetricSeriesViewSet(viewsets.ReadOnlyModelViewSet):
    """`GET /api/v1/series/` with anomaly counts; `GET /api/v1/series/{id}/points/?from&to&step`."""

    serializer_class = MetricSeriesSerializer

    def get_queryset(self):
        params = self.request.query_params
        return series_selectors.series_list(
            service=params.get("service", ""), metric=params.get("metric", ""), kind=params.get("kind", "")
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("from", str, description="RFC 3339 or epoch seconds; default 24 h before `to`"),
            OpenApiParameter("to", str, description="RFC 3339 or epoch seconds; default now"),
            OpenApiParameter(
                "step", float, description="bucket width in seconds; default range/500, at most 2,000 buckets"
            ),
        ],
        responses={
            200: inline_serializer(
                "SeriesPoints",
                {
                    "series": serializers.IntegerField(),
                    "from": serializers.DateTimeField(),
                    "to": serializers.DateTimeField(),
                    "step": serializers.FloatField(),
                    "t": serializers.ListField(child=serializers.FloatField()),
                    "mean": serializers.ListField(child=serializers.FloatField()),
                    "min": serializers.ListField(child=serializers.FloatField()),
                    "max": serializers.ListField(child=serializers.FloatField()),
                    "count": serializers.ListField(child=serializers.IntegerField()),
                    "expected": serializers.ListField(child=serializers.FloatField(allow_null=True)),
                    "lower": serializers.ListField(child=serializers.FloatField(allow_null=True)),
                    "upper": serializers.ListField(child=serializers.FloatField(allow_null=True)),
                    "anomalies": AnomalySerializer(many=True),
                },
            )
        },
    )
    @action(detail=True, methods=["get"])
    def points(self, request, pk=None):
        series = get_object_or_404(MetricSeries.objects.select_related("service"), pk=pk)
        end = parse_time(request.query_params.get("to"), field="to", default=timezone.now())
        start = parse_time(request.query_params.get("from"), field="from", default=end - timedelta(hours=24))
        if start >= end:
            raise InvalidInput("`from` must be before `to`", field="from")
        try:
            step = float(request.query_params.get("step") or 0)
        except ValueError:
            raise InvalidInput("`step` must be a number of seconds", field="step") from None
        window = series_selectors.series_window(series=series, start=start, end=end, step=step)
        anomalies = series_selectors.anomaly_list(series_id=series.pk).filter(ts__gte=start, ts__lt=end)[:1000]
        return Response({
            "series": series.pk, "from": start, "to": end, "step": window.step, "t": window.t, "mean": window.mean,
            "min": window.min, "max": window.max, "count": window.count, "expected": window.expected,
            "lower": window.lower, "upper": window.upper, "raw_points": window.raw_points,
            "anomalies": AnomalySerializer(anomalies, many=True).data,
        })


class AnomalyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """`GET /api/v1/anomalies/?series=&service=&since=` newest first."""

    serializer_class = AnomalySerializer

    def get_queryset(self):
        params = self.request.query_params
        series = params.get("series")
        if series not in (None, "") and not series.isdigit():
            raise InvalidInput("`series` must be a series id", field="series")
        since = parse_time(params.get("since"), field="since", default=None) if params.get("since") else None
        return series_selectors.anomaly_list(
            series_id=int(series) if series else None, service=params.get("service", ""), since=since
        )
