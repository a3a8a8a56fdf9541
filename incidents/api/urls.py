"""Routes of the incidents API (mounted under /api/v1/)."""
from __future__ import annotations

from django.urls import path
from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("incidents", views.IncidentViewSet, basename="incident")
router.register("silences", views.SilenceViewSet, basename="silence")

urlpatterns: list = [
    path("signals/", views.SignalView.as_view(), name="signals"),
    *router.urls,
    # The response side: an incident's playbook and deliveries, my notifications.
    path("incidents/<int:incident_id>/playbook/", views.IncidentPlaybookView.as_view(), name="incident-playbook"),
    path("incidents/<int:incident_id>/playbook/steps/<int:step_id>/done/", views.PlaybookStepDoneView.as_view(),
         name="incident-playbook-step-done"),
    path("incidents/<int:incident_id>/playbook/steps/<int:step_id>/run/", views.PlaybookStepRunView.as_view(),
         name="incident-playbook-step-run"),
    # Issue 13: probable root cause and similar past incidents.
    path("incidents/<int:incident_id>/rootcause/", views.IncidentRootCauseView.as_view(), name="incident-rootcause"),
    path("incidents/<int:incident_id>/similar/", views.IncidentSimilarView.as_view(), name="incident-similar"),
    path("incidents/<int:incident_id>/deliveries/", views.IncidentDeliveryList.as_view(), name="incident-deliveries"),
    path("notifications/", views.MyNotificationList.as_view(), name="my-notifications"),
    path("notifications/read/", views.MyNotificationsRead.as_view(), name="my-notifications-read"),
    path("notifications/preferences/", views.MyNotificationPreferences.as_view(), name="my-notification-preferences"),
]
