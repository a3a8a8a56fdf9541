"""Teams, services (everyone with a role reads, admins write) and an agent's connection test."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from core.choices import Role
from core.models import Service, Team
from core.permissions import IsIntegration
from core.services import connection_test_create

from .serializers import ServiceSerializer, TeamSerializer


class TeamViewSet(viewsets.ModelViewSet):
    queryset = Team.objects.all()
    serializer_class = TeamSerializer
    write_roles = {Role.ADMIN}
    filterset_fields = ["slug"]


class ServiceViewSet(viewsets.ModelViewSet):
    queryset = Service.objects.select_related("team").prefetch_related("depends_on")
    serializer_class = ServiceSerializer
    write_roles = {Role.ADMIN}
    filterset_fields = ["tier", "team__slug"]


class ConnectionTestView(APIView):
    """`POST /api/v1/integrations/test`: an agent checks its token and that a worker is listening."""

    permission_classes = [IsIntegration]

    @extend_schema(
        request=None,
        responses={
            202: inline_serializer(
                "ConnectionTestAccepted", {"id": serializers.IntegerField(), "integration": serializers.CharField()}
            )
        },
    )
    def post(self, request):
        test = connection_test_create(integration=request.auth)
        return Response({"id": test.pk, "integration": request.auth.name}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        responses={
            200: inline_serializer(
                "ConnectionTestStatus",
                {
                    "id": serializers.IntegerField(),
                    "processed": serializers.BooleanField(),
                    "processed_by": serializers.CharField(),
                },
            )
        }
    )
    def get(self, request):
        test = request.auth.connection_tests.first()
        if test is None:
            return Response({"detail": "No test event sent yet."}, status=status.HTTP_404_NOT_FOUND)
        return Response({"id": test.pk, "processed": test.processed_at is not None, "processed_by": test.processed_by})
