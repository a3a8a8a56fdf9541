"""Views of the notifications API: an incident's deliveries and the signed-in person's in-app
notifications and channel preferences."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.choices import Role
from incidents import selectors
from incidents.models import Delivery, UserNotification
from incidents.services import notifications

from .serializers import (
    NOTIFICATIONS_READ,
    NOTIFICATIONS_READ_RESULT,
    DeliverySerializer,
    PreferenceSerializer,
    UserNotificationSerializer,
)
from .views import EVERYONE


class IncidentDeliveryList(generics.ListAPIView):
    """`GET /api/v1/incidents/{id}/deliveries/`: every notification of the incident and its state."""

    serializer_class = DeliverySerializer
    read_roles = {Role.OPERATOR, Role.MANAGER, Role.ADMIN}

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no incident
            return Delivery.objects.none()
        return selectors.incident_delivery_list(incident_id=self.kwargs["incident_id"])


class MyNotificationList(generics.ListAPIView):
    """`GET /api/v1/notifications/`: the signed-in person's in-app notifications, newest first."""

    serializer_class = UserNotificationSerializer
    read_roles = EVERYONE
    filterset_fields = ["kind", "level"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no person
            return UserNotification.objects.none()
        unread = self.request.query_params.get("unread") in ("1", "true")
        return selectors.user_notification_list(user=self.request.user, unread_only=unread)


class MyNotificationsRead(APIView):
    """`POST /api/v1/notifications/read/` (optional `ids`): mark my notifications read."""

    write_roles = EVERYONE

    @extend_schema(request=NOTIFICATIONS_READ, responses={200: NOTIFICATIONS_READ_RESULT})
    def post(self, request):
        ids = request.data.get("ids") if isinstance(request.data, dict) else None
        if ids is not None and (not isinstance(ids, list) or not all(isinstance(i, int) for i in ids)):
            return Response({"ids": ["A list of notification ids."]}, status=status.HTTP_400_BAD_REQUEST)
        marked = notifications.user_notifications_mark_read(user=request.user, ids=ids)
        return Response({"marked": marked})


class MyNotificationPreferences(APIView):
    """`GET/PUT /api/v1/notifications/preferences/`: the channels I am reached on."""

    read_roles = EVERYONE
    write_roles = EVERYONE

    @extend_schema(responses=PreferenceSerializer)
    def get(self, request):
        return Response({"channels": notifications.notification_preference_get(user=request.user).channels})

    @extend_schema(request=PreferenceSerializer, responses=PreferenceSerializer)
    def put(self, request):
        data = PreferenceSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        pref = notifications.notification_preference_set(user=request.user, channels=data.validated_data["channels"])
        return Response({"channels": pref.channels})
