"""API of the response side: an incident's playbook run and steps, a person's notifications, deliveries."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.choices import Role
from core.exceptions import NotFound
from incidents import selectors_response as selectors
from incidents.models import Delivery, PlaybookRun, PlaybookStepRun, UserNotification
from incidents.services import notifications, playbooks

EVERYONE = frozenset({Role.OPERATOR, Role.MANAGER, Role.EXECUTIVE, Role.ADMIN})


class PlaybookStepRunSerializer(serializers.ModelSerializer):
    done_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = PlaybookStepRun
        fields = ["id", "position", "phase", "title", "description", "kind", "owner_role", "expected_minutes",
                  "action_name", "params", "status", "attempts", "result", "error", "done_by", "started_at",
                  "finished_at"]


class PlaybookRunSerializer(serializers.ModelSerializer):
    steps = PlaybookStepRunSerializer(many=True, read_only=True)

    class Meta:
        model = PlaybookRun
        fields = ["id", "incident", "playbook", "playbook_name", "match_reason", "started_at", "completed_at", "steps"]


class StepDoneSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class UserNotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = UserNotification
        fields = ["id", "incident", "kind", "level", "title", "body", "url", "created_at", "read_at"]


class DeliverySerializer(serializers.ModelSerializer):
    recipient = serializers.SlugRelatedField(slug_field="username", read_only=True)
    endpoint = serializers.SlugRelatedField(slug_field="name", read_only=True)

    class Meta:
        model = Delivery
        fields = ["id", "kind", "channel", "recipient", "endpoint", "level", "step", "status", "attempts",
                  "last_error", "created_at", "first_claimed_at", "sent_at", "failed_at"]


class IncidentPlaybookView(APIView):
    """`GET /api/v1/incidents/{id}/playbook/`: the attached playbook run with its steps."""

    @extend_schema(responses=PlaybookRunSerializer)
    def get(self, request, incident_id: int):
        run = selectors.playbook_run_get(incident_id=incident_id)
        if run is None:
            raise NotFound(f"incident {incident_id} has no playbook attached", field="incident")
        return Response(PlaybookRunSerializer(run).data)


class PlaybookStepDoneView(APIView):
    """`POST .../playbook/steps/{step_id}/done/`: an operator ticks the step (timeline event)."""

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

    @extend_schema(
        request=inline_serializer("NotificationsRead", {"ids": serializers.ListField(child=serializers.IntegerField(), required=False)}),
        responses={200: inline_serializer("NotificationsReadResult", {"marked": serializers.IntegerField()})},
    )
    def post(self, request):
        ids = request.data.get("ids") if isinstance(request.data, dict) else None
        if ids is not None and (not isinstance(ids, list) or not all(isinstance(i, int) for i in ids)):
            return Response({"ids": ["A list of notification ids."]}, status=status.HTTP_400_BAD_REQUEST)
        marked = notifications.user_notifications_mark_read(user=request.user, ids=ids)
        return Response({"marked": marked})


class PreferenceSerializer(serializers.Serializer):
    channels = serializers.ListField(child=serializers.CharField(max_length=20), max_length=10)


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
