"""The reports as JSON (the same result the page and the CSV render)."""
from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from core.exceptions import DomainError, NotFound
from core.permissions import RolePermission

from .base import report_run, report_spec, report_specs


class ReportListView(APIView):
    permission_classes = [IsAuthenticated, RolePermission]

    @extend_schema(tags=["reports"], responses=OpenApiTypes.OBJECT, operation_id="reports_list")
    def get(self, request):
        return Response({"results": [
            {"name": s.name, "title": s.title, "description": s.description, "default_period": s.default_period,
             "emailed": s.emailed} for s in report_specs()]})


class ReportDetailView(APIView):
    permission_classes = [IsAuthenticated, RolePermission]

    @extend_schema(tags=["reports"], responses=OpenApiTypes.OBJECT, operation_id="reports_retrieve", parameters=[
        OpenApiParameter("period", str, description="2026-11, 2026-W48, 2026-11-05, 2026 or 2026-11-01..2026-11-30")])
    def get(self, request, name: str):
        try:
            report_spec(name)
        except DomainError:
            raise NotFound(f"No report named {name!r}.", field="name") from None
        return Response(report_run(name=name, period=request.query_params.get("period") or None).as_dict())
