"""Routes of the incidents API (mounted under /api/v1/)."""
from __future__ import annotations

from django.urls import path
from rest_framework.routers import SimpleRouter

from . import response
from .views import IncidentViewSet, SignalView, SilenceViewSet

# Incident core: queue, actions, silences, generic signals.
router = SimpleRouter()
router.register("incidents", IncidentViewSet, basename="incident")
router.register("silences", SilenceViewSet, basename="silence")

urlpatterns: list = [
    path("signals/", SignalView.as_view(), name="signals"),
    *router.urls,
]
# Response side (playbooks, notifications): notify-eng.
urlpatterns += [
    path("incidents/<int:incident_id>/playbook/", response.IncidentPlaybookView.as_view(), name="incident-playbook"),
    path("incidents/<int:incident_id>/playbook/steps/<int:step_id>/done/", response.PlaybookStepDoneView.as_view(),
         name="incident-playbook-step-done"),
    path("incidents/<int:incident_id>/playbook/steps/<int:step_id>/run/", response.PlaybookStepRunView.as_view(),
         name="incident-playbook-step-run"),
    path("incidents/<int:incident_id>/deliveries/", response.IncidentDeliveryList.as_view(), name="incident-deliveries"),
    path("notifications/", response.MyNotificationList.as_view(), name="my-notifications"),
    path("notifications/read/", response.MyNotificationsRead.as_view(), name="my-notifications-read"),
    path("notifications/preferences/", response.MyNotificationPreferences.as_view(), name="my-notification-preferences"),
]
