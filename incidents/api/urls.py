"""Routes of the incidents API (mounted under /api/v1/)."""
from __future__ import annotations

from django.urls import path
from rest_framework.routers import SimpleRouter

from . import learning, notifications, views

router = SimpleRouter()
router.register("incidents", views.IncidentViewSet, basename="incident")
router.register("silences", views.SilenceViewSet, basename="silence")

urlpatterns: list = [
    path("signals/", views.SignalView.as_view(), name="signals"),
    # Before the router: its incident detail route would take "changes" for an id.
    path("incidents/changes/", views.QueueChangesView.as_view(), name="incident-queue-changes"),
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
    path("incidents/<int:incident_id>/deliveries/", notifications.IncidentDeliveryList.as_view(),
         name="incident-deliveries"),
    path("notifications/", notifications.MyNotificationList.as_view(), name="my-notifications"),
    path("notifications/read/", notifications.MyNotificationsRead.as_view(), name="my-notifications-read"),
    path("notifications/preferences/", notifications.MyNotificationPreferences.as_view(),
         name="my-notification-preferences"),
    # Learning (issue 11): the review, its timeline marks and action items, incident cost.
    path("incidents/<int:incident_id>/review/", learning.IncidentReviewView.as_view(), name="incident-review"),
    path("incidents/<int:incident_id>/review/transition/", learning.IncidentReviewTransitionView.as_view(),
         name="incident-review-transition"),
    path("incidents/<int:incident_id>/review/timeline/<int:event_id>/", learning.IncidentReviewMarkView.as_view(),
         name="incident-review-mark"),
    path("incidents/<int:incident_id>/review/markdown/", learning.IncidentReviewMarkdownView.as_view(),
         name="incident-review-markdown"),
    path("incidents/<int:incident_id>/review/action-items/", learning.IncidentActionItemsView.as_view(),
         name="incident-action-items"),
    path("incidents/<int:incident_id>/cost/", learning.IncidentCostView.as_view(), name="incident-cost"),
    path("incidents/<int:incident_id>/cost/lines/", learning.IncidentCostLinesView.as_view(),
         name="incident-cost-lines"),
    path("reviews/", learning.ReviewListView.as_view(), name="review-list"),
    path("action-items/", learning.ActionItemListView.as_view(), name="action-item-list"),
    path("action-items/<int:pk>/", learning.ActionItemDetailView.as_view(), name="action-item-detail"),
]
