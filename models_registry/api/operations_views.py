"""Model-operations API (issue #14): batch scoring jobs, the at-risk list, shadow challengers, weekly report."""
from __future__ import annotations

import csv
import io
from datetime import date

from django.conf import settings
from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from core.choices import IntegrationKind
from core.exceptions import InvalidInput, NotFound
from core.permissions import IsIntegrationOrOperator

from .. import selectors
from ..models import BatchScoringJob
from ..services import at_risk as at_risk_services
from ..services import batch as batch_services
from ..services import batch_results
from ..services import shadow as shadow_services
from ..services import weekly_report as weekly_services
from .operations_serializers import (
    AtRiskEntrySerializer,
    BatchJobCreateSerializer,
    BatchJobSerializer,
    HandledSerializer,
    ShadowSetSerializer,
)
from .views import _body_list


class ModelBatchJobsView(generics.ListAPIView):
    """`GET` a model's batch jobs; `POST` a CSV/Parquet file (multipart `file`) or `{"source": "open_journeys"}`."""

    serializer_class = BatchJobSerializer
    parser_classes = [MultiPartParser, JSONParser]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no model in the URL
            return BatchScoringJob.objects.none()
        return selectors.batch_job_list(model=selectors.model_get_by_name(name=self.kwargs["name"]))

    @extend_schema(request=BatchJobCreateSerializer, responses={202: BatchJobSerializer})
    def post(self, request, name: str):
        model = selectors.model_get_by_name(name=name)
        data = BatchJobCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = request.user if request.user.is_authenticated else None
        if data.validated_data["source"] == "open_journeys":
            job = batch_services.batch_job_create_open_journeys(
                model=model, as_of=data.validated_data.get("as_of"), requested_by=user
            )
        else:
            upload = data.validated_data.get("file")
            if upload is None:
                raise InvalidInput("send the file to score as multipart field 'file'", field="file")
            job = batch_services.batch_job_create_from_upload(
                model=model, upload=upload, filename=upload.name or "", size=upload.size or 0, requested_by=user
            )
        job.refresh_from_db()
        return Response(BatchJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class BatchJobDetailView(generics.RetrieveAPIView):
    """Poll a batch job: status, progress, bad rows by row number, error, result link."""

    serializer_class = BatchJobSerializer

    def get_queryset(self):
        return selectors.batch_job_list()


class BatchJobResultView(APIView):
    """Download a succeeded job's result set (`?type=csv|parquet`); 409 while it is not complete."""

    @extend_schema(parameters=[OpenApiParameter("type", str, enum=["csv", "parquet"])], responses={200: None})
    def get(self, request, pk: int):
        job = BatchScoringJob.objects.filter(pk=pk).first()
        if job is None:
            raise NotFound(f"no batch job {pk}", field="pk")
        fmt = request.query_params.get("type", "csv")  # not `format`: DRF reads that for content negotiation
        if fmt not in ("csv", "parquet"):
            raise InvalidInput("type must be csv or parquet", field="type")
        path = batch_results.batch_result_path(job=job)
        if fmt == "parquet":
            return FileResponse(open(path, "rb"), as_attachment=True, filename=f"batch-job-{job.pk}.parquet")
        response = StreamingHttpResponse(batch_results.batch_result_csv_chunks(job=job), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="batch-job-{job.pk}.csv"'
        return response


def _parse_day(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"date {value!r} is not YYYY-MM-DD", field="date") from None


AT_RISK_CSV_COLUMNS = ["rank", "journey_key", "origin", "carrier", "dest", "scheduled_departure", "stuck_probability",
                       "forecast_minutes", "forecast_low", "forecast_high", "top_features", "model_version",
                       "scored_at", "is_new", "handled_by", "handled_at"]


def at_risk_csv(rows) -> HttpResponse:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(AT_RISK_CSV_COLUMNS)
    for item in AtRiskEntrySerializer(rows, many=True).data:
        item["top_features"] = "; ".join(f"{f['feature']}={f['value']}" for f in item["top_features"])
        writer.writerow([item.get(column) for column in AT_RISK_CSV_COLUMNS])
    response = HttpResponse(out.getvalue(), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="at-risk.csv"'
    return response


class AtRiskListView(APIView):
    """The latest at-risk list by rank (`?origin=&carrier=&date=&new=1&hide_handled=1&limit=&export=csv`)."""

    @extend_schema(responses=AtRiskEntrySerializer(many=True))
    def get(self, request):
        job = selectors.at_risk_latest_job(model_name=settings.AT_RISK_MODEL)
        if job is None:
            raise NotFound("no at-risk list has been scored yet", field="at_risk")
        params = request.query_params
        try:
            limit = int(params["limit"]) if params.get("limit") else None
        except ValueError:
            raise InvalidInput("limit must be a whole number", field="limit") from None
        rows = selectors.at_risk_rows(
            job=job, origin=params.get("origin", ""), carrier=params.get("carrier", ""),
            day=_parse_day(params.get("date")), only_new=params.get("new") == "1",
            hide_handled=params.get("hide_handled") == "1", limit=limit,
        )
        if params.get("export") == "csv":
            return at_risk_csv(rows)
        return Response({"job": job.pk, "as_of": job.as_of, "model": job.model.name,
                         "version": job.version.version if job.version else None, "count": len(rows),
                         "results": AtRiskEntrySerializer(rows, many=True).data})


class AtRiskHandledView(APIView):
    """Mark a journey handled (or not): who and when are recorded and carried over to later lists."""

    @extend_schema(request=HandledSerializer, responses={200: None})
    def post(self, request):
        data = HandledSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        mark = at_risk_services.journey_handle(
            journey_key=data.validated_data["journey_key"], user=request.user, note=data.validated_data["note"],
            handled=data.validated_data["handled"],
        )
        return Response({"journey_key": data.validated_data["journey_key"], "handled": mark is not None,
                         "handled_by": request.user.get_username() if mark else None,
                         "handled_at": mark.handled_at if mark else None})


class AtRiskActualsView(APIView):
    """Outcomes of listed journeys by key (1 stuck / 0 not): the list's precision monitor reads them."""

    permission_classes = [IsIntegrationOrOperator]
    integration_kinds = {IntegrationKind.MODEL, IntegrationKind.GENERIC}

    @extend_schema(request=None, responses={200: None})
    def post(self, request):
        stored = at_risk_services.at_risk_actuals_attach(actuals=_body_list(request, "actuals"))
        return Response({"stored": stored})


def _comparison_body(comparison) -> dict:
    return {
        "shadow": comparison.shadow.version if comparison.shadow else None,
        "champion": comparison.champion.version if comparison.champion else None,
        "logged": comparison.logged, "compared": comparison.compared,
        "champion_metrics": comparison.champion_metrics, "shadow_metrics": comparison.shadow_metrics,
    }


class ModelShadowView(APIView):
    """`GET` the live champion-vs-shadow comparison; `POST {"version": n}` puts a version in shadow (null: stop)."""

    @extend_schema(responses={200: None})
    def get(self, request, name: str):
        model = selectors.model_get_by_name(name=name)
        return Response(_comparison_body(shadow_services.shadow_comparison(model=model)))

    @extend_schema(request=ShadowSetSerializer, responses={200: None})
    def post(self, request, name: str):
        model = selectors.model_get_by_name(name=name)
        data = ShadowSetSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        number = data.validated_data["version"]
        version = None
        if number is not None:
            version = selectors.version_get(model=model, number=number)
            if version is None:
                raise NotFound(f"model {name!r} has no version {number}", field="version")
        shadow_services.shadow_set(model=model, version=version)
        return Response(_comparison_body(shadow_services.shadow_comparison(model=model)))


class ModelShadowDecideView(APIView):
    """Gate the shadow version on its offline holdout and the live comparison; promote or reject it."""

    @extend_schema(request=None, responses={200: None})
    def post(self, request, name: str):
        model = selectors.model_get_by_name(name=name)
        decision = shadow_services.shadow_gate(model=model, decided_by=request.user.get_username())
        return Response({"decision": decision.decision, "version": decision.challenger.version,
                         "reasons": decision.reasons, "metrics": decision.metrics})


class WeeklyModelReportView(APIView):
    """The weekly model report for `?week=YYYY-MM-DD` (any day of the week; default: the last complete one)."""

    @extend_schema(parameters=[OpenApiParameter("week", str)], responses={200: None})
    def get(self, request):
        day = _parse_day(request.query_params.get("week")) or weekly_services.latest_reportable_week()
        return Response(weekly_services.weekly_report_build(week_start=day).as_dict())
