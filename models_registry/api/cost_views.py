"""Views of the cost API: the ledger (`/costs/`), FOCUS uploads (`/costs/imports/`) and the ROI report.

Everyone with a role reads costs; managers and admins write them (budgets are theirs to account for).
"""
from __future__ import annotations

from datetime import date

import django_filters
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.choices import Role
from core.exceptions import InvalidInput

from .. import selectors
from ..choices import CostCategory, CostSource
from ..models import CostEntry, CostImport
from ..reports import roi_report
from ..services.costs import CostImportInvalid, cost_entry_create, cost_owner_resolve, focus_import
from .cost_serializers import (
    CostEntryCreateSerializer,
    CostEntrySerializer,
    CostImportSerializer,
    CostImportUploadSerializer,
)

COST_WRITE_ROLES = {Role.MANAGER, Role.ADMIN}


class CostEntryFilter(django_filters.FilterSet):
    model = django_filters.CharFilter(field_name="model__name")
    service = django_filters.CharFilter(field_name="service__name")
    category = django_filters.ChoiceFilter(choices=CostCategory.choices)
    since = django_filters.IsoDateTimeFilter(field_name="period_end", lookup_expr="gt")
    until = django_filters.IsoDateTimeFilter(field_name="period_start", lookup_expr="lt")

    class Meta:
        model = CostEntry
        fields = ("model", "service", "category", "since", "until")


def _import_refused(exc: CostImportInvalid) -> Response:
    body = {"detail": exc.message, "code": exc.code, "field": exc.field, "errors": exc.errors}
    return Response(body, status=status.HTTP_400_BAD_REQUEST)


class CostEntryListCreateView(generics.ListCreateAPIView):
    """Ledger entries (`?model=&service=&category=&since=&until=`); POST adds one (managers, admins)."""

    serializer_class = CostEntrySerializer
    filterset_class = CostEntryFilter
    write_roles = COST_WRITE_ROLES

    def get_queryset(self):
        return CostEntry.objects.select_related("model", "service").order_by("-period_start", "-id")

    @extend_schema(request=CostEntryCreateSerializer, responses={201: CostEntrySerializer})
    def post(self, request, *args, **kwargs):
        data = request.data if isinstance(request.data, dict) else {}
        if not data:
            raise InvalidInput("The body must be a JSON object.", field="body")
        entry = cost_entry_create(
            owner=cost_owner_resolve(model=data.get("model"), service=data.get("service")),
            category=data.get("category", ""), period_start=data.get("period_start"),
            period_end=data.get("period_end"), amount=data.get("amount"), billed_amount=data.get("billed_amount"),
            currency_code=str(data.get("currency") or ""), source=CostSource.API,
            description=str(data.get("description") or ""),
        )
        return Response(CostEntrySerializer(entry).data, status=status.HTTP_201_CREATED)


class CostEntryDetailView(generics.RetrieveDestroyAPIView):
    """One entry; DELETE removes a wrong one (managers, admins)."""

    serializer_class = CostEntrySerializer
    write_roles = COST_WRITE_ROLES

    def get_queryset(self):
        return CostEntry.objects.select_related("model", "service")


class CostImportListCreateView(generics.ListAPIView):
    """FOCUS imports; POST a FOCUS CSV as `file` (multipart): all rows are stored, or none (400 lists them)."""

    serializer_class = CostImportSerializer
    write_roles = COST_WRITE_ROLES

    def get_queryset(self):
        return CostImport.objects.order_by("-created_at", "-id")

    @extend_schema(request={"multipart/form-data": CostImportUploadSerializer}, responses={201: CostImportSerializer})
    def post(self, request, *args, **kwargs):
        upload = request.FILES.get("file")
        if upload is None:
            raise InvalidInput("Upload the FOCUS CSV as the multipart field 'file'.", field="file")
        try:
            batch = focus_import(content=upload.read(), filename=upload.name or "upload.csv", user=request.user)
        except CostImportInvalid as exc:
            return _import_refused(exc)
        return Response(CostImportSerializer(batch).data, status=status.HTTP_201_CREATED)


def _date_param(request, name: str, default: date) -> date:
    text = request.query_params.get(name, "").strip()
    if not text:
        return default
    try:
        return date.fromisoformat(text if len(text) != 7 else f"{text}-01")
    except ValueError:
        raise InvalidInput(f"{name} must be a date (YYYY-MM-DD or YYYY-MM), not {text!r}.", field=name) from None


class RoiReportView(APIView):
    """`GET /api/v1/roi-report?start=YYYY-MM&end=YYYY-MM`: the monthly ROI report as JSON (end exclusive;
    without them, the twelve months up to the latest cost or prediction)."""

    @extend_schema(
        parameters=[OpenApiParameter("start", str, required=False), OpenApiParameter("end", str, required=False)],
        responses={200: dict},
    )
    def get(self, request):
        default_start, default_end = selectors.roi_default_period()
        report = roi_report(
            start=_date_param(request, "start", default_start), end=_date_param(request, "end", default_end)
        )
        return Response(report.as_dict())
